"""Numbers written by strangers: ASCII digits only, and not too many of them.

`str.isdigit()` and `int()` accept Unicode digits ("²", "٣") and signs, and `int()` on
thousands of digits is slow or refused; a port, a status code or a length on the wire
is none of that.
"""

from __future__ import annotations

MAX_DIGITS = 18  # more digits than any real length, port or status
_DECIMAL = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def ascii_number(text: str, *, base: int = 10, limit: int = MAX_DIGITS) -> int | None:
    """A non-negative integer in ASCII digits (hex when base=16), or None."""
    digits = _HEX if base == 16 else _DECIMAL
    if not text or len(text) > limit or any(c not in digits for c in text):
        return None
    return int(text, base)


def port_number(text: str) -> int | None:
    """A TCP port, 1-65535, written in ASCII digits; None otherwise."""
    port = ascii_number(text.strip(), limit=5)
    return port if port is not None and 0 < port < 65536 else None
