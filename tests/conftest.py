from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from diag.model import ProbeReport
from diag.net.dns import Nameserver
from diag.probe import ProbeOptions, probe_host
from tests.lab import DNS, Lab, start
from tests.lab import scripted as faults
from tests.lab.servers import LabError

# Scripted fault hosts: address -> (port, handler); see tests/lab/scripted.py.
FAULTS = {
    "garbage": ("127.0.0.21", 143, faults.garbage),
    "silent": ("127.0.0.22", 110, faults.silent),
    "flood": ("127.0.0.23", 25, faults.flood),
    "drip": ("127.0.0.24", 143, faults.drip),
    "reset_starttls": ("127.0.0.25", 143, faults.imap_reset_on_starttls),
    "refuse_starttls": ("127.0.0.26", 143, faults.imap_refuse_starttls),
    "reset_hello": ("127.0.0.27", 993, faults.reset_on_hello),
}
FILTERED = ("127.0.0.28", 995)


@pytest.fixture(autouse=True)
def _no_personal_provider_entries(tmp_path_factory, monkeypatch):
    """maildiag reads $XDG_CONFIG_HOME/maildiag/providers by default: never the tester's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.delenv("MAILDIAG_PROVIDERS_DIR", raising=False)


@pytest.fixture(scope="session")
def lab() -> Lab:
    """The real-server lab, started once per test session and stopped at its end."""
    # Not under pytest's 0700 temp root: Postfix's and Dovecot's unprivileged
    # processes must reach their files.
    root = Path(tempfile.mkdtemp(prefix="maildiag-lab-"))
    os.chmod(root, 0o755)
    try:
        running = start(root)
    except LabError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"the test lab could not start: {exc}", pytrace=False)
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def scripted() -> faults.ScriptedServers:
    servers = faults.ScriptedServers()
    try:
        for address, port, handler in FAULTS.values():
            servers.serve(address, port, handler)
        servers.drop_connections(*FILTERED)
        yield servers
    finally:
        servers.stop()


def probe(host: str, *, ca_file: Path | None = None, timeout: float = 3.0, **kw) -> ProbeReport:
    """Probe in-process through the lab's DNS server."""
    options = ProbeOptions(timeout=timeout, ca_file=ca_file, nameserver=Nameserver(*DNS), **kw)
    return asyncio.run(probe_host(host, options))


def codes(report: ProbeReport, service: str | None = "any") -> set[str]:
    return {f.code for f in report.all_findings if service == "any" or f.service == service}


def service(report: ProbeReport, label: str):
    return next(s for s in report.services if s.spec.label == label)
