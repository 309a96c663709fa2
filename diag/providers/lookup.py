"""Who hosts this mailbox? By domain first, then (with network) by the domain's MX hosts.

`lookup` is the plain, typed entry point that discovery and check reuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from diag.errors import BadInput
from diag.net.names import normalize_host
from diag.providers.compare import Comparison, compare
from diag.providers.database import ProviderDatabase
from diag.providers.schema import Provider, Server

if TYPE_CHECKING:  # dnspython loads only when MX records are looked up
    from diag.net.dns import Resolver


@dataclass(frozen=True)
class Query:
    text: str
    domain: str  # A-label, lower case
    address: str | None = None  # local@domain (A-label domain) when an address was given


@dataclass
class ProviderMatch:
    query: Query
    provider: Provider | None
    via: str | None = None  # "domain" or "mx"
    mx_hosts: list[str] = field(default_factory=list)
    mx_error: str | None = None
    mx_checked: bool = False
    mx_host: str | None = None  # the MX host the provider was recognised by
    mx_how: str | None = None  # "pattern *.x" or "name x" (MX host minus a label, base domain)
    comparisons: list[Comparison] = field(default_factory=list)  # other layers, same domain
    mx_kind: str | None = None  # the DNS failure kind ("nxdomain", "timeout", ...)

    @property
    def domain_missing(self) -> bool:
        """DNS answered that the domain does not exist."""
        return self.mx_kind == "nxdomain"

    def username(self, server: Server) -> str | None:
        return server.username_for(self.query.address)


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


def lookup_offline(query: Query, database: ProviderDatabase) -> ProviderMatch:
    found = database.candidates(query.domain)
    if not found:
        return ProviderMatch(query, None)
    rivals = [compare(found[0], other) for other in found[1:] if other.layer != found[0].layer]
    return ProviderMatch(query, found[0], "domain", comparisons=rivals)


async def lookup(
    text: str, database: ProviderDatabase, resolver: Resolver | None = None
) -> ProviderMatch:
    """By domain; if unknown and a resolver is given, by the domain's MX hosts."""
    query = parse_query(text)
    match = lookup_offline(query, database)
    if match.provider is not None or resolver is None:
        return match
    from diag.net.dns import mx_hosts

    match.mx_checked = True
    mx = await mx_hosts(resolver, query.domain)
    match.mx_hosts, match.mx_error, match.mx_kind = mx.hosts, mx.error, mx.kind
    for host in mx.hosts:
        found = database.by_mx_host(host)
        if found is not None:
            match.provider, match.via = found.provider, "mx"
            match.mx_host, match.mx_how = found.host, found.how
            break
    return match
