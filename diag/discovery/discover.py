"""Run every discovery source at once and keep what each one said."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from diag.discovery.model import PUBLISHED, Candidate, DiscoveryReport, SourceResult
from diag.discovery.sources import Context
from diag.discovery.sources.autoconfig import from_autoconfig, from_ispdb
from diag.discovery.sources.autodiscover import from_autodiscover
from diag.discovery.sources.guess import guess
from diag.discovery.sources.provider_db import from_database
from diag.discovery.sources.srv import from_srv
from diag.net.connection import elapsed_ms
from diag.net.dns import Nameserver, Resolver, make_resolver, mx_hosts
from diag.providers.lookup import parse_query

if TYPE_CHECKING:
    from diag.providers.database import ProviderDatabase

Results = TypeVar("Results", SourceResult, list[SourceResult])


@dataclass(frozen=True)
class DiscoveryOptions:
    timeout: float = 10.0
    ca_file: Path | None = None
    nameserver: Nameserver | None = None
    ispdb_url: str | None = None
    providers_dirs: tuple[Path, ...] = field(default_factory=tuple)
    guess: bool = True


async def discover(
    text: str,
    options: DiscoveryOptions,
    database: ProviderDatabase | None = None,
    resolver: Resolver | None = None,
    on_found: Callable[[list[Candidate]], None] | None = None,
) -> DiscoveryReport:
    """Ask every source at once. `on_found` sees each source's candidates as soon as that
    source answers, so a caller can start probing before the slowest source is done."""
    from diag.providers.database import load

    clock = time.perf_counter()
    query = parse_query(text)
    # Parsed before any source starts: CPU-bound (~15 ms), it would only delay their
    # replies later, and a thread would fight the event loop for the GIL (measured).
    database = database or load(list(options.providers_dirs))
    resolver = resolver or make_resolver(options.nameserver, options.timeout)
    ctx = Context(
        query.domain, query.address, resolver, options.timeout, options.ca_file, options.ispdb_url
    )

    def announce(results: Results) -> Results:
        for result in results if isinstance(results, list) else [results]:
            if on_found is not None and result.candidates:
                on_found(result.candidates)
        return results

    async def announced(source: Awaitable[Results]) -> Results:
        return announce(await source)

    mx_task = asyncio.ensure_future(mx_hosts(resolver, query.domain))
    network = asyncio.gather(
        announced(from_autoconfig(ctx)),
        announced(from_ispdb(ctx)),
        announced(from_autodiscover(ctx)),
        announced(from_srv(ctx)),
    )
    mx = await mx_task
    database_result, provider = from_database(ctx, database, mx.hosts)
    announce(database_result)
    autoconfig, ispdb, autodiscover, srv = await network
    sources: list[SourceResult] = [database_result, *autoconfig, ispdb, *autodiscover, *srv]

    published = {c.protocol for r in sources if r.source in PUBLISHED for c in r.candidates}
    missing = [p for p in ("imap", "pop3", "smtp") if p not in published]
    if options.guess and mx.answered:
        sources.append(announce(await guess(ctx, missing, mx.hosts)))
    return DiscoveryReport(
        text=text,
        domain=query.domain,
        address=query.address,
        sources=sources,
        mx_hosts=mx.hosts,
        mx_error=mx.error,
        mx_kind=mx.kind,
        mx_null=mx.null,
        provider_id=provider.id if provider else None,
        provider_name=provider.name if provider else None,
        provider_via="mx"
        if provider and query.domain not in provider.domains
        else ("domain" if provider else None),
        dns_reachable=mx.answered,
        elapsed_ms=elapsed_ms(clock),
    )
