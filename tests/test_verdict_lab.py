"""Trust and scanner verdicts against real servers (tests/lab/verdictlab.py): Dovecot
(OpenSSL), Exim and gnutls-serv (GnuTLS)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from diag.model import Security, ServiceSpec
from diag.net.connection import Budget
from diag.tlsscan.scan import scan_service
from tests.conftest import codes, probe, service
from tests.lab import verdictlab
from tests.lab.servers import LabError

pytestmark = pytest.mark.lab
A = verdictlab.ADDRESSES


@pytest.fixture(scope="module")
def verdict():
    root = Path(tempfile.mkdtemp(prefix="maildiag-verdict-"))
    os.chmod(root, 0o755)
    try:
        running = verdictlab.start(root)
    except LabError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"the verdict lab could not start: {exc}", pytrace=False)
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_leaf_without_aki_is_trusted_and_nonconforming(verdict):
    report = probe(A["noaki"], ca_file=verdict.root_file, ports=(993, 143))
    for label in ("imap/993", "imap/143"):
        trust = service(report, label).tls.trust
        assert trust.trusted, trust.error
        assert codes(report, label) == {"tls.cert.nonconforming"}
    finding = next(f for f in report.all_findings if f.code == "tls.cert.nonconforming")
    assert "Authority Key Identifier" in finding.evidence
    assert "2.5.29.35" in finding.detail and "2.5.29.35" not in finding.evidence


def test_chain_under_a_v1_root_is_trusted_and_nonconforming(verdict):
    report = probe(A["v1root"], ca_file=verdict.v1_root_file, ports=(993, 143))
    for label in ("imap/993", "imap/143"):
        trust = service(report, label).tls.trust
        assert trust.trusted, trust.error
        assert codes(report, label) == {"tls.cert.nonconforming"}
    finding = next(f for f in report.all_findings if f.code == "tls.cert.nonconforming")
    assert '"maildiag v1 root" is an X.509 version 1 certificate' in finding.evidence
    assert "X509v3" in finding.detail and "X509v3" not in finding.evidence


def test_dovecot_on_a_nonstandard_implicit_tls_port(verdict):
    report = probe(
        A["noaki"],
        ca_file=verdict.root_file,
        ports=(verdictlab.ALT_IMAPS,),
        protocols=("imap",),
        security=Security.TLS,
    )
    imaps = service(report, f"imap/{verdictlab.ALT_IMAPS}")
    assert imaps.tls.ok and imaps.greeting.ok and imaps.after_tls.capabilities
    assert codes(report) == {"tls.cert.nonconforming"}


def test_leaf_alone_with_aia_names_where_to_get_the_intermediate(verdict):
    report = probe(A["aia"], ca_file=verdict.root_file, ports=(993,))
    (finding,) = report.all_findings
    assert finding.code == "tls.cert.incomplete_chain"
    assert "maildiag verdict intermediate" in finding.message
    assert verdictlab.AIA_URL in finding.evidence and verdictlab.AIA_URL in finding.fix
    # downloaded from the lab's nginx, as Windows and Apple clients would: fixable
    assert service(report, "imap/993").tls.trust.issuer_downloaded is True
    assert 'leads to the trusted root "maildiag verdict root"' in finding.evidence


def test_leaf_alone_whose_aia_issuer_leads_nowhere_is_untrusted(verdict):
    report = probe(A["aiaforeign"], ca_file=verdict.root_file, ports=(993,))
    trust = service(report, "imap/993").tls.trust
    assert not trust.trusted and not trust.incomplete_chain and trust.issuer_downloaded
    (finding,) = report.all_findings
    assert finding.code == "tls.cert.untrusted"
    assert verdictlab.FOREIGN_AIA_URL in finding.evidence
    assert '"nobody\'s", which is not a trusted root' in finding.evidence


def test_leaf_alone_whose_aia_url_fails_stays_a_missing_intermediate(verdict):
    report = probe(A["aiagone"], ca_file=verdict.root_file, ports=(993,))
    trust = service(report, "imap/993").tls.trust
    assert trust.incomplete_chain and trust.issuer_downloaded is False
    (finding,) = report.all_findings
    assert finding.code == "tls.cert.incomplete_chain"
    assert "HTTP 404" in finding.evidence and "not known" in finding.evidence


def test_old_dovecot_scanned(verdict):
    report = probe(A["oldtls"], ca_file=verdict.bundle_file, ports=(993, 143))
    for label in ("imap/993", "imap/143"):
        result = service(report, label)
        assert result.scan.versions == {
            "SSLv3": False,  # this OpenSSL has no SSLv3 at all
            "TLSv1": True,
            "TLSv1.1": True,
            "TLSv1.2": True,
            "TLSv1.3": True,
        }
        assert {"anonymous", "NULL"} <= set(result.scan.weak_accepted)
        assert result.tls.legacy == {"TLSv1": True, "TLSv1.1": True}
        found = {f.code: f for f in result.findings}
        assert found["tls.legacy_protocol"].severity.value == "warning"
        assert found["tls.weak_cipher"].severity.value == "error"
        assert "anonymous" in found["tls.weak_cipher"].message
    # STARTTLS port: the hellos went after the IMAP STARTTLS exchange.
    assert service(report, "imap/143").starttls.injection is False


def test_seven_services_on_two_tls_stacks(verdict):
    report = probe(A["gnutls"], ca_file=verdict.root_file)
    assert all(s.usable for s in report.services), [s.spec.label for s in report.services]
    for result in report.services:
        versions = result.scan.versions
        assert versions["TLSv1.2"] and versions["TLSv1.3"], (result.spec.label, result.scan)
        assert not versions["SSLv3"], result.spec.label
        # Debian's GnuTLS, as Exim uses it by default, still takes TLS 1.0 and 1.1;
        # Dovecot here is set to TLS 1.2 and up.
        exim = result.spec.protocol == "smtp"
        assert versions["TLSv1"] is exim and versions["TLSv1.1"] is exim, result.spec.label
        assert ("tls.legacy_protocol" in codes(report, result.spec.label)) is exim
        assert result.scan.weak_accepted == {}, result.spec.label
        # TLS 1.3 came from the main handshake; Exim needs two more hellos for 1.0 and SSLv3.
        assert result.scan.hellos == (5 if exim else 3), (result.spec.label, result.scan)
        if result.starttls is not None:
            assert result.starttls.injection is False, result.spec.label
    assert not {"tls.weak_cipher", "starttls.injection"} & codes(report)


def test_gnutls_serv_scanned(verdict):
    spec = ServiceSpec("imap", verdictlab.GNUTLS_SERV_PORT, Security.TLS)
    result = asyncio.run(scan_service(A["gnutls_serv"], spec, "gnutls.verdict.test", Budget(3)))
    assert result.versions == {
        "SSLv3": False,
        "TLSv1": True,
        "TLSv1.1": True,
        "TLSv1.2": True,
        "TLSv1.3": True,
    }
    assert result.weak_accepted == {}
