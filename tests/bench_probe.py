"""Benchmark: what a whole `maildiag probe` costs, and what the TLS scanner adds to it.

Run by hand inside the lab's namespaces (needs root), not in CI:

    python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'   # once
    unshare --net --mount --pid --fork --mount-proc -- .venv/bin/python \\
        tests/lab/namespace.py "$(.venv/bin/python tests/lab/provision.py)" -- \\
        .venv/bin/python tests/bench_probe.py [--runs N] [--sslyze PYTHON]

Two seven-service lab hosts: mail.lab.test (Dovecot and Postfix: OpenSSL) and
127.0.4.5 (Dovecot, and Exim: GnuTLS). For each, medians of N runs of:
- `maildiag probe HOST --json` as a command, with the scanner and with --no-scan;
- the probe in-process (the host's wall time), with and without the scanner: the
  difference is what the scanner adds to a host;
and, once: a bare `openssl s_client` handshake with imap/993, and sslyze on one
STARTTLS endpoint (smtp/587) when --sslyze names a Python that has it (install it in a
throwaway virtual environment: it is not a dependency of maildiag).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diag.net.dns import Nameserver
from diag.probe import ProbeOptions, probe_host
from tests.lab import DNS, verdictlab
from tests.lab.bench import median_ms, running_lab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sslyze", help="a Python interpreter with sslyze installed")
    args = parser.parse_args()
    runs = args.runs

    root = Path(tempfile.mkdtemp(prefix="maildiag-bench-verdict-"))
    os.chmod(root, 0o755)
    with running_lab() as lab:
        verdict = verdictlab.start(root)
        try:
            hosts = [
                ("mail.lab.test (Postfix/OpenSSL)", lab.host("good"), lab.pki.root_file),
                ("127.0.4.5 (Exim/GnuTLS)", verdictlab.ADDRESSES["gnutls"], verdict.root_file),
            ]
            print(f"maildiag probe benchmark: 7 services per host, median of {runs} runs")
            for title, host, ca_file in hosts:
                _host(title, host, ca_file, lab.nameserver, runs)
            _baselines(lab, args.sslyze)
        finally:
            verdict.stop()
            shutil.rmtree(root, ignore_errors=True)


def _host(title: str, host: str, ca_file: Path, nameserver: str, runs: int) -> None:
    base = {"timeout": 5.0, "ca_file": ca_file, "nameserver": Nameserver(*DNS)}

    def in_process(scan: bool) -> None:
        asyncio.run(probe_host(host, ProbeOptions(scan=scan, **base)))

    cli = [sys.executable, "-m", "diag", "probe", host, "--nameserver", nameserver]
    cli += ["--ca-file", str(ca_file), "--json"]

    def command(*extra: str) -> None:
        subprocess.run([*cli, *extra], capture_output=True, check=False)

    in_process(True)  # warm up: trust store, imports, the servers' first processes
    with_scan = median_ms(lambda: command(), runs)
    without = median_ms(lambda: command("--no-scan"), runs)
    host_scan = median_ms(lambda: in_process(True), runs)
    host_bare = median_ms(lambda: in_process(False), runs)
    print(f"\n{title}")
    print(f"  `maildiag probe` command, scanner on     {with_scan:8.1f} ms")
    print(f"  `maildiag probe` command, --no-scan      {without:8.1f} ms")
    print(f"  host wall time in-process, scanner on    {host_scan:8.1f} ms")
    print(f"  host wall time in-process, --no-scan     {host_bare:8.1f} ms")
    print(f"  scanner overhead per host                {host_scan - host_bare:8.1f} ms")


def _baselines(lab, sslyze: str | None) -> None:
    openssl = ["openssl", "s_client", "-connect", "127.0.0.2:993", "-servername"]
    openssl += [lab.host("good"), "-CAfile", str(lab.pki.root_file), "-brief"]
    s_client = median_ms(
        lambda: subprocess.run(openssl, input=b"", capture_output=True, check=True), 7
    )
    print(f"\n`openssl s_client` one handshake, imap/993  {s_client:8.1f} ms")
    if not sslyze:
        print("sslyze: not run (pass --sslyze PYTHON, a throwaway venv's interpreter)")
        return
    command = [sslyze, "-m", "sslyze", "--starttls", "smtp", "127.0.0.2:587", "--quiet"]
    took = median_ms(lambda: subprocess.run(command, capture_output=True, check=False), 3)
    print(f"sslyze, default scan of smtp/587 (STARTTLS) {took:8.1f} ms (median of 3)")


if __name__ == "__main__":
    main()
