"""The asyncio scanner: many targets through `check` (or the probe), a bounded number
at a time, sharing one resolver, one trust store, one provider database, one probe
cache and one connection gate. The same scanner runs locally and on Dask workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from diag.bulk.cache import DNS_IN_FLIGHT, CacheStats, CachingResolver, Lru, ProbeResults
from diag.bulk.limits import HostGate, is_busy
from diag.bulk.targets import Target, parse
from diag.discovery.discover import DiscoveryOptions
from diag.errors import BadInput
from diag.model import ServiceResult
from diag.net.connection import connection_gate
from diag.net.dns import make_resolver

SCAN_SCHEMA = "maildiag.scan/1"
Record = dict[str, Any]


@dataclass(frozen=True)
class ScanOptions:
    """Everything a scan needs; plain data, so it travels to Dask workers as it is."""

    discovery: DiscoveryOptions = field(default_factory=DiscoveryOptions)
    probe: bool = False  # probe mode: each target is a host, as `maildiag probe`
    ports: tuple[int, ...] = ()  # probe mode --port
    protocols: tuple[str, ...] = ()  # probe mode --protocol
    legacy_tls: bool | None = None  # None: each command's own default
    concurrency: int = 64  # targets in flight
    connections: int = 256  # open connections, in all
    per_host: int = 2  # open connections to one IP address
    busy_retries: int = 3
    busy_delay: float = 2.0  # seconds before the first retry; doubled each time
    dns_in_flight: int = DNS_IN_FLIGHT  # DNS questions in flight (the server's buffer)


class Scanner:
    def __init__(self, options: ScanOptions) -> None:
        from diag.check.run import Shared
        from diag.providers.database import load
        from diag.tls.loader import trust_store_loader

        self.options = options
        self.stats = CacheStats()
        d = options.discovery
        resolver = make_resolver(d.nameserver, d.timeout, cls=CachingResolver)
        assert isinstance(resolver, CachingResolver)
        self.resolver = resolver.use(self.stats, in_flight=options.dns_in_flight)
        self.probes = ProbeResults(
            self.stats, retries=options.busy_retries, delay=options.busy_delay
        )
        self.shared = Shared(
            resolver=self.resolver,
            database=None if options.probe else load(list(d.providers_dirs)),
            store=trust_store_loader(d.ca_file),
            probes=self.probes,
        )
        self.gate: HostGate | None = None
        self.service_data = SharedServiceData()

    async def run(
        self, texts: Iterable[str] | AsyncIterable[str], emit: Callable[[Record], None]
    ) -> None:
        """Scan every target, at most `concurrency` at once; `emit` gets each record as
        it finishes. The input is read only as fast as targets finish (an async
        iterable: a worker process's pipe)."""
        self.gate = HostGate(self.options.per_host, self.options.connections)
        token = connection_gate.set(self.gate)  # every connection below passes the gate
        try:
            slots = asyncio.Semaphore(self.options.concurrency)
            running: set[asyncio.Task] = set()

            async def one(text: str) -> None:
                try:
                    emit(await self.scan_one(text))
                finally:
                    slots.release()

            async def start(text: str) -> None:
                await slots.acquire()
                task = asyncio.create_task(one(text))
                running.add(task)
                task.add_done_callback(running.discard)

            if isinstance(texts, AsyncIterable):
                async for text in texts:
                    await start(text)
            else:
                for text in texts:
                    await start(text)
            if running:
                await asyncio.gather(*running)
        finally:
            connection_gate.reset(token)
            self.resolver.close()

    async def scan_one(self, text: str) -> Record:
        """One target's record; every failure is an `error` object, never an exception."""
        started = datetime.now(UTC).isoformat(timespec="seconds")
        clock = time.perf_counter()
        target = parse(text, probe=self.options.probe)
        if target.error:
            return error_record(target.text, started, clock, "bad_input", target.error, self)
        try:
            data, busy = await (self._probe(target) if self.options.probe else self._check(text))
        except BadInput as exc:
            return error_record(text, started, clock, "bad_input", str(exc), self)
        except Exception as exc:  # one target's bug must not end ten thousand others
            message = f"{type(exc).__name__}: {exc}"
            return error_record(text, started, clock, "internal", message, self)
        error = None
        if busy:
            error = {
                "kind": "rate_limited",
                "message": f"still busy after {self.options.busy_retries} retries: "
                + ", ".join(busy),
            }
        return {
            **header(text, started, clock, self, error),
            "rate_limited": bool(busy),
            **data,
        }

    async def _check(self, text: str) -> tuple[Record, list[str]]:
        from diag.check.run import check
        from diag.render.jsonout import check_data

        legacy = bool(self.options.legacy_tls)
        report = await check(text, self.options.discovery, legacy_tls=legacy, shared=self.shared)
        busy = [c.label for c in report.checked if c.result is not None and is_busy(c.result)]
        data = check_data(report, service=self.service_data)
        data.pop("schema")
        return data, busy

    async def _probe(self, target: Target) -> tuple[Record, list[str]]:
        from diag.probe import ProbeOptions, probe_services, select_services
        from diag.render.jsonout import probe_data

        d = self.options.discovery
        ports = (target.port,) if target.port else self.options.ports
        options = ProbeOptions(
            timeout=d.timeout,
            ca_file=d.ca_file,
            nameserver=d.nameserver,
            ports=ports,
            protocols=self.options.protocols,
            legacy_tls=self.options.legacy_tls is not False,
        )
        specs = select_services(options.ports, options.protocols)
        explicit = bool(options.ports or options.protocols)
        assert target.host is not None
        for attempt in range(self.options.busy_retries + 1):
            if attempt:
                self.stats.busy_retries += 1
                await asyncio.sleep(self.options.busy_delay * 2 ** (attempt - 1))
            report = await probe_services(
                target.host,
                specs,
                options,
                explicit=explicit,
                store=self.shared.store,
                resolver=self.resolver,
            )
            busy = [s.spec.label for s in report.services if is_busy(s)]
            if not busy:
                break
        data = probe_data(report)
        data.pop("schema")
        return data, busy


class SharedServiceData:
    """The JSON-ready data of each probe result, made once per result object.

    Thousands of domains on one provider's hosts share a few probe results, which are
    most of each record: turning them into data again for every domain was about a
    tenth of a scan's CPU. The memo holds the result itself, so its id is not reused
    while the entry lives; results are not changed once probed.
    """

    def __init__(self, size: int = 512) -> None:
        self._memo = Lru(size)

    def __call__(self, result: ServiceResult) -> Record:
        from diag.render.jsonout import service_data

        entry = self._memo.get(id(result))
        if entry is None or entry[0] is not result:
            entry = (result, service_data(result))
            self._memo.remember(id(result), entry)
        else:
            self._memo.move_to_end(id(result))
        return entry[1]


def header(
    target: str, started: str, clock: float, scanner: Scanner, error: Record | None
) -> Record:
    return {
        "schema": SCAN_SCHEMA,
        "mode": "probe" if scanner.options.probe else "check",
        "target": target,
        "started": started,
        "duration_ms": round((time.perf_counter() - clock) * 1000, 1),
        "error": error,
    }


def error_record(
    target: str, started: str, clock: float, kind: str, message: str, scanner: Scanner
) -> Record:
    return {
        **header(target, started, clock, scanner, {"kind": kind, "message": message}),
        "rate_limited": False,
        "checked": False,
        "exit_code": 3,
    }


def run_chunk(texts: list[str], options: ScanOptions) -> tuple[list[Record], CacheStats]:
    """Scan a list of targets in a fresh event loop: what a Dask worker runs per chunk."""
    records: list[Record] = []
    scanner = Scanner(options)
    asyncio.run(scanner.run(texts, records.append))
    return records, scanner.stats
