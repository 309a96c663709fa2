"""The probe against real Dovecot, Postfix and dnsmasq (see tests/lab)."""

from __future__ import annotations

import pytest

from diag.model import Reachability, Severity
from tests.conftest import codes, probe, service

pytestmark = pytest.mark.lab


def test_good_host_is_clean(lab):
    report = probe(lab.host("good"), ca_file=lab.pki.root_file)
    assert report.all_findings == []
    assert report.exit_code == 0
    assert report.dns.addresses == ["127.0.0.2"]
    assert len(report.services) == 7
    for result in report.services:
        assert result.usable, result.spec.label
        assert result.tls.version == "TLSv1.3"
        assert result.tls.trust.trusted and result.tls.trust.hostname_matches
        assert len(result.tls.chain) == 2
        assert result.tls.legacy == {"TLSv1": False, "TLSv1.1": False}
        if result.spec.port != 25:
            assert {"PLAIN", "LOGIN"} <= set(result.after_tls.auth.mechanisms)


def test_good_host_greetings_and_capabilities(lab):
    report = probe(lab.host("good"), ca_file=lab.pki.root_file)
    imap = service(report, "imap/143")
    assert imap.greeting.status == "OK"
    assert "STARTTLS" in imap.before_tls.capabilities
    assert imap.before_tls.auth.login_disabled and not imap.before_tls.auth.plaintext_login
    assert imap.starttls.advertised and imap.starttls.ok
    pop = service(report, "pop3/110")
    assert pop.greeting.status == "+OK" and "STLS" in pop.before_tls.capabilities
    smtp = service(report, "smtp/587")
    assert smtp.greeting.status == "220" and "ESMTP" in smtp.greeting.text
    assert "STARTTLS" in smtp.before_tls.capabilities
    assert smtp.before_tls.auth.mechanisms == []  # smtpd_tls_auth_only = yes
    leaf = service(report, "imap/993").tls.chain[0]
    assert leaf.dns_names == ["mail.lab.test"] and leaf.ip_addresses == ["127.0.0.2"]
    assert leaf.key_type == "EC" and leaf.key_bits == 256
    assert leaf.signature_hash == "sha256" and len(leaf.sha256) == 95
    assert 360 <= leaf.days_left <= 366


def test_private_ca_without_ca_file_is_untrusted(lab):
    report = probe(lab.host("good"), protocols=("imap",))
    assert codes(report) == {"tls.cert.untrusted"}
    assert report.exit_code == 2


def test_ip_literal_matches_ip_san(lab):
    report = probe("127.0.0.2", ca_file=lab.pki.root_file, ports=(993,))
    assert report.dns.is_literal and report.all_findings == []


def test_legacy_host(lab):
    report = probe(lab.host("legacy"), ca_file=lab.pki.root_file)
    assert "auth.plaintext_before_tls" in codes(report, "imap/143")
    assert "auth.plaintext_before_tls" in codes(report, "pop3/110")
    assert "auth.plaintext_before_tls" in codes(report, "smtp/25")
    imaps = service(report, "imap/993")
    assert imaps.tls.legacy == {"TLSv1": True, "TLSv1.1": True}
    assert {"tls.legacy_protocol", "tls.cert.weak_key", "tls.cert.weak_signature"} <= codes(
        report, "imap/993"
    )
    assert imaps.tls.chain[0].key_bits == 1024
    assert "auth.none_offered" in codes(report, "smtp/587")
    untrusted = next(f for f in report.all_findings if f.code == "tls.cert.untrusted")
    assert "no longer accept" in untrusted.evidence
    plaintext = next(
        f
        for f in report.all_findings
        if f.service == "pop3/110" and f.code == "auth.plaintext_before_tls"
    )
    assert "USER" in plaintext.evidence


@pytest.mark.parametrize(
    ("scenario", "code", "evidence"),
    [
        ("expired", "tls.cert.expired", "valid from"),
        ("future", "tls.cert.not_yet_valid", "valid from"),
        ("soon", "tls.cert.expires_soon", "valid from"),
        ("wrongname", "tls.cert.hostname_mismatch", "mail.other.test, *.other.test"),
        ("selfsigned", "tls.cert.self_signed", "subject = issuer"),
        ("chainless", "tls.cert.incomplete_chain", "intermediate"),
    ],
)
def test_certificate_faults(lab, scenario, code, evidence):
    report = probe(lab.host(scenario), ca_file=lab.pki.bundle_file, ports=(993, 143))
    for label in ("imap/993", "imap/143"):
        found = [f for f in report.all_findings if f.service == label]
        assert [f.code for f in found] == [code], label
        assert evidence in found[0].evidence
    # A broken certificate is still fully described.
    leaf = service(report, "imap/993").tls.chain[0]
    assert leaf.subject and leaf.sha256 and leaf.not_after


