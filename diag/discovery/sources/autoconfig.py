"""Thunderbird-style autoconfig: the domain's own files, then the ISPDB if configured.

HTTPS first (autoconfig.DOMAIN and DOMAIN/.well-known); plain HTTP only when both fail,
and flagged: a configuration fetched without TLS can be forged on the way.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from diag.discovery.model import SourceResult
from diag.discovery.sources import Context, admit, candidates_from_provider
from diag.errors import BadInput
from diag.net.http import Credentials, HttpError, fetch, redact
from diag.providers.autoconfig import read


def urls(ctx: Context) -> dict[str, str]:
    query = f"?emailaddress={quote(ctx.address, safe='@')}" if ctx.address else ""
    return {
        "autoconfig": f"https://autoconfig.{ctx.domain}/mail/config-v1.1.xml{query}",
        "autoconfig-wellknown": f"https://{ctx.domain}/.well-known/autoconfig/mail/config-v1.1.xml",
        "autoconfig-http": f"http://autoconfig.{ctx.domain}/mail/config-v1.1.xml{query}",
    }


async def from_autoconfig(ctx: Context) -> list[SourceResult]:
    locations = urls(ctx)
    unresolved: dict[str, SourceResult] = {}  # host -> the result its failed lookup gave
    secure = await asyncio.gather(
        _one(ctx, "autoconfig", locations["autoconfig"], unresolved=unresolved),
        _one(ctx, "autoconfig-wellknown", locations["autoconfig-wellknown"]),
    )
    if any(r.status == "found" for r in secure):
        return list(secure)
    http = locations["autoconfig-http"]
    failed = unresolved.get(f"autoconfig.{ctx.domain}")
    if failed is not None:  # the same name: DNS would say the same, after another wait
        return [*secure, SourceResult("autoconfig-http", http, failed.status, failed.detail)]
    fallback = await _one(ctx, "autoconfig-http", http)
    fallback.insecure = fallback.status == "found"
    return [*secure, fallback]


async def from_ispdb(ctx: Context) -> SourceResult:
    if not ctx.ispdb_url:
        return SourceResult("ispdb", "", "skipped", "no --ispdb-url given")
    url = f"{ctx.ispdb_url.rstrip('/')}/{ctx.domain}"
    return await _one(ctx, "ispdb", url, ctx.ispdb_credentials)


async def _one(
    ctx: Context,
    source: str,
    url: str,
    credentials: Credentials | None = None,
    *,
    unresolved: dict[str, SourceResult] | None = None,
) -> SourceResult:
    shown = redact(url)
    try:
        response = await fetch(
            url,
            resolver=ctx.resolver,
            timeout=ctx.timeout,
            ca_file=ctx.ca_file,
            credentials=credentials,
        )
    except HttpError as exc:
        result = SourceResult(source, shown, "not_found" if exc.no_server else "error", str(exc))
        if exc.unresolved and unresolved is not None:
            unresolved[exc.unresolved] = result
        return result
    except BadInput as exc:
        return SourceResult(source, shown, "error", str(exc))
    if response.status == 404 or response.status == 410:
        return SourceResult(source, shown, "not_found", f"HTTP {response.status}")
    if response.status != 200:
        return SourceResult(source, shown, "error", f"HTTP {response.status}")
    rejected: list[str] = []
    try:
        providers = read(response.body, response.url, rejected=rejected)
    except BadInput as exc:
        return SourceResult(source, response.url, "error", str(exc), rejected=rejected)
    candidates = [c for p in providers for c in candidates_from_provider(p, ctx.domain)]
    detail = f"redirected to {response.url}" if response.redirects else ""
    result = SourceResult(
        source, response.url, "found", detail, insecure=not response.secure, rejected=rejected
    )
    return admit(result, candidates)
