"""`scan --dask`: the same scanner, one chunk of targets per task on a Dask cluster.

The client streams the input into chunks and keeps only a few chunks per worker in
flight, so memory stays bounded on both sides. Each task runs `run_chunk` (the local
asyncio scanner, with the same caps) and returns its records; they go to the same
writer and summary as a local run, so --resume works unchanged. A worker that dies
takes its running chunks with it; the scheduler runs them again elsewhere, and their
records are written once, when the chunk completes. Imported only with --dask.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from diag.bulk.cache import CacheStats
from diag.bulk.scanner import ScanOptions, run_chunk
from diag.errors import BadInput

CHUNKS_PER_WORKER = 2  # in flight per worker thread: one running, one queued behind it


def chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(texts)
    while chunk := list(islice(iterator, size)):
        yield chunk


def run_on_dask(
    address: str,
    texts: Iterable[str],
    options: ScanOptions,
    record: Callable[[dict[str, Any]], None],
    stats: CacheStats,
    chunk_size: int,
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BadInput("--dask needs the dask extra: pip install 'maildiag[dask]'") from None
    try:
        client = Client(address, timeout=15)
    except (OSError, TimeoutError) as exc:
        raise BadInput(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    lost = 0
    with client:
        workers = max(1, sum(client.nthreads().values()))  # one chunk runs per thread
        pending = as_completed()
        source = chunks(texts, chunk_size)
        sizes: dict[str, int] = {}

        def submit_next() -> None:
            chunk = next(source, None)
            if chunk is not None:
                future = client.submit(run_chunk, chunk, options, pure=False, retries=1)
                sizes[future.key] = len(chunk)
                pending.add(future)

        for _ in range(CHUNKS_PER_WORKER * workers):
            submit_next()
        for future in pending:
            size = sizes.pop(future.key, 0)
            try:
                records, chunk_stats = future.result()
            except Exception as exc:  # KilledWorker after repeated deaths, and the like
                lost += size
                message = f"maildiag: error: a chunk of {size} target(s) failed: {exc}"
                print(message, file=sys.stderr)
            else:
                for data in records:
                    record(data)
                stats.add(chunk_stats)
            future.release()
            submit_next()
    if lost:
        raise BadInput(f"{lost} target(s) were not scanned; run again with --resume")
