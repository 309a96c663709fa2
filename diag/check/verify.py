"""Probe candidates as they are discovered, through one bounded pool of connections.

Each host is resolved once, whatever the number of its candidates; each candidate is
probed once, whichever sources name it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from diag.check.model import Checked
from diag.discovery.model import Candidate, Merged
from diag.model import DnsResult, ServiceResult, ServiceSpec
from diag.net.dns import Resolver, resolve_addresses
from diag.probe import ProbeOptions, probe_services
from diag.progress import Counter, Progress, silent

if TYPE_CHECKING:
    from diag.tls.trust import TrustStore

MAX_CONNECTIONS = 16  # services probed at once (each opens up to 3 connections)
MAX_SERVERS_PER_CHECK = 30  # distinct servers probed in one check; the rest are skipped


class ProbeCache(Protocol):
    """Shares probe results between checks (the bulk scanner's): `key` names the service
    (addresses, port, SNI name, protocol, security); `probe` runs it when not known yet."""

    async def service(
        self, key: tuple, probe: Callable[[], Awaitable[ServiceResult]]
    ) -> ServiceResult: ...


class Verifier:
    def __init__(
        self,
        options: ProbeOptions,
        resolver: Resolver,
        store: Callable[[], TrustStore],
        progress: Progress = silent,
        cache: ProbeCache | None = None,
    ) -> None:
        self._options = options
        self._counter = Counter(progress, "probing")
        self._resolver = resolver
        self._store = store
        self._cache = cache
        self._limiter = asyncio.Semaphore(MAX_CONNECTIONS)
        self._hosts: dict[str, asyncio.Task[DnsResult]] = {}
        self._probes: dict[tuple, asyncio.Task[tuple[ServiceResult, bool]]] = {}
        self.skipped: set[tuple] = set()  # over MAX_SERVERS_PER_CHECK: not probed

    def start(self, candidates: list[Candidate]) -> None:
        """Schedule probes now; callable from discovery's on_found hook."""
        for candidate in candidates:
            key = (*candidate.key, candidate.security)
            if key in self._probes:
                continue
            if len(self._probes) >= MAX_SERVERS_PER_CHECK:
                self.skipped.add(key)
                continue
            self._counter.add()
            self._probes[key] = asyncio.ensure_future(self._probe(candidate))

    async def results(self, merged: list[Merged]) -> list[Checked]:
        self.start([m.candidate for m in merged])
        out = []
        for entry in merged:
            c = entry.candidate
            task = self._probes.get((*c.key, c.security))
            if task is None:  # over the cap: listed, not probed
                out.append(Checked(entry, None))
                continue
            result, definite = await task
            out.append(Checked(entry, result, definite))
        return out

    def cancel(self) -> None:
        for task in [*self._probes.values(), *self._hosts.values()]:
            task.cancel()

    async def _probe(self, candidate: Candidate) -> tuple[ServiceResult, bool]:
        try:
            return await self._probe_one(candidate)
        finally:
            self._counter.finish()

    async def _probe_one(self, candidate: Candidate) -> tuple[ServiceResult, bool]:
        host = candidate.host
        if host not in self._hosts:
            self._hosts[host] = asyncio.ensure_future(resolve_addresses(self._resolver, host))
        dns_result = await self._hosts[host]
        spec = ServiceSpec(candidate.protocol, candidate.port, candidate.security)

        async def probe() -> ServiceResult:
            report = await probe_services(
                host,
                [spec],
                self._options,
                explicit=True,
                store=self._store,
                resolver=self._resolver,
                limiter=self._limiter,
                dns_result=dns_result,
            )
            return report.services[0]

        if self._cache is None or not dns_result.addresses:
            return await probe(), dns_result.answered
        sni = None if dns_result.is_literal else host
        key = (tuple(dns_result.addresses), spec.port, sni, spec.protocol, spec.security)
        return await self._cache.service(key, probe), dns_result.answered
