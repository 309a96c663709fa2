"""The provider database, by domain and then by the domain's MX hosts."""

from __future__ import annotations

from diag.discovery.model import SourceResult
from diag.discovery.sources import Context, candidates_from_provider
from diag.providers.database import ProviderDatabase
from diag.providers.schema import Provider


def from_database(
    ctx: Context, database: ProviderDatabase, mx_hosts: list[str]
) -> tuple[SourceResult, Provider | None]:
    provider, mx_host = database.match(ctx.domain, mx_hosts)
    via = f"MX host {mx_host}" if mx_host else f"domain {ctx.domain}"
    if provider is None:
        return SourceResult("provider-db", ctx.domain, "not_found"), None
    result = SourceResult(
        "provider-db",
        ctx.domain,
        "found",
        f"{provider.name} (by {via})",
        candidates=candidates_from_provider(provider, ctx.domain),
    )
    return result, provider
