"""A probe target as typed: HOST, HOST:PORT, an IPv6 literal, or [IPv6]:PORT."""

from __future__ import annotations

from diag.errors import BadInput


def split_host_port(text: str) -> tuple[str, int | None]:
    """(host, port or None). A bare IPv6 literal has colons but no port; a port after an
    IPv6 address needs the brackets, as in URLs."""
    candidate = text.strip()
    if candidate.startswith("["):
        host, bracket, rest = candidate[1:].partition("]")
        if not bracket:
            raise BadInput(f"invalid host {text!r}: missing ']'")
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise BadInput(f"invalid host {text!r}: expected [IPv6]:PORT")
        return host, _port(rest[1:], text)
    if candidate.count(":") == 1:
        host, _, port = candidate.partition(":")
        return host, _port(port, text)
    return candidate, None


def _port(value: str, text: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 5:
        raise BadInput(f"invalid port in {text!r}: {value!r}")
    port = int(value)
    if not 0 < port < 65536:
        raise BadInput(f"invalid port in {text!r}: {port}")
    return port
