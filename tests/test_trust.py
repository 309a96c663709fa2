"""Trust as mail clients decide it, and the strict profile's disagreements (no network)."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from diag.findings.analyze import tls_findings
from diag.model import TlsInfo
from diag.tls.aia import read_certificates
from diag.tls.certificate import describe
from diag.tls.trust import TrustStore, assess, with_downloaded_issuer
from tests.lab import oddcerts as odd

HOST = "mail.odd.test"


@pytest.fixture(scope="module")
def ca():
    root = odd.root()
    return root, odd.intermediate("odd intermediate", root)


def verdict(chain, roots, intermediates=()):
    store = TrustStore(tuple(r.cert for r in roots), tuple(i.cert for i in intermediates))
    return assess([c.cert for c in chain], HOST, store)


def findings(chain, roots, intermediates=()):
    trust = verdict(chain, roots, intermediates)
    info = TlsInfo(ok=True, chain=[describe(c.cert) for c in chain], trust=trust)
    return {f.code: f for f in tls_findings("imap/993", info)}


def test_leaf_without_aki_is_trusted_but_nonconforming(ca):
    root, _ = ca
    leaf = odd.leaf(HOST, root, aki=False, ski=False)
    trust = verdict([leaf], [root])
    assert trust.trusted  # OpenSSL, NSS, Apple, Microsoft accept it
    assert trust.nonconforming == [
        "the server certificate has no Authority Key Identifier extension"
    ]
    found = findings([leaf], [root])
    assert set(found) == {"tls.cert.nonconforming"}
    nonconforming = found["tls.cert.nonconforming"]
    assert nonconforming.severity.value == "warning"
    assert "Authority Key Identifier" in nonconforming.evidence
    assert "rustls" in nonconforming.evidence
    assert "2.5.29.35" in nonconforming.detail  # the strict verifier's own words
    assert (
        "2.5.29.35" not in nonconforming.evidence and "<Certificate" not in nonconforming.evidence
    )


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (
            lambda root: [odd.leaf(HOST, root, ca=True)],
            "the server certificate is marked as a CA certificate",
        ),
        (
            lambda root: [
                odd.leaf(HOST, inter := odd.intermediate("loose", root, bc_critical=False)),
                inter,
            ],
            'CA "loose": its basic constraints are not marked critical',
        ),
        (
            lambda root: [
                odd.leaf(HOST, inter := odd.intermediate("no usage", root, usage=None)),
                inter,
            ],
            'CA "no usage": it has no key usage extension',
        ),
        (
            lambda root: [
                odd.leaf(
                    HOST, root, usage=odd.key_usage(digital_signature=True, key_cert_sign=True)
                )
            ],
            "the server certificate's key usage allows signing other certificates",
        ),
    ],
)
def test_strict_and_relaxed_disagree(ca, make, rule):
    root, _ = ca
    chain = make(root)
    trust = verdict(chain, [root])
    assert trust.trusted
    assert any(r.startswith(rule) for r in trust.nonconforming), trust.nonconforming
    assert trust.nonconforming_detail  # the strict verifier did refuse it


def test_conforming_chain_has_no_deviation(ca):
    root, inter = ca
    trust = verdict([odd.leaf(HOST, inter), inter], [root])
    assert trust.trusted and trust.nonconforming == []


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda root: [
                odd.leaf(HOST, inter := odd.intermediate("not a ca", root, ca=False)),
                inter,
            ],
            "not marked as a CA",
        ),
        (
            lambda root: [odd.leaf(HOST, inter := odd.intermediate("no bc", root, ca=None)), inter],
            "not marked as a CA",
        ),
        (
            lambda root: [
                odd.leaf(
                    HOST,
                    inter := odd.intermediate(
                        "signs nothing", root, usage=odd.key_usage(digital_signature=True)
                    ),
                ),
                inter,
            ],
            "does not allow it to sign certificates",
        ),
        (
            lambda root: [odd.leaf(HOST, root, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])],
            "not meant for servers",
        ),
    ],
)
def test_what_mail_clients_refuse_stays_untrusted(ca, make, reason):
    root, _ = ca
    chain = make(root)
    trust = verdict(chain, [root])
    assert not trust.trusted
    assert reason in trust.error
    found = findings(chain, [root])
    untrusted = found["tls.cert.untrusted"]
    assert reason in untrusted.evidence
    assert untrusted.detail and "<Certificate" not in untrusted.evidence


@pytest.mark.parametrize("aia", [None, "http://ca.odd.test/intermediate.crt"])
def test_leaf_sent_alone_is_a_missing_intermediate(ca, aia):
    root, inter = ca
    leaf = odd.leaf(HOST, inter, aia_url=aia)
    trust = verdict([leaf], [root])
    assert not trust.trusted and trust.incomplete_chain
    assert trust.missing_issuer == '"odd intermediate"'
    assert trust.issuer_url == aia
    found = findings([leaf], [root])
    assert set(found) == {"tls.cert.incomplete_chain"}
    incomplete = found["tls.cert.incomplete_chain"]
    assert '"odd intermediate"' in incomplete.message
    assert '"odd intermediate"' in incomplete.fix
    if aia:
        assert aia in incomplete.evidence and aia in incomplete.fix
    else:
        assert "no AIA" in incomplete.evidence
    assert "candidates exhausted" not in incomplete.evidence


def test_the_downloadable_aia_location_is_named_before_ldap(ca):
    root, inter = ca
    ldap = "ldap:///CN=odd%20intermediate,CN=AIA,DC=corp?cACertificate?base"
    leaf = odd.leaf(HOST, inter, aia_url=[ldap, "http://pki.corp.example/odd.crt"])
    assert verdict([leaf], [root]).issuer_url == "http://pki.corp.example/odd.crt"
    only_ldap = odd.leaf(HOST, inter, aia_url=[ldap])
    assert verdict([only_ldap], [root]).issuer_url == ldap  # named all the same


def test_intermediate_in_ca_file_confirms_the_missing_one(ca):
    root, inter = ca
    trust = verdict([odd.leaf(HOST, inter)], [root], [inter])
    assert trust.incomplete_chain and "--ca-file" in trust.incomplete_reason


def test_leaf_alone_whose_known_issuer_leads_nowhere_is_untrusted(ca):
    root, _ = ca
    stranger = odd.intermediate("odd intermediate", odd.root("another root"))
    leaf = odd.leaf(HOST, stranger)
    trust = verdict([leaf], [root], [stranger])
    assert not trust.trusted and not trust.incomplete_chain
    assert set(findings([leaf], [root], [stranger])) == {"tls.cert.untrusted"}


def test_unknown_ca_says_so_in_plain_words(ca):
    root, _ = ca
    other = odd.root("unknown root")
    inter = odd.intermediate("unknown intermediate", other)
    found = findings([odd.leaf(HOST, inter), inter], [root])
    untrusted = found["tls.cert.untrusted"]
    assert "does not lead to a trusted root" in untrusted.evidence
    assert "candidates exhausted" in untrusted.detail
    assert "candidates exhausted" not in untrusted.evidence


# --- X.509 version 1 certificates: what OpenSSL accepts, strict verifiers refuse --------


def openssl_accepts(tmp_path, chain, roots) -> bool:
    """OpenSSL's own verdict on the same chain (`openssl verify`), the reference."""
    from tests.lab.pki import pem

    (tmp_path / "roots.pem").write_bytes(b"".join(pem(r.cert) for r in roots))
    (tmp_path / "sent.pem").write_bytes(b"".join(pem(c.cert) for c in chain[1:]) or b"")
    (tmp_path / "leaf.pem").write_bytes(pem(chain[0].cert))
    untrusted = ["-untrusted", "sent.pem"] if len(chain) > 1 else []
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", "roots.pem", *untrusted, "leaf.pem"],
        cwd=tmp_path,
        capture_output=True,
    )
    return result.returncode == 0


