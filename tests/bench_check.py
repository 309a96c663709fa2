"""Benchmark: does a full `check` take about as long as its slowest step?

Run by hand (needs root and the lab's packages, see tests/run), not in CI:

    python tests/bench_check.py [--runs N]

Against the lab's good.lab.test (six discovery sources, four servers to probe): the
whole check, next to each of its steps alone and to those steps run one after another.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diag.check.run import check
from diag.discovery.discover import DiscoveryOptions, discover
from diag.net.dns import Nameserver
from diag.probe import ProbeOptions, probe_host
from tests.lab import DNS
from tests.lab.bench import median_ms, running_lab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with running_lab() as lab:
        ns = Nameserver(*DNS)
        opts = DiscoveryOptions(timeout=5, ca_file=lab.pki.root_file, nameserver=ns)
        target = "someone@good.lab.test"

        def full() -> None:
            report = asyncio.run(check(target, opts))
            assert report.exit_code == 0, report.findings

        def discovery() -> None:
            asyncio.run(discover(target, opts))

        def probe(port: int) -> None:
            asyncio.run(
                probe_host(
                    "mail.lab.test",
                    ProbeOptions(
                        timeout=5,
                        ca_file=lab.pki.root_file,
                        nameserver=ns,
                        ports=(port,),
                        legacy_tls=False,
                    ),
                )
            )

        full()
        whole = median_ms(full, args.runs)
        steps = {"discovery": median_ms(discovery, args.runs)}
        for port in (993, 995, 465, 587):
            steps[f"probe {port}"] = median_ms(lambda p=port: probe(p), args.runs)
        slowest = max(steps, key=steps.get)
        sequential = sum(steps.values())
        print(f"maildiag check benchmark: {target}, median of {args.runs} runs")
        for name, ms in steps.items():
            print(f"  {name:<28} {ms:8.1f} ms")
        print(f"  steps one after another      {sequential:8.1f} ms")
        print(
            f"  full check (all at once)     {whole:8.1f} ms   ratio check/slowest step "
            f"({slowest}) = {whole / steps[slowest]:.2f}, check/sequential = "
            f"{whole / sequential:.2f}"
        )


if __name__ == "__main__":
    main()
