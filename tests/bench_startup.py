"""Benchmark: how long maildiag takes before it does anything useful.

Run by hand, not in CI (it needs no lab and sends nothing):

    python tests/bench_startup.py [--runs N] [--tree CHECKOUT]

Reports, over N fresh interpreters each (median and best):
- `maildiag --help` (run as `python -m diag --help` from the checkout measured): wall
  time, and CPU time (user + system), which a busy machine inflates far less;
- for `probe` and `check`: the import cost paid before the first network operation,
  summed from `python -X importtime` (the top-level imports until the first socket
  call): the command's own (everything but the CLI shell `diag.cli`, which `--help`
  already measures) and all of it; and the wall and CPU time from interpreter start to
  that first socket call.

An audit hook ends the process at its first socket operation, so nothing leaves the
machine (the nameserver is a loopback address anyway). `--tree` measures another
checkout (e.g. an older commit in a scratch worktree) with this script, for a
before/after comparison under the same conditions.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lab.bench import as_installed

START = "maildiag-bench: start"
MARK = "maildiag-bench: first network operation"
NETWORK_EVENTS = ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind")

# Runs in the child: stop at the first socket operation and say when it came.
CHILD = f"""
import os, sys, time
def _hook(event, args):
    if event in {NETWORK_EVENTS!r}:
        sys.stderr.write("{MARK} %.6f %.6f\\n" % (time.perf_counter() - _T0, time.process_time()))
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


def _env(tree: Path) -> dict[str, str]:
    return as_installed({**os.environ, "PYTHONPATH": str(tree)})


def help_seconds(tree: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `python -m diag --help`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    begin = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "diag", "--help"],
        capture_output=True,
        check=True,
        cwd=tree,
        env=_env(tree),
    )
    wall = time.perf_counter() - begin
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def before_network(tree: Path, args: list[str], importtime: bool) -> tuple[float, ...]:
    """Seconds up to the first socket call: (imports of the command itself, i.e. all but
    the CLI shell `diag.cli`; all imports; wall time; CPU time), imports summed by
    -X importtime. Without `importtime` the timings are not inflated by the timer."""
    flags = ["-X", "importtime"] if importtime else []
    result = subprocess.run(
        [sys.executable, *flags, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        cwd=tree,
        env=_env(tree),
    )
    total_us = shell_us = 0
    counting = False
    for line in result.stderr.splitlines():
        if line.startswith(START):
            counting = True
        elif line.startswith(MARK):
            wall, cpu = (float(x) for x in line.split()[-2:])
            return (total_us - shell_us) / 1e6, total_us / 1e6, wall, cpu
        elif counting and line.startswith("import time:"):
            _, cumulative, name = line.split("|")
            if name.startswith(" ") and not name.startswith("  "):  # top level only
                total_us += int(cumulative)
                if name.strip() == "diag.cli":
                    shell_us += int(cumulative)
    raise SystemExit(f"no network operation seen for {args[0]}: {result.stderr[-500:]}")


def report(label: str, samples: list[float]) -> None:
    print(f"{label:<46} median {statistics.median(samples):6.3f} s   best {min(samples):6.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    tree = args.tree.resolve()
    print(f"{tree}  (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)")
    help_seconds(tree)  # warm-up: writes the bytecode an installed copy has
    helps = [help_seconds(tree) for _ in range(args.runs)]
    report("maildiag --help: wall", [h[0] for h in helps])
    report("maildiag --help: CPU", [h[1] for h in helps])
    for name, argv in COMMANDS.items():
        before_network(tree, argv, importtime=False)  # warm-up
        timed = [before_network(tree, argv, importtime=True) for _ in range(args.runs)]
        report(f"{name}: command imports before the network", [t[0] for t in timed])
        report(f"{name}: all imports before the network", [t[1] for t in timed])
        plain = [before_network(tree, argv, importtime=False) for _ in range(args.runs)]
        report(f"{name}: start to first socket call, wall", [t[2] for t in plain])
        report(f"{name}: start to first socket call, CPU", [t[3] for t in plain])


if __name__ == "__main__":
    main()
