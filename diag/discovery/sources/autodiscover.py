"""Microsoft Autodiscover (POX): POST to the domain, to autodiscover.DOMAIN, and to the
host named by the _autodiscover._tcp SRV record."""

from __future__ import annotations

import asyncio

from diag.discovery.model import SourceResult
from diag.discovery.pox import parse_response, request_body
from diag.discovery.sources import Context, admit
from diag.errors import BadInput
from diag.net.dns import LookupFailed, query
from diag.net.http import HttpError, fetch

PATH = "/autodiscover/autodiscover.xml"


async def from_autodiscover(ctx: Context) -> list[SourceResult]:
    """The two fixed URLs are asked while the SRV lookup travels, not after it: with a
    slow or silent DNS server, waiting would double the source's time."""
    targets = [f"https://{ctx.domain}{PATH}", f"https://autodiscover.{ctx.domain}{PATH}"]
    fixed = asyncio.gather(*(_post(ctx, url) for url in targets))
    try:
        srv = await _srv_target(ctx)
        extra = [await _post(ctx, srv)] if srv and srv not in targets else []
        return [*await fixed, *extra]
    except BaseException:
        fixed.cancel()
        raise


async def _srv_target(ctx: Context) -> str | None:
    try:
        records = await query(ctx.resolver, f"_autodiscover._tcp.{ctx.domain}", "SRV")
    except LookupFailed:
        return None
    for record in sorted(records, key=lambda r: (r.priority, -r.weight)):
        target = str(record.target).rstrip(".")
        if target:
            port = "" if record.port == 443 else f":{record.port}"
            return f"https://{target.lower()}{port}{PATH}"
    return None


async def _post(ctx: Context, url: str) -> SourceResult:
    address = ctx.address or f"postmaster@{ctx.domain}"
    try:
        response = await fetch(
            url,
            resolver=ctx.resolver,
            timeout=ctx.timeout,
            ca_file=ctx.ca_file,
            method="POST",
            body=request_body(address),
            content_type="text/xml; charset=utf-8",
        )
    except HttpError as exc:
        status = "not_found" if exc.no_server else "error"
        return SourceResult("autodiscover", url, status, str(exc))
    except BadInput as exc:
        return SourceResult("autodiscover", url, "error", str(exc))
    if response.status in (401, 403, 404, 405, 410):
        return SourceResult("autodiscover", url, "not_found", f"HTTP {response.status}")
    if response.status != 200:
        return SourceResult("autodiscover", url, "error", f"HTTP {response.status}")
    rejected: list[str] = []
    try:
        candidates = parse_response(response.body, response.url, rejected)
    except BadInput as exc:
        return SourceResult("autodiscover", response.url, "error", str(exc))
    result = admit(
        SourceResult(
            "autodiscover", response.url, "found", insecure=not response.secure, rejected=rejected
        ),
        candidates,
    )
    if not result.candidates:
        result.status = "error" if result.rejected else "not_found"
        result.detail = "no usable IMAP, POP3 or SMTP entry"
        if not result.rejected:
            result.detail = "no IMAP, POP3 or SMTP entries"
    return result
