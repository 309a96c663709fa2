"""Outside text made safe to show: the one sanitiser between the world and every view.

Servers, DNS, HTTP, certificates, provider files and file names can hold any character.
A terminal obeys some of them: ESC and C1 controls set titles, clear screens and make
hyperlinks; CR and newline forge output lines; NUL hides the rest of a name; bidi
overrides and isolates reorder what is shown (Trojan Source). Every such character is
shown as a visible escape (`\\x1b`, `\\u202e`) instead, so the user sees that it was there.

Views receive their data through `sanitized` (all strings of a report cleaned at once,
before any layout, so column widths stay right); JSON output goes through `json_text`.
The console (diag/render/console.py) escapes again, as a safety net, whatever a view
might still pass raw. Stdlib only: the CLI's error path imports it cheaply.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

# Bidi embeddings, overrides, isolates and marks; line/paragraph separators (some
# terminals break lines on them); lone surrogates (undecodable file-name bytes).
_INVISIBLE = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except tab and newline, DEL, C1
# What a terminal must never receive raw from outside text (newline forges lines).
UNSAFE = re.compile(f"[\n{_CONTROLS}{_INVISIBLE}]")
# The same, minus newline: rich's rendered output ends its own lines with it.
UNSAFE_IN_LINE = re.compile(f"[{_CONTROLS}{_INVISIBLE}]")
# What json.dumps(ensure_ascii=False) leaves raw (it already escapes C0 itself).
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_INVISIBLE}]")

T = TypeVar("T")


def escape_match(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object) -> str:
    """The text with every control, bidi and separator character visibly escaped."""
    return UNSAFE.sub(escape_match, text if isinstance(text, str) else str(text))


def is_clean(text: str) -> bool:
    return UNSAFE.search(text) is None


def json_text(text: str) -> str:
    """JSON text (from json.dumps) with C1, DEL, bidi and separators as \\uXXXX escapes.

    These characters only occur inside JSON strings, so the data is unchanged for a
    JSON reader; readable non-ASCII (accents, CJK) stays as it is.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def clean_tree(value: T, _memo: dict[int, Any] | None = None) -> T:
    """A copy of a result (dataclasses, lists, tuples, dicts) with every string cleaned.

    Enums, numbers and other objects are kept as they are; the originals are not changed.
    """
    memo = {} if _memo is None else _memo
    key = id(value)
    if key in memo:
        return memo[key]
    out: Any
    if isinstance(value, Enum):
        out = value
    elif isinstance(value, str):
        out = clean(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = copy.copy(value)
        memo[key] = out
        for f in dataclasses.fields(value):
            object.__setattr__(out, f.name, clean_tree(getattr(value, f.name), memo))
    elif isinstance(value, list):
        out = [clean_tree(v, memo) for v in value]
    elif isinstance(value, tuple) and not hasattr(value, "_fields"):
        out = tuple(clean_tree(v, memo) for v in value)
    elif isinstance(value, dict):
        out = {clean_tree(k, memo): clean_tree(v, memo) for k, v in value.items()}
    else:
        out = value
    memo[key] = out
    return out


def sanitized(view: Callable[..., T]) -> Callable[..., T]:
    """Decorate a view: every argument reaches it with its strings cleaned."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        memo: dict[int, Any] = {}
        return view(
            *(clean_tree(a, memo) for a in args),
            **{k: clean_tree(v, memo) for k, v in kwargs.items()},
        )

    wrapper.sanitized = True  # type: ignore[attr-defined]
    return wrapper
