"""Run every discovery source at once and keep what each one said."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from diag.discovery.model import (
    PUBLISHED,
    Candidate,
    DiscoveryOptions,
    DiscoveryReport,
    SourceResult,
)
from diag.net.connection import elapsed_ms
from diag.net.dns import MxResult, Resolver, make_resolver, mx_hosts
from diag.progress import Counter, Event, Progress, silent
from diag.providers.query import parse_query

if TYPE_CHECKING:
    from diag.providers.database import ProviderDatabase

__all__ = ["DiscoveryOptions", "discover", "head_start"]

Results = TypeVar("Results", SourceResult, list[SourceResult])


async def head_start() -> None:
    """Let tasks just scheduled send their first packets before CPU-bound work
    (imports, parsing) holds the event loop: the replies travel meanwhile."""
    for _ in range(3):
        await asyncio.sleep(0)


async def discover(
    text: str,
    options: DiscoveryOptions,
    database: ProviderDatabase | None = None,
    resolver: Resolver | None = None,
    on_found: Callable[[list[Candidate]], None] | None = None,
    mx_task: asyncio.Future[MxResult] | None = None,
    progress: Progress = silent,
) -> DiscoveryReport:
    """Ask every source at once. `on_found` sees each source's candidates as soon as that
    source answers, so a caller can start probing before the slowest source is done.
    `mx_task` is the domain's MX lookup when the caller already started it."""
    clock = time.perf_counter()
    query = parse_query(text)
    resolver = resolver or make_resolver(options.nameserver, options.timeout)
    if mx_task is None:
        progress(Event("resolving", query.domain))
        mx_task = asyncio.ensure_future(mx_hosts(resolver, query.domain))
        await head_start()
    # Imported and parsed while the MX query travels: CPU-bound (~15 ms for the
    # database), they would only delay the sources' replies later, and a thread would
    # fight the event loop for the GIL (measured).
    from diag.discovery.sources import Context
    from diag.discovery.sources.autoconfig import from_autoconfig, from_ispdb
    from diag.discovery.sources.autodiscover import from_autodiscover
    from diag.discovery.sources.guess import guess
    from diag.discovery.sources.provider_db import from_database
    from diag.discovery.sources.srv import from_srv
    from diag.providers.database import load
    from diag.providers.requirements import requirement_messages

    database = database or load(list(options.providers_dirs))
    ctx = Context(
        query.domain,
        query.address,
        resolver,
        options.timeout,
        options.ca_file,
        options.ispdb_url,
        options.ispdb_credentials,
    )

    def announce(results: Results) -> Results:
        for result in results if isinstance(results, list) else [results]:
            if on_found is not None and result.candidates:
                on_found(result.candidates)
        return results

    fetching = Counter(progress, "fetching", query.domain)
    fetching.add(3 + bool(options.ispdb_url))  # autoconfig, Autodiscover, SRV (+ ISPDB)

    async def announced(
        source: Awaitable[Results], name: str, many: bool, counted: bool = True
    ) -> Results:
        try:
            try:
                results = await source
            except Exception as exc:  # one broken source never aborts the others
                failed = SourceResult(name, query.domain, "error", _unexpected(exc))
                results = [failed] if many else failed
            return announce(results)
        finally:
            if counted:
                fetching.finish()

    network = asyncio.gather(
        announced(from_autoconfig(ctx), "autoconfig", many=True),
        announced(from_ispdb(ctx), "ispdb", many=False, counted=bool(options.ispdb_url)),
        announced(from_autodiscover(ctx), "autodiscover", many=True),
        announced(from_srv(ctx), "srv", many=True),
    )
    mx = await mx_task
    database_result, provider = from_database(ctx, database, mx.hosts)
    announce(database_result)
    autoconfig, ispdb, autodiscover, srv = await network
    sources: list[SourceResult] = [database_result, *autoconfig, ispdb, *autodiscover, *srv]

    published = {c.protocol for r in sources if r.source in PUBLISHED for c in r.candidates}
    missing = [p for p in ("imap", "pop3", "smtp") if p not in published]
    if options.guess and mx.answered:
        try:
            guessed = await guess(ctx, missing, mx.hosts)
        except Exception as exc:  # as for the other sources: the check goes on
            guessed = SourceResult("guess", query.domain, "error", _unexpected(exc))
        sources.append(announce(guessed))
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
        provider_layer=provider.layer if provider else None,
        provider_source=provider.display_source() if provider else None,
        provider_requirements=requirement_messages(provider) if provider else [],
        provider_name=provider.name if provider else None,
        provider_via="mx"
        if provider and query.domain not in provider.domains
        else ("domain" if provider else None),
        dns_reachable=mx.answered,
        elapsed_ms=elapsed_ms(clock),
    )


def _unexpected(exc: Exception) -> str:
    """One line for a source that failed in a way its own checks did not foresee."""
    text = " ".join(str(exc).split())[:200]
    return f"could not be read ({type(exc).__name__}{': ' + text if text else ''})"
