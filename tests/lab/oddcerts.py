"""Certificates real CAs issue and strict verifiers refuse, for the trust verdict tests.

Made with cryptography (as tests/lab/pki.py), one builder with switches, so each test
says exactly which rule its certificate breaks; X.509 version 1 certificates, which
cryptography cannot make, with the openssl command, as old in-house CAs made them.
"""

from __future__ import annotations

import ipaddress
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from tests.lab.pki import Issued

DAY = timedelta(days=1)


def key_usage(**flags: bool) -> x509.KeyUsage:
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})


def build(
    cn: str,
    issuer: Issued | None = None,
    *,
    ca: bool | None = None,
    bc_critical: bool = True,
    aki: bool = True,
    ski: bool = True,
    names: list[str] | None = None,
    usage: x509.KeyUsage | None = None,
    aia_url: str | list[str] | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
) -> Issued:
    """A certificate; issuer None makes it self-signed. ca None: no basic constraints."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + 90 * DAY)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=bc_critical
        )
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if aki and issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if aia_url:
        urls = [aia_url] if isinstance(aia_url, str) else aia_url
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(url),
                    )
                    for url in urls
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def root(cn: str = "odd root") -> Issued:
    return build(cn, ca=True, usage=key_usage(key_cert_sign=True, crl_sign=True))


def intermediate(cn: str, issuer: Issued, **kw) -> Issued:
    kw.setdefault("ca", True)
    kw.setdefault("usage", key_usage(key_cert_sign=True, crl_sign=True))
    return build(cn, issuer, **kw)


def leaf(host: str, issuer: Issued, **kw) -> Issued:
    kw.setdefault("ca", False)
    kw.setdefault("names", [host])
    return build(host, issuer, **kw)


def v1(cn: str, issuer: Issued | None = None) -> Issued:
    """An X.509 version 1 certificate (no extensions at all): `openssl x509 -req` without
    an extension file, self-signed when `issuer` is None."""
    with tempfile.TemporaryDirectory(prefix="maildiag-v1-") as scratch:
        where = Path(scratch)

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)

        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem")
        openssl("req", "-new", "-key", "key.pem", "-subj", f"/CN={cn}", "-out", "req.pem")
        signing = ["-signkey", "key.pem"]
        if issuer is not None:
            (where / "ca.pem").write_bytes(issuer.cert.public_bytes(serialization.Encoding.PEM))
            (where / "ca.key").write_bytes(
                issuer.key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            signing = ["-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "4242"]
        openssl("x509", "-req", "-in", "req.pem", *signing, "-days", "90", "-out", "cert.pem")
        cert = x509.load_pem_x509_certificate((where / "cert.pem").read_bytes())
        key = serialization.load_pem_private_key((where / "key.pem").read_bytes(), None)
    assert cert.version is x509.Version.v1, "openssl made a version 3 certificate"
    return Issued(cert, key)
