"""Benchmark: what a whole `maildiag probe` costs, and what the TLS scanner adds to it.

Run by hand inside the lab's namespaces (needs root), not in CI:

    python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'   # once
    unshare --net --mount --pid --fork --mount-proc -- .venv/bin/python \\
        tests/lab/namespace.py "$(.venv/bin/python tests/lab/provision.py)" -- \\
        .venv/bin/python tests/bench_probe.py [--runs N] [--dovecot-login MODE] [--sslyze PY]

Two seven-service lab hosts: mail.lab.test (Dovecot and Postfix: OpenSSL) and
127.0.4.5 (Dovecot, and Exim: GnuTLS). For each, medians of N runs of:
- `maildiag probe HOST --json` as a command, with the scanner and with --no-scan;
- the probe in-process (the host's wall time), with and without the scanner: the
  difference is what the scanner adds to a host;
and, once: a bare `openssl s_client` handshake with imap/993, and sslyze on one
STARTTLS endpoint (smtp/587) when --sslyze names a Python that has it (install it in a
throwaway virtual environment: it is not a dependency of maildiag). A summary puts the
figures beside issue 11's targets.

--dovecot-login chooses how the two hosts' Dovecot runs its login processes
(tests/lab/servers.py, DOVECOT_LOGIN_MODES): `high-security` (Dovecot's and Debian's
default, one process started per connection, one at a time), `high-performance`
(Dovecot's documented setting for busy servers) or `both` (the default: the whole
benchmark once per mode, the lab restarted in between).

Runs are SETTLE seconds apart, untimed: Exim keeps each session's process about half a
second after a refused handshake and takes at most 20 sessions by default, so a probe
started at once after another finds it full (and then waits for its busy retries).
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
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diag.net.dns import Nameserver
from diag.probe import ProbeOptions, probe_host
from tests.lab import DNS, verdictlab
from tests.lab.bench import as_installed, median_ms, running_lab
from tests.lab.servers import DOVECOT_LOGIN_MODES

SETTLE = 0.8  # seconds between runs, not timed
COMMAND_TARGET_MS = 400.0
OVERHEAD_TARGET_MS = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dovecot-login", choices=[*DOVECOT_LOGIN_MODES, "both"], default="both")
    parser.add_argument("--sslyze", help="a Python interpreter with sslyze installed")
    args = parser.parse_args()
    modes = list(DOVECOT_LOGIN_MODES) if args.dovecot_login == "both" else [args.dovecot_login]
    print(f"maildiag probe benchmark: 7 services per host, median of {args.runs} runs")
    summary: list[tuple[str, dict[str, float]]] = []
    for index, mode in enumerate(modes):
        summary += _lab_run(mode, args.runs, args.sslyze if index == 0 else None)
    _summary(summary)


def _lab_run(mode: str, runs: int, sslyze: str | None) -> list[tuple[str, dict[str, float]]]:
    root = Path(tempfile.mkdtemp(prefix="maildiag-bench-verdict-"))
    os.chmod(root, 0o755)
    figures = []
    with running_lab(mode) as lab:
        verdict = verdictlab.start(root, mode)
        try:
            hosts = [
                ("mail.lab.test (Postfix/OpenSSL)", lab.host("good"), lab.pki.root_file),
                ("127.0.4.5 (Exim/GnuTLS)", verdictlab.ADDRESSES["gnutls"], verdict.root_file),
            ]
            print(f"\n=== Dovecot login processes: {mode}")
            for title, host, ca_file in hosts:
                figures.append((f"{title}, Dovecot {mode}", _host(title, host, ca_file, lab, runs)))
            _baselines(lab, sslyze)
        finally:
            verdict.stop()
            shutil.rmtree(root, ignore_errors=True)
    return figures


def _median(action: Callable[[], object], runs: int) -> float:
    """Median wall time of `runs` calls, SETTLE seconds apart (the pauses are not timed)."""
    samples = []
    for _ in range(runs):
        time.sleep(SETTLE)
        samples.append(median_ms(action, 1))
    return statistics.median(samples)


def _host(title: str, host: str, ca_file: Path, lab, runs: int) -> dict[str, float]:
    base = {"timeout": 5.0, "ca_file": ca_file, "nameserver": Nameserver(*DNS)}

    def in_process(scan: bool) -> None:
        asyncio.run(probe_host(host, ProbeOptions(scan=scan, **base)))

    cli = [sys.executable, "-m", "diag", "probe", host, "--nameserver", lab.nameserver]
    cli += ["--ca-file", str(ca_file), "--json"]

    env = as_installed()  # with bytecode, as after `pip install`

    def command(*extra: str) -> None:
        subprocess.run([*cli, *extra], capture_output=True, check=False, env=env)

    in_process(True)  # warm up: trust store, imports, the servers' first processes
    command()  # and the command's bytecode
    figures = {
        "command": _median(lambda: command(), runs),
        "command_bare": _median(lambda: command("--no-scan"), runs),
        "host": _median(lambda: in_process(True), runs),
        "host_bare": _median(lambda: in_process(False), runs),
    }
    figures["overhead"] = figures["host"] - figures["host_bare"]
    print(f"\n{title}")
    print(f"  `maildiag probe` command, scanner on     {figures['command']:8.1f} ms")
    print(f"  `maildiag probe` command, --no-scan      {figures['command_bare']:8.1f} ms")
    print(f"  host wall time in-process, scanner on    {figures['host']:8.1f} ms")
    print(f"  host wall time in-process, --no-scan     {figures['host_bare']:8.1f} ms")
    print(f"  scanner overhead per host                {figures['overhead']:8.1f} ms")
    return figures


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


def _summary(rows: list[tuple[str, dict[str, float]]]) -> None:
    print(
        f"\nTargets: whole command <= {COMMAND_TARGET_MS:.0f} ms, "
        f"scanner overhead <= ~{OVERHEAD_TARGET_MS:.0f} ms"
    )
    print(f"  {'host':62} {'command':>9} {'no-scan':>9} {'overhead':>9}")
    for name, f in rows:
        command = f"{f['command']:.0f}{'' if f['command'] <= COMMAND_TARGET_MS else '!'}"
        overhead = f"{f['overhead']:.0f}{'' if f['overhead'] <= OVERHEAD_TARGET_MS else '!'}"
        print(f"  {name:62} {command:>9} {f['command_bare']:9.0f} {overhead:>9}")
    print("  (! = target not met)")


if __name__ == "__main__":
    main()
