"""What the benchmarks share: a lab for the duration of a run, and medians of timings."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.lab import Lab, start


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        action()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples) * 1000


@contextlib.contextmanager
def running_lab(dovecot_login: str = "high-security") -> Iterator[Lab]:
    root = Path(tempfile.mkdtemp(prefix="maildiag-bench-"))
    os.chmod(root, 0o755)
    lab = start(root, dovecot_login)
    try:
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)
