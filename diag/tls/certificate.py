"""Describe a certificate: the facts a helpdesk reads and the findings are judged on."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from diag.model import CertificateInfo

if TYPE_CHECKING:
    from diag.tls.der import RawCertificate


def describe(cert: x509.Certificate, now: datetime | None = None) -> CertificateInfo:
    """The facts of a certificate cryptography has loaded; ValueError when a field it
    parses lazily (a name, an extension) turns out unreadable."""
    now = now or datetime.now(UTC)
    cert.extensions  # noqa: B018  (parsed lazily: an unreadable extension raises here)
    not_after = cert.not_valid_after_utc
    key_type, key_bits, curve = _key(cert)
    dns_names, ips = subject_alt_names(cert)
    hash_algorithm = _signature_hash(cert)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=common_name(cert),
        serial=format(cert.serial_number, "X"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=not_after.isoformat(),
        days_left=(not_after - now).days,
        dns_names=dns_names,
        ip_addresses=ips,
        key_type=key_type,
        key_bits=key_bits,
        key_curve=curve,
        signature_algorithm=_signature_name(cert),
        signature_hash=hash_algorithm,
        sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        self_signed=is_self_signed(cert),
        is_ca=_is_ca(cert),
        aia_ca_issuers=ca_issuer_urls(cert),
    )


@dataclass
class ChainReading:
    """A chain as far as it can be read: facts for each certificate, and the parsed
    certificates when a strict parser read them all (None: trust cannot be judged)."""

    infos: list[CertificateInfo]
    certificates: list[x509.Certificate] | None
    detail: list[str] = field(default_factory=list)  # the parsers' own messages


_WARNINGS = (
    (
        "serial number which wasn't positive",
        "the serial number is negative or zero (RFC 5280 requires a positive one)",
    ),
    (
        "Attribute's length must be",
        "a name attribute is longer than RFC 5280 allows (e.g. a CN over 64 characters)",
    ),
)


def read_chain(der_chain: list[bytes], now: datetime | None = None) -> ChainReading:
    """Describe every certificate; never raises, and never lets a parser's warning out.

    cryptography refuses some certificates OpenSSL accepts (an IA5String with 8-bit
    bytes, a UTF8String that is not UTF-8) and warns about others (negative serials,
    over-long attributes): each becomes a plain-language entry in `problems`, and an
    unreadable certificate is described by the lenient reader instead.
    """
    from diag.tls.der import DerError, read_certificate

    infos: list[CertificateInfo] = []
    certificates: list[x509.Certificate] | None = []
    detail: list[str] = []
    for position, der in enumerate(der_chain):
        who = "the server certificate" if position == 0 else f"certificate {position + 1}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cert = x509.load_der_x509_certificate(der)
                info = describe(cert, now)
            except ValueError as exc:
                cert = None
                detail.append(f"{who}: {exc}")
        messages = list(dict.fromkeys(str(w.message) for w in caught))
        if cert is None:
            certificates = None
            try:
                raw = read_certificate(der)
            except DerError as exc:
                detail.append(f"{who}: lenient reader: {exc}")
                infos.append(_unreadable(der, now))
                continue
            info = _from_raw(raw, now)
            odd = ", ".join(raw.odd_strings) or "its encoding"
            info.problems.append(
                f"strict parsers cannot read {who} ({odd}); OpenSSL-based mail clients "
                "accept it, others (Python's cryptography, rustls- and Go-based ones) may not"
            )
        elif certificates is not None:
            certificates.append(cert)
        for message in messages:
            detail.append(f"{who}: {message}")
            plain = next((p for marker, p in _WARNINGS if marker in message), None)
            info.problems.append(plain or "it breaks an encoding rule strict parsers warn about")
        info.problems = list(dict.fromkeys(info.problems))
        infos.append(info)
    return ChainReading(infos, certificates, detail)


def _from_raw(raw: RawCertificate, now: datetime | None) -> CertificateInfo:
    now = now or datetime.now(UTC)
    return CertificateInfo(
        subject=raw.subject.rfc4514(),
        issuer=raw.issuer.rfc4514(),
        common_name=raw.subject.get("2.5.4.3"),
        serial=format(raw.serial, "X"),
        not_before=raw.not_before.isoformat(),
        not_after=raw.not_after.isoformat(),
        days_left=(raw.not_after - now).days,
        dns_names=raw.dns_names,
        ip_addresses=raw.ip_addresses,
        key_type=_KEY_OIDS.get(raw.key_oid, "unknown"),
        key_bits=0,
        key_curve=None,
        signature_algorithm=raw.signature_oid,
        signature_hash=None,
        sha256=":".join(raw.sha256[i : i + 2] for i in range(0, len(raw.sha256), 2)),
        self_signed=raw.subject.attributes == raw.issuer.attributes,
        is_ca=raw.is_ca,
        strictly_readable=False,
    )


def _unreadable(der: bytes, now: datetime | None) -> CertificateInfo:
    import hashlib

    digest = hashlib.sha256(der).hexdigest().upper()
    stamp = (now or datetime.now(UTC)).isoformat()
    return CertificateInfo(
        subject="(unreadable)",
        issuer="(unreadable)",
        common_name=None,
        serial="",
        not_before=stamp,
        not_after=stamp,
        days_left=0,
        dns_names=[],
        ip_addresses=[],
        key_type="unknown",
        key_bits=0,
        key_curve=None,
        signature_algorithm="unknown",
        signature_hash=None,
        sha256=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        self_signed=False,
        is_ca=False,
        problems=["the certificate cannot be read at all, not even by a lenient reader"],
        strictly_readable=False,
    )


_KEY_OIDS = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.10045.2.1": "EC",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "1.2.840.10040.4.1": "DSA",
}


def common_name(cert: x509.Certificate) -> str | None:
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attributes[0].value) if attributes else None


def subject_alt_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except (x509.ExtensionNotFound, ValueError):
        return [], []
    dns_names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns_names, ips


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # InvalidSignature, UnsupportedAlgorithm: not provably self-signed
        return False
    return True


def _key(cert: x509.Certificate) -> tuple[str, int, str | None]:
    try:
        key = cert.public_key()
    except Exception:  # an unsupported or malformed key
        return "unknown", 0, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, 0, None


def _signature_hash(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # UnsupportedAlgorithm for exotic signatures
        return None
    return algorithm.name if algorithm else None


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        return False


def ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    """Where the issuer's certificate is published (AIA): Windows, Apple and browsers fetch
    it; Thunderbird and OpenSSL-based clients do not."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]