def test_v1_root_is_a_trust_anchor(tmp_path):
    old = odd.v1("old in-house root")
    inter = odd.intermediate("v3 intermediate", old)
    for chain in ([odd.leaf(HOST, old)], [odd.leaf(HOST, inter), inter]):
        assert openssl_accepts(tmp_path, chain, [old])
        trust = verdict(chain, [old])
        assert trust.trusted, trust.error_detail
        assert trust.nonconforming == [
            'root "old in-house root" is an X.509 version 1 certificate '
            "(strict verifiers accept only version 3)"
        ]
        assert set(findings(chain, [old])) == {"tls.cert.nonconforming"}


def test_v1_server_certificate_is_judged_on_its_name_not_refused(tmp_path):
    root = odd.root()
    inter = odd.intermediate("v3 intermediate", root)
    for chain in ([odd.v1(HOST, root)], [odd.v1(HOST, inter), inter]):
        assert openssl_accepts(tmp_path, chain, [root])
        trust = verdict(chain, [root])
        assert trust.trusted, trust.error_detail
        assert not trust.hostname_matches  # no subjectAltName: its own finding
        assert "tls.cert.untrusted" not in findings(chain, [root])


def test_v1_intermediate_stays_untrusted(tmp_path):
    root = odd.root()
    old = odd.v1("v1 intermediate", root)
    chain = [odd.leaf(HOST, old), old]
    assert not openssl_accepts(tmp_path, chain, [root])
    trust = verdict(chain, [root])
    assert not trust.trusted
    assert "version 1" in trust.error and "intermediate" in trust.error
    assert "X509v3" in trust.error_detail and "X509v3" not in trust.error


