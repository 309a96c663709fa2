"""Benchmark: `maildiag scan` on the scan lab's 2,000 generated domains.

Run by hand, as root, inside the lab's namespaces (its real servers run only there:
Unbound, Dovecot, Exim and nginx on 127.0.6.0/24 and 127.0.7.0/24), not in CI:

    unshare --net --mount --pid --fork --mount-proc -- .venv/bin/python \
        tests/lab/namespace.py "$(.venv/bin/python tests/lab/provision.py)" -- \
        .venv/bin/python tests/bench_scan.py [--parts ...]

Parts (all by default):
  scan       `maildiag scan` of the 2,000 domains with its defaults, with --workers 1
             and with --concurrency 256: wall time, domains/s, peak memory (RSS of the
             scan's processes together), CPU, the lab servers' CPU, cache hit rates
  profile    the same scan in-process under cProfile: where the CPU goes
  memory     peak memory for a 2,000-line and a 100,000-line input (the second stopped
             after 4,000 targets: enough to show memory does not grow with the file)
  loop       a shell loop of `maildiag check` over 100 of the domains
  dask       `scan --dask` on a LocalCluster of two single-threaded worker processes
  checkdmarc checkdmarc on the same list, from a throwaway venv (never a dependency)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab import bulk  # noqa: E402

COUNT = 2000


def run(
    command: list[str], *, stop_after_lines: int | None = None, out: Path | None = None
) -> tuple[float, float, float]:
    """Run a command; (wall seconds, peak RSS in MB of it and its worker processes
    together, CPU seconds of all of them).

    The RSS is the largest sum of VmRSS over the process tree, sampled every 50 ms: with
    --workers the scan is several processes, and a child's own high-water mark would
    leave the others out (and would start at this large process's size: Linux keeps it
    over exec)."""
    cpu = _children_cpu()
    begin = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        if stop_after_lines and out is not None and _done(out) >= stop_after_lines:
            process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    _, err = process.communicate()
    wall = time.perf_counter() - begin
    if process.returncode != 0 and not stop_after_lines:  # a failed run is no figure
        print(f"  (exit {process.returncode}: not a complete run)", file=sys.stderr)
        print(err.decode()[-2000:], file=sys.stderr)
    return wall, peak / 1024, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss(pid: int) -> int:
    """KiB resident in `pid` and its descendants now."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue  # ended meanwhile
        total += next(
            (int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS")), 0
        )
        pending += map(int, children.split())
    return total


def servers_cpu() -> dict[str, float]:
    """CPU seconds used so far by each program in the lab's PID namespace, reaped
    children included (Dovecot's and Exim's per-connection processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        used = sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
        totals[name] = totals.get(name, 0.0) + used
    return totals


def _done(out: Path) -> int:
    return _lines(out) if out.exists() else 0


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def scan_command(lab: Path, source: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "diag", "scan", str(source), "-o", str(out),
        "--nameserver", f"{bulk.DNS[0]}:{bulk.DNS[1]}", "--ca-file", str(lab / "ca.pem"),
        "--timeout", "2", "--busy-delay", "0.2", "--summary", str(out) + ".summary", *extra,
    ]  # fmt: skip


def show(
    title: str, command: list[str], wall: float, rss: float, count: int, cpu: float | None = None
) -> None:
    shown = " ".join(a if " " not in a else repr(a) for a in command).replace(
        sys.executable, "python"
    )
    spent = f", CPU {cpu:.1f} s ({1000 * cpu / count:.1f} ms/target)" if cpu else ""
    print(
        f"\n## {title}\n$ {shown}\n  {count} targets in {wall:.1f} s = "
        f"{count / wall:.1f}/s, peak RSS {rss:.0f} MB{spent}"
    )


# The scan's variants: its defaults (one worker process per core, 64 targets in flight),
# one process, and more in flight. The lab's 100 silent domains each hold a place for
# their whole DNS timeout, so --concurrency bounds the wall time (Little's law).
SCAN_VARIANTS = {
    "defaults": [],
    "one process (--workers 1)": ["--workers", "1"],
    "--concurrency 256": ["--concurrency", "256"],
}


def part_scan(lab: Path, extra: list[str]) -> float:
    """Each variant; the wall time of the defaults (for the Dask comparison)."""
    walls = {}
    for name, options in SCAN_VARIANTS.items():
        out = lab / "scan.jsonl"
        out.unlink(missing_ok=True)
        command = scan_command(lab, lab / "domains.txt", out, *options, *extra)
        before = servers_cpu()
        wall, rss, cpu = run(command)
        after = servers_cpu()
        walls[name] = wall
        show(f"scan, check mode: {name}", command, wall, rss, COUNT, cpu)
        summary = json.loads(Path(str(out) + ".summary").read_text())
        print("  verdicts", summary["verdicts"], "cache", summary["cache"])
        used = {k: after[k] - before.get(k, 0.0) for k in after}
        busiest = sorted(((v, k) for k, v in used.items() if v >= 0.1), reverse=True)
        servers = [f"{k} {v:.1f}" for v, k in busiest if not k.startswith(("python", "time"))]
        print("  lab servers' CPU (s):", ", ".join(servers) or "none")
    return walls["defaults"]


def part_profile(lab: Path) -> None:
    import asyncio

    from diag.bulk.scanner import Scanner, ScanOptions
    from diag.discovery.discover import DiscoveryOptions
    from diag.net.dns import Nameserver

    options = ScanOptions(
        DiscoveryOptions(timeout=2, ca_file=lab / "ca.pem", nameserver=Nameserver(*bulk.DNS)),
        busy_delay=0.2,
    )
    texts = (lab / "domains.txt").read_text().split()[:1000]
    records: list = []
    profile = cProfile.Profile()
    cpu = time.process_time()
    begin = time.perf_counter()
    profile.enable()
    asyncio.run(Scanner(options).run(texts, records.append))
    profile.disable()
    wall, cpu = time.perf_counter() - begin, time.process_time() - cpu
    print(
        f"\n## profile: 1,000 domains in-process under cProfile: {wall:.1f} s wall, {cpu:.1f} s CPU"
    )
    stats = pstats.Stats(profile)
    groups = {
        "TLS (handshakes, ssl module)": ("ssl.py", "sslproto.py", "_ssl"),
        "certificates (cryptography, trust)": ("cryptography", "diag/tls/"),
        "DNS (dnspython: messages, names)": ("dns/",),
        "JSON out (plain, dumps)": ("jsonout.py", "json/"),
        "asyncio machinery": ("asyncio/",),
        "discovery, check, findings": ("diag/discovery", "diag/check", "diag/findings"),
    }
    totals = dict.fromkeys(groups, 0.0)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        for name, needles in groups.items():
            if any(n in filename for n in needles):
                totals[name] += tottime
                break
    profiled = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    for name, seconds in sorted(totals.items(), key=lambda x: -x[1]):
        print(f"  {seconds:6.1f} s  {100 * seconds / profiled:4.0f} %  {name}")
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(12)
    print("\n".join(line for line in text.getvalue().splitlines()[6:] if line.strip()))


def part_memory(lab: Path) -> None:
    big = lab / "big.txt"
    with big.open("w") as handle:
        for i in range(100_000):
            handle.write(bulk.domain(i % COUNT) + "\n")
    for name, source, stop in (
        ("2,000 lines", lab / "domains.txt", None),
        ("100,000 lines", big, 4000),
    ):
        out = lab / f"mem-{name[:3]}.jsonl"
        command = scan_command(lab, source, out)
        wall, rss, cpu = run(command, stop_after_lines=stop, out=out)
        done = _lines(out)
        # A stopped scan's workers are not waited for: their CPU is not counted.
        show(f"memory, {name} input", command, wall, rss, done, None if stop else cpu)


def part_loop(lab: Path) -> None:
    sample = lab / "loop.txt"
    sample.write_text("\n".join(bulk.domains(COUNT)[:100]) + "\n")
    # The installed entry point: the venv's own when it is not on PATH.
    maildiag = shutil.which("maildiag") or str(Path(sys.executable).with_name("maildiag"))
    script = (
        f'while read d; do {maildiag} check "$d" --json --nameserver {bulk.DNS[0]}:{bulk.DNS[1]}'
        f" --ca-file {lab / 'ca.pem'} --timeout 2 >/dev/null; done < {sample}"
    )
    begin = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=False)
    wall = time.perf_counter() - begin
    print(
        f"\n## shell loop of maildiag check\n$ {script}\n"
        f"  100 domains in {wall:.1f} s = {100 / wall:.1f}/s"
    )
    out = lab / "loop.jsonl"
    command = scan_command(lab, sample, out)
    wall, rss, cpu = run(command)
    show("the same 100 with scan", command, wall, rss, 100, cpu)


def part_dask(lab: Path, local_wall: float | None) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        out = lab / "dask.jsonl"
        command = scan_command(lab, lab / "domains.txt", out, "--dask", cluster.scheduler_address)
        wall, rss, _ = run(command)  # the workers' CPU is this process's, not the scan's
        title = "scan --dask, LocalCluster of 2 worker processes (peak RSS: the client alone)"
        show(title, command, wall, rss, COUNT)
        if local_wall:
            print(
                f"  overhead against the local run: {wall - local_wall:+.1f} s "
                f"({wall / local_wall:.2f}x)"
            )


def part_checkdmarc(lab: Path, executable: str | None) -> None:
    """checkdmarc from a throwaway venv made beforehand, outside the network namespace:
    python3 -m venv /tmp/checkdmarc-venv && /tmp/checkdmarc-venv/bin/pip install checkdmarc
    """
    if not executable or not Path(executable).exists():
        print("\n## checkdmarc: skipped (give --checkdmarc /tmp/checkdmarc-venv/bin/checkdmarc)")
        return
    for count in (100, COUNT):
        sample = lab / f"checkdmarc-{count}.txt"
        sample.write_text("\n".join(bulk.domains(COUNT)[:count]) + "\n")
        out = lab / "checkdmarc.json"
        command = [executable, str(sample), "-n", bulk.DNS[0], "-t", "2", "-o", str(out)]
        wall, rss, cpu = run(command)
        show(f"checkdmarc, {count} domains (DNS on port 53)", command, wall, rss, count, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["scan", "profile", "memory", "loop", "dask", "checkdmarc"]
    parser.add_argument("--parts", nargs="+", default=parts, choices=parts)
    parser.add_argument("--scan-args", default="", help="extra scan options, e.g. '--per-host 8'")
    parser.add_argument("--checkdmarc", help="checkdmarc from a throwaway venv (see part)")
    args = parser.parse_args()
    with bulk.running(COUNT) as lab:
        root = lab.root
        print(
            f"load average before: {os.getloadavg()} "
            "(2 cores; other work on the machine skews the figures)"
        )
        wall = part_scan(root, args.scan_args.split()) if "scan" in args.parts else None
        if "profile" in args.parts:
            part_profile(root)
        if "memory" in args.parts:
            part_memory(root)
        if "loop" in args.parts:
            part_loop(root)
        if "dask" in args.parts:
            part_dask(root, wall)
        if "checkdmarc" in args.parts:
            part_checkdmarc(root, args.checkdmarc)
        print(
            f"\nload average after: {os.getloadavg()}; max RSS of this script "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )


if __name__ == "__main__":
    main()
