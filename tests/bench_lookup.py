"""Benchmark: the whole `maildiag lookup --no-mx` command, start to exit.

Run by hand, not in CI (no lab, nothing leaves the machine):

    python tests/bench_lookup.py [--runs N]

For an address answered by each layer (curated, ISPDB, Delta Chat) and an unknown one,
runs the installed entry point (else `python -m diag`) N times and reports the median
and best wall time and CPU time (user + system: less disturbed than wall time when the
machine is busy), beside `maildiag --version` (the CLI's own floor), and how many
domains the shipped index holds. Target: <= 150 ms.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lab.bench import as_installed

ROOT = Path(__file__).resolve().parents[1]

ADDRESSES = ("a@gmail.com", "a@hotmail.nl", "a@systemli.org", "a@nowhere.example")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    entry = shutil.which("maildiag")
    command = [entry] if entry else [sys.executable, "-m", "diag"]
    index = json.loads((ROOT / "providers" / "index.json").read_text())
    print(f"index: {len(index['domains'])} domains, {len(index['entries'])} entries")
    print(f"command: {' '.join(command)} lookup --no-mx ADDRESS ({args.runs} runs each)")
    runs = {"--version": ["--version"]}
    runs |= {address: ["lookup", "--no-mx", address] for address in ADDRESSES}
    env = as_installed()
    for label, argv in runs.items():
        subprocess.run([*command, *argv], capture_output=True, env=env)  # warm-up
        wall, cpu = [], []
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([*command, *argv], capture_output=True, env=env)
            wall.append((time.perf_counter() - start) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            cpu.append(used * 1000)
        print(
            f"  {label:22} wall median {statistics.median(wall):6.1f} best {min(wall):6.1f}"
            f" | CPU median {statistics.median(cpu):6.1f} best {min(cpu):6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
