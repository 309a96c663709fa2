"""A lenient reader for certificates a strict parser refuses.

OpenSSL (and so most mail clients) accepts certificates whose names use string types
or bytes that cryptography rejects (an IA5String with 8-bit bytes, a UTF8String that is
not UTF-8). To describe such a certificate anyway, this walks the DER itself: names,
serial, dates, subjectAltName and the algorithm OIDs, decoding every string as far as
it goes. Every length is checked against what is there; malformed input raises
`DerError`, never anything else.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime


class DerError(ValueError):
    """The bytes are not a certificate even by lenient rules."""


@dataclass
class Tlv:
    tag: int
    value: bytes


def _read(data: bytes, offset: int) -> tuple[Tlv, int]:
    if offset + 2 > len(data):
        raise DerError("truncated")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise DerError("truncated")
    return Tlv(tag, data[offset : offset + length]), offset + length


def children(value: bytes) -> list[Tlv]:
    out: list[Tlv] = []
    offset = 0
    while offset < len(value):
        item, offset = _read(value, offset)
        out.append(item)
        if len(out) > 10_000:
            raise DerError("too many elements")
    return out


def oid(value: bytes) -> str:
    if not value:
        raise DerError("empty OID")
    parts = [value[0] // 40, value[0] % 40]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(str(p) for p in parts)


_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x13: "latin-1",  # PrintableString
    0x14: "latin-1",  # TeletexString (T61): Latin-1 is what OpenSSL shows
    0x16: "latin-1",  # IA5String (7-bit by rule; 8-bit bytes in the wild)
    0x1A: "latin-1",  # VisibleString
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}
STRING_TYPE_NAMES = {
    0x0C: "UTF8String",
    0x13: "PrintableString",
    0x14: "TeletexString",
    0x16: "IA5String",
    0x1A: "VisibleString",
    0x1E: "BMPString",
    0x1C: "UniversalString",
}
_ATTRIBUTES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}


def text(item: Tlv) -> str:
    return item.value.decode(_STRING_CODECS.get(item.tag, "latin-1"), errors="replace")


@dataclass
class Name:
    attributes: list[tuple[str, int, str]] = field(default_factory=list)  # (oid, tag, text)

    def rfc4514(self) -> str:
        parts = [f"{_ATTRIBUTES.get(o, o)}={v}" for o, _, v in reversed(self.attributes)]
        return ",".join(parts)

    def get(self, attribute_oid: str) -> str | None:
        return next((v for o, _, v in self.attributes if o == attribute_oid), None)


def _name(item: Tlv) -> tuple[Name, list[str]]:
    name = Name()
    odd: list[str] = []
    for rdn in children(item.value):
        for pair in children(rdn.value):
            parts = children(pair.value)
            if len(parts) != 2:
                raise DerError("bad attribute")
            attribute_oid, value = oid(parts[0].value), parts[1]
            name.attributes.append((attribute_oid, value.tag, text(value)))
            label = f"{_ATTRIBUTES.get(attribute_oid, attribute_oid)} " + (
                f"({STRING_TYPE_NAMES.get(value.tag, f'tag {value.tag}')})"
            )
            if value.tag == 0x14 or (value.tag == 0x16 and any(b > 0x7F for b in value.value)):
                odd.append(label)
            elif value.tag == 0x0C:
                try:
                    value.value.decode("utf-8")
                except UnicodeDecodeError:
                    odd.append(label + " that is not UTF-8")
    return name, odd


def _time(item: Tlv) -> datetime:
    raw = item.value.decode("ascii", errors="replace").rstrip("Z")
    try:
        if item.tag == 0x17:  # UTCTime: YYMMDDHHMMSS
            parsed = datetime.strptime(raw[:12], "%y%m%d%H%M%S")
        else:
            parsed = datetime.strptime(raw[:14], "%Y%m%d%H%M%S")
    except ValueError:
        raise DerError("bad time") from None
    return parsed.replace(tzinfo=UTC)


@dataclass
class RawCertificate:
    serial: int
    signature_oid: str
    issuer: Name
    subject: Name
    not_before: datetime
    not_after: datetime
    key_oid: str
    dns_names: list[str]
    ip_addresses: list[str]
    sha256: str
    odd_strings: list[str]  # "CN (TeletexString)", "dNSName (IA5String with 8-bit bytes)"
    is_ca: bool = False


def read_certificate(der: bytes) -> RawCertificate:
    try:
        return _read_certificate(der)
    except DerError:
        raise
    except (IndexError, ValueError) as exc:
        raise DerError(str(exc)) from None


def _read_certificate(der: bytes) -> RawCertificate:
    certificate, _ = _read(der, 0)
    tbs = children(certificate.value)[0]
    fields = children(tbs.value)
    if fields and fields[0].tag == 0xA0:  # [0] version
        fields = fields[1:]
    if len(fields) < 6:
        raise DerError("too few fields")
    serial = int.from_bytes(fields[0].value, "big", signed=True)
    signature_oid = oid(children(fields[1].value)[0].value)
    issuer, odd_issuer = _name(fields[2])
    validity = children(fields[3].value)
    subject, odd_subject = _name(fields[4])
    key_oid = oid(children(children(fields[5].value)[0].value)[0].value)
    dns_names: list[str] = []
    ips: list[str] = []
    odd = [f"issuer {o}" for o in odd_issuer] + [f"subject {o}" for o in odd_subject]
    is_ca = False
    for extra in fields[6:]:
        if extra.tag != 0xA3:  # [3] extensions
            continue
        for extension in children(children(extra.value)[0].value):
            parts = children(extension.value)
            extension_oid = oid(parts[0].value)
            body = children(parts[-1].value)[0]
            if extension_oid == "2.5.29.17":  # subjectAltName
                for general in children(body.value):
                    if general.tag == 0x82:
                        dns_names.append(general.value.decode("latin-1"))
                        if any(b > 0x7F for b in general.value):
                            odd.append("subjectAltName dNSName (IA5String with 8-bit bytes)")
                    elif general.tag == 0x87 and len(general.value) in (4, 16):
                        ips.append(str(ipaddress.ip_address(general.value)))
            elif extension_oid == "2.5.29.19":  # basicConstraints
                inner = children(body.value)
                is_ca = bool(inner and inner[0].tag == 0x01 and inner[0].value[:1] == b"\xff")
    return RawCertificate(
        serial=serial,
        signature_oid=signature_oid,
        issuer=issuer,
        subject=subject,
        not_before=_time(validity[0]),
        not_after=_time(validity[1]),
        key_oid=key_oid,
        dns_names=dns_names,
        ip_addresses=ips,
        sha256=hashlib.sha256(der).hexdigest().upper(),
        odd_strings=list(dict.fromkeys(odd)),
        is_ca=is_ca,
    )
