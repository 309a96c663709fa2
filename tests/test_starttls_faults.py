"""STARTTLS injection both ways, busy and slow servers, a port blocked on our side.

Scripted servers (tests/lab/tlsfaults.py) for what real servers won't do on demand.
"""

from __future__ import annotations

import pytest

from diag.model import Reachability
from tests.conftest import codes, probe, service
from tests.lab import tlsfaults as tf
from tests.lab.scripted import ScriptedServers

pytestmark = pytest.mark.lab

INJECTED_CAPS = b"250-scripted\r\n250 AUTH PLAIN LOGIN\r\n"
AT_LIMIT = b"421 4.3.2 Too many concurrent SMTP connections; please try again later\r\n"
LIMIT_LOGS: dict[int, list[str]] = {25: [], 465: [], 587: []}  # per port: served/refused


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    context = tf.server_context(tmp_path_factory.mktemp("tlsfaults"), ["scripted.test"])
    running = ScriptedServers()
    try:
        running.serve(tf.ADDRESS["smtp_injectable"], 587, tf.smtp_server(context, injectable=True))
        running.serve(tf.ADDRESS["imap_injectable"], 143, tf.imap_injectable(context))
        running.serve(
            tf.ADDRESS["smtp_pipelined"],
            587,
            tf.smtp_server(context, injectable=False, pipelined=INJECTED_CAPS),
        )
        busy = tf.ADDRESS["busy"]
        running.serve(busy, 25, tf.busy(b"421 4.3.2 Service shutting down, too busy\r\n"))
        running.serve(busy, 587, tf.busy(b"554 5.7.1 No SMTP service here\r\n"))
        running.serve(busy, 143, tf.busy(b"* BYE Too many connections, try later\r\n"))
        running.serve(busy, 110, tf.busy(b"-ERR [IN-USE] Mailbox locked, try later\r\n"))
        running.serve(busy, 995, tf.busy(b"-ERR [SYS/TEMP] Server busy\r\n"))
        running.serve(tf.ADDRESS["slow"], 587, tf.slow_smtp(2.2, context))
        at_limit = tf.ADDRESS["at_limit"]  # connection 1 is the main session's
        implicit = tf.smtp_implicit(context)
        running.serve(at_limit, 465, tf.at_limit(implicit, {2, 3, 4}, AT_LIMIT, LIMIT_LOGS[465]))
        starttls = tf.smtp_server(context, injectable=False)
        running.serve(at_limit, 587, tf.at_limit(starttls, {2, 3, 4, 5}, AT_LIMIT, LIMIT_LOGS[587]))
        every_later = set(range(2, 1000))  # only the main session is ever served
        running.serve(at_limit, 25, tf.at_limit(starttls, every_later, AT_LIMIT, LIMIT_LOGS[25]))
        blocked = tf.ADDRESS["blocked25"]
        running.drop_connections(blocked, 25)
        running.serve(blocked, 587, tf.smtp_server(context, injectable=False))
        yield running
    finally:
        running.stop()


def test_smtp_server_that_runs_injected_commands(servers):
    report = probe(tf.ADDRESS["smtp_injectable"], ports=(587,), timeout=2)
    smtp = service(report, "smtp/587")
    assert smtp.tls.ok and smtp.starttls.injection is True
    assert "starttls.injection" in codes(report)


def test_imap_server_that_runs_injected_commands(servers):
    report = probe(tf.ADDRESS["imap_injectable"], ports=(143,), timeout=2)
    assert service(report, "imap/143").starttls.injection is True
    assert "starttls.injection" in codes(report)


def test_server_that_discards_pipelined_commands_is_not_injectable(servers):
    report = probe(tf.ADDRESS["blocked25"], ports=(587,), timeout=2)
    assert service(report, "smtp/587").starttls.injection is False
    assert "starttls.injection" not in codes(report)


