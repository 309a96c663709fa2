"""DNS SRV records for mail clients: RFC 6186 (_imap, _pop3, _submission) and RFC 8314
(_imaps, _pop3s, _submissions). A target of "." says the service is not offered."""

from __future__ import annotations

import asyncio

from diag.discovery.model import Candidate, SourceResult
from diag.discovery.sources import Context, admit
from diag.model import Security
from diag.net.dns import LookupFailed, query

SERVICES = {
    "_imaps._tcp": ("imap", Security.TLS),
    "_imap._tcp": ("imap", Security.STARTTLS),
    "_pop3s._tcp": ("pop3", Security.TLS),
    "_pop3._tcp": ("pop3", Security.STARTTLS),
    "_submissions._tcp": ("smtp", Security.TLS),
    "_submission._tcp": ("smtp", Security.STARTTLS),
}


async def from_srv(ctx: Context) -> list[SourceResult]:
    answers = await asyncio.gather(*(_lookup(ctx, label) for label in SERVICES))
    return [r for r in answers if r.status != "not_found"] or [
        SourceResult("srv", f"_*._tcp.{ctx.domain}", "not_found", "no mail SRV records")
    ]


async def _lookup(ctx: Context, label: str) -> SourceResult:
    protocol, security = SERVICES[label]
    name = f"{label}.{ctx.domain}"
    try:
        records = await query(ctx.resolver, name, "SRV")
    except LookupFailed as exc:
        if exc.kind == "nxdomain":
            return SourceResult("srv", name, "not_found")
        return SourceResult("srv", name, "error", str(exc))
    if not records:
        return SourceResult("srv", name, "not_found")
    ordered = sorted(records, key=lambda r: (r.priority, -r.weight))  # RFC 2782 order
    if len(ordered) == 1 and str(ordered[0].target) == ".":
        return SourceResult("srv", name, "found", 'target ".": not offered (RFC 2782)')
    named = [r for r in ordered if str(r.target) != "."]
    result = admit(
        SourceResult("srv", name, "found"),
        [Candidate(protocol, str(r.target).rstrip("."), r.port, security) for r in named],
    )
    records = {}
    for r in named:
        records.setdefault((str(r.target).rstrip(".").lower(), r.port), r)
    shown = []
    for c in result.candidates:
        r = records.get((c.host, c.port))
        where = f" (priority {r.priority}, weight {r.weight})" if r else ""
        shown.append(f"{c.host}:{c.port}{where}")
    result.detail = ", ".join(shown) + (f" and {result.ignored} more" if result.ignored else "")
    if not result.candidates:
        result.status = "error"
        result.detail = "no usable target"
    return result
