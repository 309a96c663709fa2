"""Are an entry's published servers still right? Probe each one as the entry describes it.

Every server of every entry is probed once with the probe engine (diag.probe) and
judged on what stale data looks like: a host that no longer resolves, a port that no
longer answers, the wrong security (the entry says SSL/TLS but the port speaks STARTTLS,
or the other way round), a certificate that does not name the published host.
Concurrency is bounded twice: a global pool of connections, and a per-provider limit so
one provider's servers are never hit by more than a few connections at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diag.model import DnsResult, Reachability, Security, ServiceResult, ServiceSpec
from diag.net.dns import Resolver, resolve_addresses
from diag.probe import ProbeOptions, probe_services
from diag.providers.schema import DOMAIN_PLACEHOLDER, Provider, Server

if TYPE_CHECKING:
    from diag.tls.trust import TrustStore

MAX_CONNECTIONS = 8
PER_PROVIDER = 2
STATUSES = ("ok", "no_such_host", "dns_error", "no_answer", "wrong_security", "wrong_name",
            "tls_error", "no_greeting", "skipped")  # fmt: skip
_SECURITY = {"ssl": Security.TLS, "starttls": Security.STARTTLS, "plain": Security.STARTTLS}


@dataclass(frozen=True)
class ServerCheck:
    provider_id: str
    protocol: str
    host: str
    port: int
    socket: str  # as the entry says: ssl, starttls, plain
    status: str  # one of STATUSES
    detail: str = ""
    elapsed_ms: float = 0.0

    @property
    def stale(self) -> bool:
        return self.status not in ("ok", "skipped")


@dataclass
class VerifyOptions:
    probe: ProbeOptions
    concurrency: int = MAX_CONNECTIONS
    per_provider: int = PER_PROVIDER


async def verify(
    providers: list[Provider],
    options: VerifyOptions,
    resolver: Resolver,
    store: Callable[[], TrustStore],
) -> list[ServerCheck]:
    """One ServerCheck per distinct server of each entry, in the entries' order."""
    pool = asyncio.Semaphore(max(1, options.concurrency))
    hosts: dict[str, asyncio.Task[DnsResult]] = {}

    def resolved(host: str) -> asyncio.Task[DnsResult]:
        if host not in hosts:
            hosts[host] = asyncio.ensure_future(resolve_addresses(resolver, host))
        return hosts[host]

    async def one(provider: Provider, server: Server, polite: asyncio.Semaphore) -> ServerCheck:
        clock = time.perf_counter()
        if DOMAIN_PLACEHOLDER in server.host or server.host == "127.0.0.1":
            why = (
                "depends on the user's domain"
                if DOMAIN_PLACEHOLDER in server.host
                else ("a local bridge")
            )
            return _check(provider, server, "skipped", why, clock)
        dns = await resolved(server.host)
        if not dns.addresses:
            status = "no_such_host" if dns.answered else "dns_error"
            return _check(provider, server, status, dns.error or "no address", clock)
        async with polite:
            result = await _probe(server, _SECURITY[server.socket], dns, options, resolver, store,
                                  pool)  # fmt: skip
            status, detail = judge(server, result)
            if status == "tls_error" or status == "no_greeting":
                # the port answers but not as described: does the other security fit?
                other = Security.STARTTLS if server.socket == "ssl" else Security.TLS
                retry = await _probe(server, other, dns, options, resolver, store, pool)
                if judge(server, retry)[0] in ("ok", "wrong_name", "tls_error") and (
                    retry.greeting is not None and retry.greeting.ok
                ):
                    speaks = "implicit TLS" if other is Security.TLS else "STARTTLS"
                    status = "wrong_security"
                    detail = f"the entry says {server.socket}, the port speaks {speaks}"
        return _check(provider, server, status, detail, clock)

    jobs = []
    for provider in providers:
        polite = asyncio.Semaphore(max(1, options.per_provider))
        seen = set()
        for server in (*provider.incoming, *provider.outgoing):
            key = (server.protocol, server.host, server.port, server.socket)
            if key not in seen:
                seen.add(key)
                jobs.append(one(provider, server, polite))
    return list(await asyncio.gather(*jobs))


async def _probe(
    server: Server,
    security: Security,
    dns: DnsResult,
    options: VerifyOptions,
    resolver: Resolver,
    store: Callable[[], TrustStore],
    pool: asyncio.Semaphore,
) -> ServiceResult:
    spec = ServiceSpec(server.protocol, server.port, security)
    report = await probe_services(
        server.host,
        [spec],
        options.probe,
        explicit=True,
        store=store,
        resolver=resolver,
        limiter=pool,
        dns_result=dns,
    )
    return report.services[0]


def judge(server: Server, result: ServiceResult) -> tuple[str, str]:
    """What one probe says about the entry's description of the server."""
    if result.reachability is not Reachability.CONNECTED:
        return "no_answer", f"port {server.port}: {result.reachability.value}"
    if result.spec.security is Security.TLS and result.tls is not None and not result.tls.ok:
        return "tls_error", result.tls.error or "TLS handshake failed"
    if result.greeting is None or not result.greeting.ok:
        why = result.greeting_error or ("no greeting in time" if result.greeting_timed_out else "")
        return "no_greeting", why or "the server did not greet"
    if server.socket == "starttls" and result.starttls is not None and not result.starttls.ok:
        return "wrong_security", result.starttls.error or "STARTTLS is not offered"
    if server.socket == "plain":
        return "ok", "plain text (as the entry says)"
    if result.tls is None or not result.tls.ok:
        return "tls_error", (result.tls.error if result.tls else None) or "no TLS"
    trust = result.tls.trust
    if trust is not None and not trust.hostname_matches:
        names = ", ".join(trust.valid_names[:4]) or "no usable name"
        return "wrong_name", f"certificate names {names}, not {server.host}"
    if trust is not None and not trust.trusted:
        return "tls_error", trust.error or "certificate not trusted"
    return "ok", result.tls.version or ""


def _check(
    provider: Provider, server: Server, status: str, detail: str, clock: float
) -> ServerCheck:
    return ServerCheck(
        provider.id,
        server.protocol,
        server.host,
        server.port,
        server.socket,
        status,
        detail,
        round((time.perf_counter() - clock) * 1000, 1),
    )
