"""Benchmark: how long maildiag takes before it does anything useful.

Run by hand, not in CI (it needs no lab and sends nothing):

    python tests/bench_startup.py [--runs N]

Reports, over N fresh interpreters each (median and best):
- `maildiag --help`: wall time of the installed entry point (or `python -m diag`);
- for `probe` and `check`: the import cost paid before the first network operation,
  summed from `python -X importtime` (the top-level imports until the first socket
  call): the command's own (everything but the CLI shell `diag.cli`, which `--help`
  already measures) and all of it; and the wall time from interpreter start to that
  first socket call.

An audit hook ends the process at its first socket operation, so nothing leaves the
machine (the nameserver is a loopback address anyway).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "maildiag-bench: start"
MARK = "maildiag-bench: first network operation"
NETWORK_EVENTS = ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind")

# Runs in the child: stop at the first socket operation and say when it came.
CHILD = f"""
import os, sys, time
def _hook(event, args):
    if event in {NETWORK_EVENTS!r}:
        sys.stderr.write("{MARK} %.6f\\n" % (time.perf_counter() - _T0))
        sys.stderr.flush()
        os._exit(0)
_T0 = time.perf_counter()
sys.addaudithook(_hook)
sys.stderr.write("{START}\\n")
sys.stderr.flush()
from diag.cli import main
main(sys.argv[1:])
"""

COMMANDS = {
    "probe": ["probe", "mail.example.test", "--nameserver", "127.0.0.1:9", "--timeout", "1"],
    "check": ["check", "jane@example.test", "--nameserver", "127.0.0.1:9", "--timeout", "1"],
}


def help_seconds() -> float:
    entry = shutil.which("maildiag")
    argv = [entry, "--help"] if entry else [sys.executable, "-m", "diag", "--help"]
    begin = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, cwd=ROOT)
    return time.perf_counter() - begin


def before_network(args: list[str], importtime: bool) -> tuple[float, float, float]:
    """Seconds up to the first socket call: (imports of the command itself, i.e. all but
    the CLI shell `diag.cli`; all imports; wall time), imports summed by -X importtime.

    Without `importtime` only the wall time is measured, not inflated by the timer."""
    flags = ["-X", "importtime"] if importtime else []
    result = subprocess.run(
        [sys.executable, *flags, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    total_us = shell_us = 0
    counting = False
    for line in result.stderr.splitlines():
        if line.startswith(START):
            counting = True
        elif line.startswith(MARK):
            return (total_us - shell_us) / 1e6, total_us / 1e6, float(line.split()[-1])
        elif counting and line.startswith("import time:"):
            _, cumulative, name = line.split("|")
            if name.startswith(" ") and not name.startswith("  "):  # top level only
                total_us += int(cumulative)
                if name.strip() == "diag.cli":
                    shell_us += int(cumulative)
    raise SystemExit(f"no network operation seen for {args[0]}: {result.stderr[-500:]}")


def report(label: str, samples: list[float]) -> None:
    print(f"{label:<48} median {statistics.median(samples):6.3f} s   best {min(samples):6.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    report("maildiag --help (wall)", [help_seconds() for _ in range(args.runs)])
    for name, argv in COMMANDS.items():
        timed = [before_network(argv, importtime=True) for _ in range(args.runs)]
        report(f"{name}: command imports before the network", [t[0] for t in timed])
        report(f"{name}: all imports before the network", [t[1] for t in timed])
        wall = [before_network(argv, importtime=False)[2] for _ in range(args.runs)]
        report(f"{name}: start to first socket call (wall)", wall)


if __name__ == "__main__":
    main()
