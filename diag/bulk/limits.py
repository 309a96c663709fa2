"""Politeness: how many connections at once, in all and to one address; busy servers.

Big providers rate-limit scanners. The gate below is handed to the core through
`diag.net.connection.connection_gate`, so every connection the check or the probe
opens (mail protocols, HTTPS for autoconfig) waits for a slot for its address first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from diag.model import ServiceResult


class HostGate:
    """At most `per_host` connections to one IP address and `total` in all."""

    def __init__(self, per_host: int, total: int) -> None:
        self._per_host = per_host
        self._total = asyncio.Semaphore(total)
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    async def __call__(self, address: str) -> Callable[[], None]:
        entry = self._hosts.get(address)
        if entry is None:
            entry = self._hosts[address] = (asyncio.Semaphore(self._per_host), [0])
        semaphore, users = entry
        users[0] += 1
        try:
            await semaphore.acquire()  # the host first: waiting for it holds no global slot
            try:
                await self._total.acquire()
            except BaseException:
                semaphore.release()
                raise
        except BaseException:
            self._leave(address, users)
            raise
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                self._total.release()
                semaphore.release()
                self._leave(address, users)

        return release

    def _leave(self, address: str, users: list[int]) -> None:
        users[0] -= 1
        if users[0] == 0:  # forget idle hosts: memory stays bounded over a long run
            del self._hosts[address]


def is_busy(result: ServiceResult) -> bool:
    """The server said "try later": SMTP 421, IMAP BYE, POP3 -ERR [SYS/TEMP] (RFC 3206)."""
    greeting = result.greeting
    if greeting is None or greeting.ok:
        return False
    protocol = result.spec.protocol
    if protocol == "smtp":
        return greeting.status == "421"
    if protocol == "imap":
        return greeting.status.upper() == "BYE"
    return "[SYS/TEMP]" in greeting.text.upper()
