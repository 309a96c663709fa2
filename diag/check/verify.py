"""Probe every candidate, host by host, through one bounded pool of connections."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from diag.check.model import Checked
from diag.discovery.model import Merged
from diag.model import ServiceSpec
from diag.probe import ProbeOptions, probe_services

MAX_CONNECTIONS = 16


async def verify(merged: list[Merged], options: ProbeOptions, resolver, store) -> list[Checked]:
    limiter = asyncio.Semaphore(MAX_CONNECTIONS)
    by_host: dict[str, list[Merged]] = defaultdict(list)
    for entry in merged:
        by_host[entry.candidate.host].append(entry)

    async def one_host(host: str, entries: list[Merged]) -> list[Checked]:
        specs = [
            ServiceSpec(e.candidate.protocol, e.candidate.port, e.candidate.security)
            for e in entries
        ]
        report = await probe_services(
            host, specs, options, explicit=True, store=store, resolver=resolver, limiter=limiter
        )
        definite = report.dns.answered
        return [Checked(e, r, definite) for e, r in zip(entries, report.services, strict=True)]

    results = await asyncio.gather(*(one_host(h, e) for h, e in by_host.items()))
    order = {id(e): i for i, e in enumerate(merged)}
    return sorted((c for group in results for c in group), key=lambda c: order[id(c.merged)])
