"""Benchmark: is a host's probe as slow as its slowest service, not the sum?

Run by hand (needs root and the lab's packages, see tests/run), not in CI:

    python tests/bench_probe.py [--runs N]

Prints medians of N runs against the lab's good host (mail.lab.test, 7 services):
the concurrent probe, the same seven services probed one after another, the slowest
single service, `maildiag probe` as a command, and `openssl s_client` for one service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diag.net.dns import Nameserver
from diag.probe import ProbeOptions, probe_host
from diag.protocols import SERVICES
from tests.lab import DNS, start


def median_seconds(action, runs: int) -> float:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        action()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="maildiag-bench-"))
    os.chmod(root, 0o755)
    lab = start(root)
    try:
        host = lab.host("good")
        base = {"timeout": 5.0, "ca_file": lab.pki.root_file, "nameserver": Nameserver(*DNS)}

        def all_at_once() -> None:
            report = asyncio.run(probe_host(host, ProbeOptions(**base)))
            assert report.exit_code == 0, report.all_findings

        def all_without_legacy() -> None:
            asyncio.run(probe_host(host, ProbeOptions(legacy_tls=False, **base)))

        def one_without_legacy(port: int) -> None:
            asyncio.run(probe_host(host, ProbeOptions(ports=(port,), legacy_tls=False, **base)))

        def one(port: int) -> None:
            asyncio.run(probe_host(host, ProbeOptions(ports=(port,), **base)))

        def one_after_another() -> None:
            for spec in SERVICES:
                one(spec.port)

        cli = [
            sys.executable,
            "-m",
            "diag",
            "probe",
            host,
            "--nameserver",
            lab.nameserver,
            "--ca-file",
            str(lab.pki.root_file),
            "--json",
        ]
        openssl = [
            "openssl",
            "s_client",
            "-connect",
            "127.0.0.2:993",
            "-servername",
            host,
            "-CAfile",
            str(lab.pki.root_file),
            "-verify_return_error",
            "-brief",
        ]

        all_at_once()  # warm up: trust store, imports
        concurrent = median_seconds(all_at_once, args.runs)
        sequential = median_seconds(one_after_another, args.runs)
        singles = {s.label: median_seconds(lambda p=s.port: one(p), args.runs) for s in SERVICES}
        command = median_seconds(
            lambda: subprocess.run(cli, capture_output=True, check=True), args.runs
        )
        s_client = median_seconds(
            lambda: subprocess.run(openssl, input=b"", capture_output=True, check=True),
            args.runs,
        )
        slowest_label = max(singles, key=singles.get)
        slowest = singles[slowest_label]
        lean = median_seconds(all_without_legacy, args.runs)
        lean_slowest = max(
            median_seconds(lambda p=s.port: one_without_legacy(p), args.runs) for s in SERVICES
        )

        print(f"maildiag probe benchmark: {host}, 7 services, median of {args.runs} runs")
        print(f"  all 7 at once (in-process)         {concurrent * 1000:8.1f} ms")
        print(
            f"  one after another (in-process)     {sequential * 1000:8.1f} ms"
            f"   ratio at-once/sequential = {concurrent / sequential:.2f}"
        )
        print(
            f"  slowest single service ({slowest_label:9}) {slowest * 1000:8.1f} ms"
            f"   ratio at-once/slowest    = {concurrent / slowest:.2f}"
        )
        print(
            f"  all 7 at once, --no-legacy-tls     {lean * 1000:8.1f} ms"
            f"   ratio at-once/slowest    = {lean / lean_slowest:.2f}"
            f" (slowest {lean_slowest * 1000:.1f} ms)"
        )
        print(f"  `maildiag probe` command           {command * 1000:8.1f} ms")
        print(
            f"  `openssl s_client` imap/993 only   {s_client * 1000:8.1f} ms"
            f"   ratio maildiag/s_client  = {command / s_client:.2f}"
        )
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
