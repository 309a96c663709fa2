"""What the benchmarks share: a lab for the duration of a run, medians of timings, and
children that start as an installed maildiag does."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from tests.lab import Lab, start


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        action()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples) * 1000


def as_installed(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child's environment with bytecode caching on, as `pip install` leaves maildiag
    (it compiles every module). A checkout run under PYTHONDONTWRITEBYTECODE=1 recompiles
    every diag module at each start, a cost no installed copy pays; the first timed run
    writes the cache, so time a warm-up run first."""
    child = dict(os.environ if env is None else env)
    child.pop("PYTHONDONTWRITEBYTECODE", None)
    return child


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
