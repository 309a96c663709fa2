"""`login`: every target at once, so the test takes as long as the slowest server."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from diag.account.channel import ChannelOptions
from diag.account.model import LoginReport, LoginResult, Target
from diag.account.session import Credentials, Session, log_in
from diag.model import DnsResult
from diag.net.connection import elapsed_ms
from diag.net.dns import Nameserver, Resolver, make_resolver, resolve_addresses


@dataclass(frozen=True)
class AccountOptions:
    timeout: float = 10.0
    ca_file: Path | None = None
    nameserver: Nameserver | None = None
    insecure: bool = False


class Connector:
    """Shared by login and roundtrip: one resolver, one trust store, one DNS answer per host."""

    def __init__(self, options: AccountOptions, resolver: Resolver | None = None) -> None:
        from diag.probe import trust_store_loader

        self.options = options
        self.resolver = resolver or make_resolver(options.nameserver, options.timeout)
        self.channel = ChannelOptions(
            options.timeout, trust_store_loader(options.ca_file), options.insecure
        )
        self._hosts: dict[str, asyncio.Task[DnsResult]] = {}

    async def dns(self, host: str) -> DnsResult:
        if host not in self._hosts:
            self._hosts[host] = asyncio.ensure_future(resolve_addresses(self.resolver, host))
        return await self._hosts[host]

    async def log_in(
        self,
        target: Target,
        credentials: Credentials,
        *,
        keep_open: bool = False,
        facts: bool = False,
        sender: str | None = None,
    ) -> tuple[LoginResult, Session | None]:
        dns = await self.dns(target.host)
        return await log_in(
            target, dns, credentials, self.channel, keep_open=keep_open, facts=facts, sender=sender
        )


async def login(
    address: str,
    targets: list[Target],
    credentials: Credentials,
    options: AccountOptions,
    *,
    sender: str | None = None,
) -> LoginReport:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    connector = Connector(options)
    results = await asyncio.gather(
        *(connector.log_in(t, credentials, facts=True, sender=sender or address) for t in targets)
    )
    username = targets[0].username if targets else address
    return LoginReport(
        address=address,
        username=username,
        results=[r for r, _ in results],
        findings=[],
        started_at=started.isoformat(timespec="seconds"),
        elapsed_ms=elapsed_ms(clock),
    )
