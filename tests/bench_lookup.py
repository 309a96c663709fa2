"""Benchmark: the whole `maildiag lookup --no-mx` command, start to exit.

Run by hand, not in CI (no lab, nothing leaves the machine):

    python tests/bench_lookup.py [--runs N]

For an address answered by each layer (curated, ISPDB, Delta Chat) and an unknown one,
runs the installed entry point (else `python -m diag`) N times and reports the median
and best wall time, and how many domains the shipped index holds. Target: <= 150 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
    for address in ADDRESSES:
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([*command, "lookup", "--no-mx", address], capture_output=True)
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"  {address:22} median {statistics.median(times):6.1f} ms, best {min(times):6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
