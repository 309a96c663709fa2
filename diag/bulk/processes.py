"""`scan --workers N`: the scanner in N worker processes on this machine.

One Python process uses one core, and a check-mode scan is CPU-bound there (DNS
questions and JSON, not the network). The parent streams the targets to the workers,
a few at a time, and writes the records they send back, so output, --resume, the
summary and the progress bar work as in one process. The politeness caps are the
run's, not each worker's: per-host connections, connections in all, targets in flight
and DNS questions in flight are divided among the workers (`share`). Each worker keeps
its own caches, so a host shared by many domains is probed once per worker.

Worker protocol, over pipes: the parent writes one line with the pickled options, then
one target per line, and closes the worker's stdin at the end. The worker writes one
line per record: the summary's fields and cache counts as JSON, a tab, the record's
JSON line. Run as `python -m diag.bulk.processes`, never by hand.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import pickle
import selectors
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from diag.bulk.cache import CacheStats
from diag.bulk.scanner import ScanOptions
from diag.errors import BadInput

AHEAD = 2  # targets sent ahead per worker, in multiples of its targets in flight


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def share(options: ScanOptions, workers: int) -> tuple[ScanOptions, int]:
    """Each worker's options, and how many workers the caps allow: never more than
    --per-host, so that each still has one connection per host."""
    workers = max(1, min(workers, options.per_host))
    if workers == 1:
        return options, 1
    each = dataclasses.replace(
        options,
        per_host=options.per_host // workers,
        connections=max(1, options.connections // workers),
        concurrency=max(1, -(-options.concurrency // workers)),
        dns_in_flight=max(1, options.dns_in_flight // workers),
    )
    return each, workers


class _Worker:
    def __init__(self, options: ScanOptions) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "diag.bulk.processes"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C is the parent's to handle; it ends them
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.stdout = self.process.stdout
        self.pending = 0  # targets sent, record not yet back
        self.buffer = b""
        self.stats = CacheStats()
        self.open = True
        self.send(base64.b64encode(pickle.dumps(options)))

    def send(self, line: bytes) -> None:
        try:
            self.stdin.write(line + b"\n")
            self.stdin.flush()
        except (BrokenPipeError, ValueError):  # it died: its stdout's end tells
            pass

    def finish_input(self) -> None:
        if not self.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()

    def stop(self) -> None:
        self.finish_input()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stdout.close()


def run_in_workers(
    texts: Iterable[str],
    options: ScanOptions,
    workers: int,
    write: Callable[[dict[str, Any], str], None],
    stats: CacheStats,
) -> None:
    """Scan with `workers` processes; `write(brief, line)` gets each record as it comes
    (the fields the summary counts, and its JSON line). `stats` ends as the sum of the
    workers' cache counts, and follows them while the run goes on."""
    each, workers = share(options, workers)
    ahead = AHEAD * each.concurrency
    source: Iterator[str] = iter(texts)
    exhausted = False
    lost = 0
    pool = [_Worker(each) for _ in range(workers)]
    selector = selectors.DefaultSelector()
    try:
        for worker in pool:
            os.set_blocking(worker.stdout.fileno(), False)
            selector.register(worker.stdout, selectors.EVENT_READ, worker)

        def feed(workers: list[_Worker]) -> None:
            """Top up each worker's targets, one at a time to each in turn: a short
            list is spread over all of them."""
            nonlocal exhausted
            hungry = [w for w in workers if w.open]
            while hungry and not exhausted:
                for worker in list(hungry):
                    if worker.pending >= ahead:
                        hungry.remove(worker)
                        continue
                    text = next(source, None)
                    if text is None:
                        exhausted = True
                        for each_worker in pool:
                            each_worker.finish_input()
                        return
                    worker.pending += 1
                    worker.send(text.encode("utf-8", "replace").replace(b"\n", b" "))

        feed(pool)
        while any(w.open for w in pool):
            for key, _ in selector.select():
                worker = key.data
                chunk = os.read(worker.stdout.fileno(), 1 << 20)
                if not chunk:  # the worker ended; anything it had not sent is lost
                    worker.open = False
                    selector.unregister(worker.stdout)
                    lost += worker.pending
                    worker.pending = 0
                    continue
                *lines, worker.buffer = (worker.buffer + chunk).split(b"\n")
                for line in lines:
                    head, _, record = line.partition(b"\t")
                    brief = json.loads(head)
                    worker.stats = CacheStats(*brief.pop("cache"))
                    worker.pending -= 1
                    _sum_into(stats, pool)
                    write(brief, record.decode("utf-8"))
                feed([worker])
        if not exhausted:  # every worker ended early: the rest of the input is lost too
            lost += sum(1 for _ in source)
    finally:
        for worker in pool:
            worker.stop()
        selector.close()
    if lost:
        raise BadInput(f"{lost} target(s) were not scanned; run again with --resume")


def _sum_into(stats: CacheStats, pool: list[_Worker]) -> None:
    for name in CacheStats.__dataclass_fields__:
        setattr(stats, name, sum(getattr(w.stats, name) for w in pool))


def serve() -> None:
    """The worker: options from the first line of stdin, then targets until its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends the run
    try:
        asyncio.run(_serve())
    except BrokenPipeError:  # the parent is gone
        os._exit(0)
    except Exception as exc:  # a fault of ours: one line, and the parent counts the loss
        message = f"maildiag: error: a scan worker failed: {type(exc).__name__}: {exc}"
        print(message, file=sys.stderr)
        sys.exit(1)


async def _serve() -> None:
    from diag.bulk.output import dumps_line
    from diag.bulk.scanner import Scanner
    from diag.bulk.summary import brief

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)  # a line as long as the parent read
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    options: ScanOptions = pickle.loads(base64.b64decode(await reader.readline()))

    async def targets():  # type: ignore[no-untyped-def]
        while line := await reader.readline():
            yield line.rstrip(b"\n").decode("utf-8", "replace")

    out = sys.stdout.buffer
    scanner = Scanner(options)

    def emit(record: dict[str, Any]) -> None:
        head = brief(record)
        head["cache"] = dataclasses.astuple(scanner.stats)
        out.write(json.dumps(head).encode() + b"\t" + dumps_line(record).encode() + b"\n")
        out.flush()

    await scanner.run(targets(), emit)


if __name__ == "__main__":
    serve()
