"""Faults no real server produces on demand, from scripted servers (tests/lab/scripted.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from diag.model import ProbeReport, Reachability
from diag.net.connection import ProtocolError
from tests.conftest import FAULTS, FILTERED, codes, probe, service

pytestmark = pytest.mark.lab


def _probe_fault(name: str, timeout: float = 1.0) -> ProbeReport:
    address, port, _ = FAULTS[name]
    return probe(address, ports=(port,), timeout=timeout)


def test_garbage_greeting(scripted):
    report = _probe_fault("garbage")
    assert codes(report) == {"banner.invalid"}
    assert "not an IMAP greeting" in report.all_findings[0].evidence


def test_silent_server(scripted):
    start = time.monotonic()
    report = _probe_fault("silent", timeout=0.5)
    assert codes(report) == {"banner.timeout"}
    assert time.monotonic() - start < 5


def test_megabyte_without_newline_is_bounded(scripted):
    report = _probe_fault("flood")
    (finding,) = report.all_findings
    assert finding.code == "banner.invalid"
    assert "longer than 8192 bytes" in finding.evidence


def test_drip_feed_hits_the_step_deadline(scripted):
    start = time.monotonic()
    report = _probe_fault("drip", timeout=0.8)
    assert codes(report) == {"banner.timeout"}
    assert time.monotonic() - start < 5


def test_starttls_refused(scripted):
    report = _probe_fault("refuse_starttls")
    (finding,) = report.all_findings
    assert finding.code == "starttls.failed"
    assert "TLS is out of order" in finding.evidence


def test_reset_during_starttls_handshake(scripted):
    report = _probe_fault("reset_starttls")
    assert codes(report) == {"tls.handshake_failed"}
    assert report.services[0].starttls.ok


def test_reset_on_client_hello(scripted):
    report = _probe_fault("reset_hello")
    (finding,) = report.all_findings
    assert finding.code == "tls.handshake_failed"
    assert "reset" in finding.evidence or "closed" in finding.evidence


def test_close_after_a_reset_handshake_does_not_wait(scripted):
    """asyncio never tells the stream of a loss during start_tls: waiting for the close
    to be seen used to take the whole second of close()'s limit, every time."""
    from diag.net.connection import connect
    from diag.tls.context import probe_context

    address, port, _ = FAULTS["reset_hello"]

    async def attempt() -> float:
        loop = asyncio.get_running_loop()
        conn, _ = await connect([address], port, 1.0)
        assert conn is not None
        with pytest.raises(ProtocolError):
            await conn.start_tls(probe_context(), None, loop.time() + 1.0)
        begin = loop.time()
        await conn.close()
        return loop.time() - begin

    async def several() -> list[float]:
        return [await attempt() for _ in range(5)]

    assert max(asyncio.run(several())) < 0.3


def test_filtered_port_times_out(scripted):
    address, port = FILTERED
    start = time.monotonic()
    report = probe(address, ports=(port,), timeout=0.5)
    assert codes(report) == {"port.timeout"}
    assert service(report, f"pop3/{port}").reachability is Reachability.TIMEOUT
    assert time.monotonic() - start < 3
