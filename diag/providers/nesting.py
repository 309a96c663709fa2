"""How deeply a TOML text nests its arrays and inline tables, without parsing it.

tomllib parses nested arrays by recursion: a file of 120,000 `[` raises RecursionError
(and a deep enough one could crash the interpreter). Entries nest three levels at most,
so the loader refuses anything deeper before parsing. One linear pass; strings and
comments are skipped, so brackets inside them do not count.
"""

from __future__ import annotations

MAX_NESTING = 20


def nesting_depth(text: str) -> int:
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return 0  # cannot be deeper than the limit: skip the scan (every shipped entry)
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i = _string_end(text, i + len(quote), quote)
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
            i += 1
        else:
            if c in "]}":
                depth = max(depth - 1, 0)
            i += 1
    return deepest


def _string_end(text: str, start: int, quote: str) -> int:
    """Index just after the string's closing quote (basic strings honour backslashes)."""
    i = start
    while True:
        end = text.find(quote, i)
        if end < 0:
            return len(text)
        backslashes = 0
        while quote[0] == '"' and end - backslashes > start and text[end - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return end + len(quote)
        i = end + 1
