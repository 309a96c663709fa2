"""What the user typed: an address or a bare domain, checked and normalised.

Apart from the database (lookup.py), so a command that only needs to understand its
argument (check, before its first DNS query) does not load the provider entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.errors import BadInput
from diag.net.names import normalize_host


@dataclass(frozen=True)
class Query:
    text: str
    domain: str  # A-label, lower case
    address: str | None = None  # local@domain (A-label domain) when an address was given


# RFC 5322 specials and space may not appear in an unquoted local part; with controls
# (not printable), that also refuses the typo "jane@@example.com".
_SPECIALS = frozenset(' <>(),;:@"[]\\')


def parse_query(text: str) -> Query:
    """An address (user@domain) or a bare domain; IDN domains become A-labels."""
    raw = text.strip()
    if raw.lower().startswith("mailto:"):
        raw = raw[7:]
    if not raw:
        raise BadInput("empty address or domain")
    if "@" in raw:
        local, _, domain = raw.rpartition("@")
        if not local or not domain:
            raise BadInput(f"invalid address {text!r}: expected name@domain")
        if len(local) > 64 or any(not c.isprintable() or c in _SPECIALS for c in local):
            raise BadInput(f"invalid address {text!r}: bad local part")
        name = normalize_host(domain)
        return Query(text=text, domain=name, address=f"{local}@{name}")
    return Query(text=text, domain=normalize_host(raw))