def test_expired_certificate_is_still_judged_for_trust_and_name(lab):
    report = probe(lab.host("expired"), ca_file=lab.pki.root_file, ports=(993,))
    trust = service(report, "imap/993").tls.trust
    assert trust.trusted and trust.hostname_matches


def test_hostname_mismatch_suggests_a_name(lab):
    report = probe(lab.host("wrongname"), ca_file=lab.pki.root_file, ports=(993,))
    (finding,) = report.all_findings
    assert "mail.other.test" in finding.fix


def test_leaf_alone_without_known_intermediate_is_incomplete(lab):
    """Roots do not issue server certificates: a lone leaf means a missing intermediate."""
    report = probe(lab.host("chainless"), ca_file=lab.pki.root_file, ports=(993,))
    assert codes(report) == {"tls.cert.incomplete_chain"}
    (finding,) = report.all_findings
    assert "maildiag lab intermediate" in finding.message
    assert "no AIA" in finding.evidence


def test_cleartext_host(lab):
    report = probe(lab.host("plain"))
    for label in ("imap/143", "pop3/110", "smtp/587"):
        assert "starttls.not_offered" in codes(report, label)
    assert "auth.plaintext_before_tls" in codes(report, "imap/143")
    assert "smtp.no_submission" in codes(report, None)
    assert service(report, "imap/993").reachability is Reachability.REFUSED


def test_closed_ports_are_info_in_a_sweep_and_errors_when_asked(lab):
    sweep = probe(lab.host("expired"), ca_file=lab.pki.root_file)
    closed = [f for f in sweep.all_findings if f.code == "port.closed"]
    assert {f.service for f in closed} == {"smtp/25", "smtp/465", "smtp/587"}
    assert all(f.severity is Severity.INFO for f in closed)
    assert "smtp.no_submission" in codes(sweep, None)
    asked = probe(lab.host("expired"), ports=(25,))
    assert [(f.code, f.severity) for f in asked.all_findings] == [("port.closed", Severity.ERROR)]


def test_unknown_name(lab):
    report = probe("nothere.lab.test")
    assert codes(report) == {"dns.no_address"}
    assert "NXDOMAIN" in report.findings[0].evidence
    assert report.exit_code == 2
    assert all(s.reachability is Reachability.DNS_FAILURE for s in report.services)


def test_name_without_address_records(lab):
    report = probe("lab.test")  # exists (it has MX) but has no A or AAAA
    assert codes(report) == {"dns.no_address"}
    assert "no A or AAAA" in report.findings[0].evidence


def test_ipv6_is_tried_first_then_ipv4(lab):
    report = probe("dual.lab.test", ca_file=lab.pki.root_file, ports=(993,))
    result = service(report, "imap/993")
    assert [(a.address, a.outcome) for a in result.attempts] == [
        ("::1", Reachability.REFUSED),
        ("127.0.0.2", Reachability.CONNECTED),
    ]
    assert result.usable


def test_nothing_listening(lab):
    report = probe("v6only.lab.test", timeout=1)
    assert "port.none_open" in codes(report, None)
    assert report.exit_code == 2


def test_a_fault_of_ours_costs_one_service_only(lab, monkeypatch):
    """An exception nothing foresaw, met on one service, leaves the six others judged."""
    import diag.probe

    real = diag.probe.capability_stage

    async def broken(dialect, conn, budget):
        if conn._writer.get_extra_info("peername")[1] == 587:
            raise ValueError("a server unlike any tested")
        return await real(dialect, conn, budget)

    monkeypatch.setattr(diag.probe, "capability_stage", broken)
    report = probe(lab.host("good"), ca_file=lab.pki.root_file)
    broken_service = service(report, "smtp/587")
    assert broken_service.internal_error.startswith("ValueError in broken")
    assert codes(report, "smtp/587") == {"probe.internal_error"}
    assert report.exit_code == 2
    others = [s for s in report.services if s.spec.label != "smtp/587"]
    assert len(others) == 6 and all(s.usable for s in others)
    assert not codes(report) - {"probe.internal_error"}
