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
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diag.net.dns import Nameserver
from diag.probe import ProbeOptions, probe_host
from diag.protocols import SERVICES
from tests.lab import DNS
from tests.lab.bench import median_ms, running_lab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with running_lab() as lab:
        host = lab.host("good")
        base = {"timeout": 5.0, "ca_file": lab.pki.root_file, "nameserver": Nameserver(*DNS)}

        def probe(legacy: bool = True, **narrow) -> None:
            asyncio.run(probe_host(host, ProbeOptions(legacy_tls=legacy, **narrow, **base)))

        def one_after_another() -> None:
            for spec in SERVICES:
                probe(ports=(spec.port,))

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

        probe()  # warm up: trust store, imports
        runs = args.runs
        at_once = median_ms(probe, runs)
        sequential = median_ms(one_after_another, runs)
        singles = {s.label: median_ms(lambda p=s.port: probe(ports=(p,)), runs) for s in SERVICES}
        lean = median_ms(lambda: probe(legacy=False), runs)
        lean_slowest = max(
            median_ms(lambda p=s.port: probe(False, ports=(p,)), runs) for s in SERVICES
        )
        command = median_ms(lambda: subprocess.run(cli, capture_output=True, check=True), runs)
        s_client = median_ms(
            lambda: subprocess.run(openssl, input=b"", capture_output=True, check=True), runs
        )
        slowest_label = max(singles, key=singles.get)
        slowest = singles[slowest_label]

        print(f"maildiag probe benchmark: {host}, 7 services, median of {runs} runs")
        print(f"  all 7 at once (in-process)         {at_once:8.1f} ms")
        print(
            f"  one after another (in-process)     {sequential:8.1f} ms"
            f"   ratio at-once/sequential = {at_once / sequential:.2f}"
        )
        print(
            f"  slowest single service ({slowest_label:9}) {slowest:8.1f} ms"
            f"   ratio at-once/slowest    = {at_once / slowest:.2f}"
        )
        print(
            f"  all 7 at once, --no-legacy-tls     {lean:8.1f} ms"
            f"   ratio at-once/slowest    = {lean / lean_slowest:.2f}"
            f" (slowest {lean_slowest:.1f} ms)"
        )
        print(f"  `maildiag probe` command           {command:8.1f} ms")
        print(
            f"  `openssl s_client` imap/993 only   {s_client:8.1f} ms"
            f"   ratio maildiag/s_client  = {command / s_client:.2f}"
        )


if __name__ == "__main__":
    main()
