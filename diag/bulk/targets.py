"""Input lines to targets: streamed, validated, sharded by a stable hash.

One target per line: a domain or an address (check mode), or a host with an optional
`:PORT` (probe mode). Blank lines and `#` comments are skipped; a JSON object with a
`target` field is accepted too. A line that is not a valid target becomes an error
record in the output: it never stops the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from diag.errors import BadInput

MAX_LINE = 1024  # longer lines are refused (and only this much is kept in the record)


@dataclass(frozen=True)
class Target:
    text: str  # the target as written (the `target` field of the record)
    error: str | None = None  # why it is not a valid target
    host: str | None = None  # probe mode: the host name or address
    port: int | None = None  # probe mode: the port after `:`, if any


def target_text(line: str) -> str | None:
    """The target named by one input line; None for blank lines and comments."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        value = data.get("target") if isinstance(data, dict) else None
        return value.strip() if isinstance(value, str) and value.strip() else text
    return text


def parse(text: str, *, probe: bool) -> Target:
    """Validate one target; the error is a one-line message, never an exception."""
    if len(text) > MAX_LINE:
        return Target(text[:MAX_LINE], f"line longer than {MAX_LINE} characters")
    if text.startswith("{"):
        return Target(text, "a JSON line needs a non-empty string field `target`")
    try:
        if probe:
            host, port = split_host_port(text)
            return Target(text, host=host, port=port)
        from diag.providers.query import parse_query

        parse_query(text)
    except BadInput as exc:
        return Target(text, str(exc))
    return Target(text)


def split_host_port(text: str) -> tuple[str, int | None]:
    """`host`, `host:PORT`, `IPv4:PORT`, `[IPv6]:PORT` or a bare IPv6 address."""
    from diag.net.names import validate_target

    host, port_text = text, ""
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise BadInput(f"invalid target {text!r}: expected [IPv6]:PORT")
        host, port_text = inner, rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    port = None
    if port_text or text.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BadInput(f"invalid port in {text!r}")
        port = int(port_text)
    return validate_target(host), port


def shard_of(text: str, count: int) -> int:
    """Stable across runs, machines and Python versions (unlike hash())."""
    digest = hashlib.sha256(text.strip().lower().encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` with 0 <= K < N (K as in a Kubernetes indexed Job's completion index)."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or int(count) < 1:
        raise BadInput(f"--shard {text!r}: expected K/N, e.g. 0/4")
    if int(index) >= int(count):
        raise BadInput(f"--shard {text!r}: K must be between 0 and N-1")
    return int(index), int(count)


def select(
    lines: Iterable[str],
    *,
    shard: tuple[int, int] | None = None,
    done: set[bytes] | None = None,
) -> Iterator[str]:
    """The targets to scan, in input order: this shard's, minus those already done."""
    for line in lines:
        text = target_text(line)
        if text is None:
            continue
        if shard is not None and shard_of(text, shard[1]) != shard[0]:
            continue
        if done is not None and digest(text) in done:
            continue
        yield text


def digest(text: str) -> bytes:
    """What --resume remembers of a finished target: 8 bytes, not the whole line."""
    return hashlib.blake2b(text[:MAX_LINE].encode("utf-8", "replace"), digest_size=8).digest()
