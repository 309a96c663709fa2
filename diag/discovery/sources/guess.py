"""Guessing, as careful clients do when nothing is published for a protocol.

Only host names that resolve are tried, implicit TLS first, and the total is capped,
so a guess never turns into a port scan.
"""

from __future__ import annotations

import asyncio

from diag.discovery.model import Candidate, SourceResult
from diag.discovery.sources import Context
from diag.model import Security
from diag.net.dns import resolve_addresses

MAX_GUESSES = 24
PORTS = {
    "imap": ((993, Security.TLS), (143, Security.STARTTLS)),
    "pop3": ((995, Security.TLS), (110, Security.STARTTLS)),
    "smtp": ((465, Security.TLS), (587, Security.STARTTLS)),
}
PREFIXES = {
    "imap": ("imap.", "mail.", ""),
    "pop3": ("pop.", "pop3.", "mail.", ""),
    "smtp": ("smtp.", "mail.", ""),
}


async def guess(ctx: Context, protocols: list[str], mx_hosts: list[str]) -> SourceResult:
    if not protocols:
        return SourceResult("guess", ctx.domain, "skipped", "every protocol is published")
    hosts_by_protocol = {
        p: [f"{prefix}{ctx.domain}" for prefix in PREFIXES[p]] + mx_hosts[:1] for p in protocols
    }
    names = sorted({h for hosts in hosts_by_protocol.values() for h in hosts})
    answers = await asyncio.gather(*(resolve_addresses(ctx.resolver, n) for n in names))
    resolvable = {n for n, a in zip(names, answers, strict=True) if a.addresses}
    candidates: list[Candidate] = []
    for protocol in protocols:
        for host in dict.fromkeys(hosts_by_protocol[protocol]):
            if host in resolvable:
                candidates += [
                    Candidate(protocol, host, port, sec) for port, sec in PORTS[protocol]
                ]
    candidates = candidates[:MAX_GUESSES]
    detail = f"{len(candidates)} guesses on {', '.join(sorted(resolvable)) or 'no resolvable host'}"
    return SourceResult(
        "guess", ctx.domain, "found" if candidates else "not_found", detail, candidates=candidates
    )
