"""Who hosts this mailbox? By domain first, then (with network) by the domain's MX hosts.

`lookup` is the plain, typed entry point that discovery and check reuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from diag.providers.compare import Comparison, compare
from diag.providers.database import ProviderDatabase
from diag.providers.query import Query, parse_query
from diag.providers.schema import Provider, Server

if TYPE_CHECKING:  # dnspython loads only when MX records are looked up
    from diag.net.dns import Resolver


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