def test_plaintext_after_the_go_ahead_is_discarded_and_reported(servers):
    report = probe(tf.ADDRESS["smtp_pipelined"], ports=(587,), timeout=2)
    smtp = service(report, "smtp/587")
    # The injected "AUTH PLAIN LOGIN" must not be read as the capabilities after TLS.
    assert smtp.tls.ok and smtp.after_tls.capabilities == ["SIZE 1000"]
    assert smtp.after_tls.auth.mechanisms == []
    assert "AUTH PLAIN LOGIN" in smtp.starttls.pipelined
    finding = next(f for f in report.all_findings if f.code == "starttls.pipelined_response")
    assert finding.severity.value == "error"
    assert "AUTH PLAIN LOGIN" in finding.evidence


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("smtp/25", "too busy"),
        ("smtp/587", "No SMTP service"),
        ("imap/143", "Too many connections"),
        ("pop3/110", "[IN-USE]"),
    ],
)
def test_busy_greetings_are_rejections_only(servers, label, words):
    port = int(label.split("/")[1])
    report = probe(tf.ADDRESS["busy"], ports=(port,), timeout=1)
    found = [f for f in report.all_findings if f.service == label]
    assert [f.code for f in found] == ["banner.rejected"]
    assert words in found[0].evidence


def test_busy_pop3_on_implicit_tls_port_is_not_a_tls_verdict(servers):
    # A server that greets in plaintext on 995 is not speaking TLS: the handshake fails.
    report = probe(tf.ADDRESS["busy"], ports=(995,), timeout=1)
    assert codes(report) == {"tls.handshake_failed"}


def test_busy_implicit_tls_port_leaves_the_scan_untested_not_refused(servers):
    # "-ERR" instead of a ServerHello says nothing about TLS versions: null, never false.
    report = probe(tf.ADDRESS["busy"], ports=(995,), timeout=1)
    scan = service(report, "pop3/995").scan
    assert set(scan.versions.values()) == {None} and scan.retries == 0  # main failed too
    assert scan.answers["TLSv1.2"] == "the server refused the session"


@pytest.mark.parametrize("port", [465, 587])
def test_hellos_turned_away_at_a_connection_limit_are_asked_again(servers, port):
    """A server at its session limit (Exim's smtp_accept_max) turns some of the scan's
    connections away with 421: asked again, the verdicts are those of a free server."""
    LIMIT_LOGS[port].clear()
    report = probe(tf.ADDRESS["at_limit"], ports=(port,), timeout=2)
    smtp = service(report, f"smtp/{port}")
    assert smtp.tls.ok
    assert smtp.scan.versions == {
        "SSLv3": False,
        "TLSv1": False,
        "TLSv1.1": False,
        "TLSv1.2": True,
        "TLSv1.3": True,
    }
    assert {w.accepted for w in smtp.scan.weak.values()} == {False}
    assert smtp.scan.retries >= 1 and smtp.scan.hellos == 3
    if port == 587:
        assert smtp.starttls.injection is False  # tested, not left at null
    refused = 3 if port == 465 else 4
    assert LIMIT_LOGS[port].count("refused") == refused
    assert "banner.rejected" not in codes(report)


def test_a_server_that_stays_at_its_limit_is_asked_a_bounded_number_of_times(servers):
    """Counted by the server: the main session, then three hellos (TLS 1.2, TLS 1.1 and
    below, weak suites) and the injection test, each tried three times, then null."""
    LIMIT_LOGS[25].clear()
    # The pauses (0.5 s, 1 s) fit in the service's total deadline, not in one step's.
    report = probe(tf.ADDRESS["at_limit"], ports=(25,), timeout=1)
    smtp = service(report, "smtp/25")
    assert smtp.tls.ok and smtp.starttls.injection is None
    assert smtp.scan.versions["TLSv1.3"] is True  # from the main handshake
    assert {smtp.scan.versions[v] for v in ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")} == {None}
    assert {w.accepted for w in smtp.scan.weak.values()} == {None}
    assert smtp.scan.hellos == 3 and smtp.scan.retries == 6
    assert LIMIT_LOGS[25] == ["served"] + ["refused"] * 12


def test_slow_greeting_is_waited_for_and_said(servers):
    report = probe(tf.ADDRESS["slow"], ports=(587,), timeout=4)
    smtp = service(report, "smtp/587")
    assert smtp.greeting.ok and smtp.tls.ok
    assert smtp.greeting_ms >= 2000
    slow = next(f for f in report.all_findings if f.code == "banner.slow")
    assert slow.severity.value == "info" and "2." in slow.message


def test_port_25_blocked_locally(servers):
    report = probe(tf.ADDRESS["blocked25"], ports=(25, 587), timeout=0.5)
    assert service(report, "smtp/25").reachability is Reachability.TIMEOUT
    found = {f.code: f for f in report.all_findings}
    assert "port.blocked_locally" in found and "port.timeout" not in found
    assert found["port.blocked_locally"].severity.value == "info"
    assert "another network" in found["port.blocked_locally"].fix
