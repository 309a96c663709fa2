"""`maildiag scan`: targets in, one JSON line per target out, a summary at the end."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from diag.errors import BadInput

if TYPE_CHECKING:
    from diag.bulk.scanner import ScanOptions
    from diag.bulk.summary import Summary

CHUNK_PER_CONCURRENCY = 8  # --dask: default targets per chunk, per target in flight


def scan_options(
    *,
    timeout: float,
    ca_file: Path | None,
    nameserver: str | None,
    ispdb_url: str | None,
    providers_dirs: list[Path],
    guess: bool,
    probe: bool,
    ports: list[int],
    protocols: list[str],
    legacy_tls: bool | None,
    concurrency: int,
    connections: int,
    per_host: int,
    busy_retries: int,
    busy_delay: float,
) -> ScanOptions:
    from diag.bulk.scanner import ScanOptions
    from diag.commands.check import options
    from diag.probe import select_services

    if probe:
        select_services(tuple(ports), tuple(protocols))  # bad --port/--protocol: exit 3 now
    elif ports or protocols:
        raise BadInput("--port and --protocol apply to --probe scans only")
    if busy_retries < 0 or busy_delay < 0:
        raise BadInput("--busy-retries and --busy-delay cannot be negative")
    discovery = options(
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        ispdb_url=ispdb_url,
        providers_dirs=providers_dirs,
        guess=guess,
    )
    return ScanOptions(
        discovery=discovery,
        probe=probe,
        ports=tuple(ports),
        protocols=tuple(protocols),
        legacy_tls=legacy_tls,
        concurrency=concurrency,
        connections=connections,
        per_host=per_host,
        busy_retries=busy_retries,
        busy_delay=busy_delay,
    )


def run_scan(
    source: str,
    options: ScanOptions,
    *,
    output: Path | None,
    resume: bool,
    shard: str | None,
    summary_file: Path | None,
    dask: str | None,
    chunk_size: int | None,
    workers: int | None = None,
) -> int:
    """Exit 0 when every target was scanned (their verdicts are in the output), 3 when
    the scan could not run (bad options, unreadable input, unreachable cluster)."""
    from diag.bulk.output import JsonlWriter, done_targets
    from diag.bulk.summary import Summary
    from diag.bulk.targets import parse_shard, select

    if options.concurrency < 1 or options.per_host < 1 or options.connections < 1:
        raise BadInput("--concurrency, --per-host and --connections must be at least 1")
    if chunk_size is None:
        # A chunk ends with its slowest target (a silent domain holds its place for the
        # whole DNS timeout): many times the concurrency keeps that tail a small share.
        chunk_size = CHUNK_PER_CONCURRENCY * options.concurrency
    if chunk_size < 1:
        raise BadInput("--chunk-size must be at least 1")
    if workers is not None and workers < 1:
        raise BadInput("--workers must be at least 1")
    if resume and output is None:
        raise BadInput("--resume needs --output FILE (the file to read back and append to)")
    shard_spec = parse_shard(shard) if shard else None
    done = done_targets(output) if resume and output is not None else None
    summary = Summary()
    writer = JsonlWriter(output, append=resume)
    clock = time.perf_counter()
    try:
        with ExitStack() as stack:
            lines = stack.enter_context(_open(source))
            texts = select(lines, shard=shard_spec, done=done)
            total = _count(source, shard_spec, done)
            record = stack.enter_context(_recorder(writer, summary, total, clock))
            if dask:
                from diag.bulk.cluster import run_on_dask

                run_on_dask(dask, texts, options, record, summary.cache, chunk_size)
            else:
                from diag.bulk.processes import default_workers, run_in_workers, share

                _, count = share(options, workers or default_workers())
                if count > 1:
                    run_in_workers(texts, options, count, record, summary.cache)
                else:
                    from diag.bulk.scanner import Scanner

                    scanner = Scanner(options)
                    summary.cache = scanner.stats
                    asyncio.run(scanner.run(texts, record))
    finally:
        writer.close()
    _report(summary, time.perf_counter() - clock, summary_file)
    return 0


@contextmanager
def _open(source: str) -> Iterator[IO[str]]:
    if source == "-":
        yield sys.stdin
        return
    try:
        handle = open(source, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        raise BadInput(f"cannot read {source}: {exc.strerror}") from None
    with handle:
        yield handle


def _count(source: str, shard: tuple[int, int] | None, done: set[bytes] | None) -> int | None:
    """The total for the progress bar: a second streaming pass over a file, only on a
    terminal (never over stdin, which can be read once)."""
    from diag.bulk.targets import select

    if source == "-" or not sys.stderr.isatty():
        return None
    with _open(source) as lines:
        return sum(1 for _ in select(lines, shard=shard, done=done))


Record = Callable[..., None]  # (record) or, from a worker process, (brief, line)


@contextmanager
def _recorder(writer: Any, summary: Summary, total: int | None, clock: float) -> Iterator[Record]:
    def record(data: dict[str, Any], line: str | None = None) -> None:
        if line is None:
            writer.write(data)
        else:  # a worker's: already JSON, and `data` holds only what the summary counts
            writer.write_line(line)
        summary.add(data)

    if not sys.stderr.isatty():
        yield record
        return
    from rich.console import Console

    from diag.bulk.cache import CacheStats
    from diag.render.scan_view import ScanProgress

    with ScanProgress(Console(stderr=True), total) as progress:

        def shown(data: dict[str, Any], line: str | None = None) -> None:
            record(data, line)
            c = summary.cache
            progress.update(
                summary.targets,
                summary.errors,
                time.perf_counter() - clock,
                CacheStats.rate(c.dns_hits + c.probe_hits, c.dns_misses + c.probe_misses),
            )

        yield shown


def _report(summary: Summary, wall: float, summary_file: Path | None) -> None:
    data = summary.data(wall)
    if summary_file is not None:
        try:
            summary_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot write {summary_file}: {exc.strerror}") from None
        return
    from rich.console import Console

    from diag.render.scan_view import render_summary

    render_summary(data, Console(stderr=True, highlight=False))