def test_v1_root_does_not_excuse_the_server_certificate():
    old = odd.v1("old in-house root")
    for leaf in (
        odd.leaf(HOST, old, eku=[ExtendedKeyUsageOID.CLIENT_AUTH]),
        odd.leaf(HOST, inter := odd.intermediate("v3", old), eku=[ExtendedKeyUsageOID.CLIENT_AUTH]),
    ):
        chain = [leaf] if leaf.cert.issuer == old.cert.subject else [leaf, inter]
        trust = verdict(chain, [old])
        assert not trust.trusted and "not meant for servers" in trust.error


def test_v1_root_does_not_lend_trust_to_what_it_did_not_sign(tmp_path):
    old = odd.v1("old in-house root")
    impostor = odd.v1("old in-house root")  # same name, another key
    leaf = odd.leaf(HOST, impostor)
    assert not openssl_accepts(tmp_path, [leaf], [old])
    assert not verdict([leaf], [old]).trusted


# --- the issuer named by AIA, downloaded -------------------------------------------------


def test_downloaded_issuer_confirms_a_missing_intermediate(ca):
    root, inter = ca
    leaf = odd.leaf(HOST, inter, aia_url="http://ca.odd.test/i.crt")
    trust = with_downloaded_issuer(
        verdict([leaf], [root]), [leaf.cert], [inter.cert], None, TrustStore((root.cert,))
    )
    assert trust.incomplete_chain and trust.issuer_downloaded is True
    assert 'leads to the trusted root "odd root"' in trust.incomplete_reason


def test_downloaded_issuer_that_leads_nowhere_makes_it_untrusted(ca):
    root, _ = ca
    stranger = odd.intermediate("odd intermediate", odd.root("stranger root"))
    leaf = odd.leaf(HOST, stranger, aia_url="http://ca.odd.test/i.crt")
    trust = with_downloaded_issuer(
        verdict([leaf], [root]), [leaf.cert], [stranger.cert], None, TrustStore((root.cert,))
    )
    assert not trust.trusted and not trust.incomplete_chain
    assert '"stranger root", which is not a trusted root' in trust.error
    info = TlsInfo(ok=True, chain=[describe(leaf.cert)], trust=trust)
    assert {f.code for f in tls_findings("imap/993", info)} == {"tls.cert.untrusted"}


def test_a_failed_download_keeps_the_guess_and_says_so(ca):
    root, inter = ca
    leaf = odd.leaf(HOST, inter, aia_url="http://ca.odd.test/i.crt")
    trust = with_downloaded_issuer(
        verdict([leaf], [root]), [leaf.cert], [], "HTTP 404", TrustStore((root.cert,))
    )
    assert trust.incomplete_chain and trust.issuer_downloaded is False
    assert "HTTP 404" in trust.incomplete_reason


def test_issuer_downloads_read_der_pem_and_pkcs7_and_nothing_else(ca):
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    _, inter = ca
    der = inter.cert.public_bytes(Encoding.DER)
    pem = inter.cert.public_bytes(Encoding.PEM)
    bundle = pkcs7.serialize_certificates([inter.cert], Encoding.DER)
    for data in (der, pem, bundle, pkcs7.serialize_certificates([inter.cert], Encoding.PEM)):
        assert read_certificates(data) == [inter.cert]
    for junk in (b"", b"<html>not found</html>", der[:100], b"\x30\x82" + b"\xff" * 5000):
        assert read_certificates(junk) == []


def test_one_download_per_url_for_every_service_and_host(ca, monkeypatch):
    import asyncio

    from cryptography.hazmat.primitives.serialization import Encoding

    from diag.net.http import HttpResponse
    from diag.tls import aia

    _, inter = ca
    calls = []

    async def fake_fetch(url, **_kw):
        calls.append(url)
        await asyncio.sleep(0.01)
        return HttpResponse(url, 200, {}, inter.cert.public_bytes(Encoding.DER))

    monkeypatch.setattr(aia, "fetch", fake_fetch)

    async def many() -> list[aia.Download]:
        probes = [aia.IssuerDownloads(None, 1.0, None) for _ in range(3)]  # three hosts
        return await asyncio.gather(*(p.get("http://ca.test/i.crt") for p in probes * 7))

    downloads = asyncio.run(many())
    assert calls == ["http://ca.test/i.crt"]
    assert all(d.certificates == [inter.cert] for d in downloads)
