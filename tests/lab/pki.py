"""The lab's private PKI: a root, an intermediate, and one certificate per fault.

Made fresh for each test run with cryptography, so nothing secret is committed and
dates are always relative to now (expired, not yet valid, expiring soon).
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = timedelta(days=1)


@dataclass
class Issued:
    cert: x509.Certificate
    key: object


@dataclass(frozen=True)
class Pair:
    """Files a server loads: the chain it sends (leaf first) and the key."""

    cert_file: Path
    key_file: Path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "maildiag lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ski(key) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def make_ca(cn: str, issuer: Issued | None = None, *, path_length: int | None = None) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 30 * DAY)
        .not_valid_after(now + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(key), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def make_leaf(
    names: list[str],
    issuer: Issued | None,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    rsa_bits: int | None = None,
    aia_url: str | None = None,
) -> Issued:
    """A server certificate; issuer None makes it self-signed."""
    now = datetime.now(UTC)
    key = (
        rsa.generate_private_key(65537, rsa_bits)
        if rsa_bits
        else ec.generate_private_key(ec.SECP256R1())
    )
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    subject = _name(names[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - DAY)
        .not_valid_after(not_after or now + 365 * DAY)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_ski(key), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if aia_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia_url),
                    )
                ]
            ),
            critical=False,
        )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def weak_pair(directory: Path, host: str, issuer: Issued) -> Pair:
    """RSA-1024 signed with SHA-1. cryptography no longer signs with SHA-1: use openssl."""
    key = rsa.generate_private_key(65537, 1024)
    csr = (
        x509.CertificateSigningRequestBuilder().subject_name(_name(host)).sign(key, hashes.SHA256())
    )
    work = directory / "weak-work"
    work.mkdir(exist_ok=True)
    (work / "req.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    (work / "ca.crt").write_bytes(pem(issuer.cert))
    (work / "ca.key").write_bytes(_key_pem(issuer.key))
    (work / "ext.cnf").write_text(
        f"subjectAltName = DNS:{host}\nbasicConstraints = critical, CA:FALSE\n"
        "extendedKeyUsage = serverAuth\n"
    )
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "4242",
            "-days",
            "365",
            "-sha1",
            "-extfile",
            "ext.cnf",
            "-out",
            "leaf.crt",
        ],
        cwd=work,
        check=True,
        capture_output=True,
    )
    leaf = x509.load_pem_x509_certificate((work / "leaf.crt").read_bytes())
    return write_pair(directory, "weak", Issued(leaf, key), [issuer])


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_pair(directory: Path, stem: str, leaf: Issued, chain: list[Issued]) -> Pair:
    cert_file = directory / f"{stem}.crt"
    key_file = directory / f"{stem}.key"
    cert_file.write_bytes(b"".join(pem(c.cert) for c in [leaf, *chain]))
    key_file.write_bytes(_key_pem(leaf.key))
    key_file.chmod(0o644)  # read by Dovecot's and Postfix's unprivileged processes in the lab
    return Pair(cert_file, key_file)


@dataclass
class LabPki:
    root_file: Path  # the private root alone: --ca-file for most tests
    bundle_file: Path  # root + intermediate: lets the probe spot a missing intermediate
    pairs: dict[str, Pair]


def build(directory: Path, hosts: dict[str, str], web_names: list[str]) -> LabPki:
    """hosts: scenario -> host name. Returns the files every lab server needs."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    root = make_ca("maildiag lab root")
    inter = make_ca("maildiag lab intermediate", root, path_length=0)
    (directory / "root.pem").write_bytes(pem(root.cert))
    (directory / "bundle.pem").write_bytes(pem(root.cert) + pem(inter.cert))

    def leaf(scenario: str, **kwargs) -> Issued:
        return make_leaf([hosts[scenario]], inter, **kwargs)

    pairs = {
        "good": write_pair(
            directory, "good", make_leaf([hosts["good"], "127.0.0.2"], inter), [inter]
        ),
        "expired": write_pair(
            directory,
            "expired",
            leaf("expired", not_before=now - 400 * DAY, not_after=now - 3 * DAY),
            [inter],
        ),
        "future": write_pair(
            directory,
            "future",
            leaf("future", not_before=now + 10 * DAY, not_after=now + 400 * DAY),
            [inter],
        ),
        "soon": write_pair(
            directory,
            "soon",
            leaf("soon", not_before=now - 80 * DAY, not_after=now + 5 * DAY),
            [inter],
        ),
        "wrongname": write_pair(
            directory, "wrongname", make_leaf(["mail.other.test", "*.other.test"], inter), [inter]
        ),
        "selfsigned": write_pair(
            directory, "selfsigned", make_leaf([hosts["selfsigned"]], None), []
        ),
        "chainless": write_pair(directory, "chainless", leaf("chainless"), []),
        "weak": weak_pair(directory, hosts["legacy"], inter),
        "web": write_pair(directory, "web", make_leaf(web_names, inter), [inter]),
    }
    return LabPki(directory / "root.pem", directory / "bundle.pem", pairs)
