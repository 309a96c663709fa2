"""Certificates OpenSSL accepts and cryptography refuses or warns about: described as far
as they can be read, reported as a finding, never a crash, a warning on stderr, or the
loss of the other services' results."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from diag.tls.certificate import read_chain
from diag.tls.der import DerError, read_certificate
from tests.lab import tlsfaults as tf
from tests.lab.scripted import ScriptedServers

KEY = ec.generate_private_key(ec.SECP256R1())
NOW = datetime.now(UTC)


def certificate(
    cn: str = "mail.odd.test",
    *,
    san: str = "mail.odd.test",
    serial: int = 0x7A1234567,
    cn_type: _ASN1Type | None = None,
) -> bytes:
    attribute = (
        x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=cn_type, _validate=False)
        if cn_type
        else x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)
    )
    name = x509.Name([attribute])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    )
    return builder.sign(KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def patch_last(der: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the last occurrence (same length: the DER lengths stay right)."""
    assert len(old) == len(new)
    index = der.rindex(old)
    return der[:index] + new + der[index + len(old) :]


def patch_first(der: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new)
    return der.replace(old, new, 1)


EIGHT_BIT_SAN = patch_last(certificate(san="mail.xxxx.test"), b"xxxx", b"\xe9\xe9\xe9\xe9")
NOT_UTF8_NAME = patch_first(certificate(cn="mail.yyyy.test"), b"yyyy", b"\xff\xfe\xfd\xfc")
TELETEX_8BIT = certificate(cn="Z-rich mail", cn_type=_ASN1Type.T61String).replace(
    b"Z-rich", b"Z\xfcrich"
)
NEGATIVE_SERIAL = patch_first(
    certificate(serial=0x7A1234567),
    bytes.fromhex("020507a1234567"),
    bytes.fromhex("0205f7a1234567"),
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # made on purpose
    LONG_CN = certificate(cn="x" * 80)


@pytest.mark.parametrize(
    ("der", "words"),
    [
        (EIGHT_BIT_SAN, "dNSName (IA5String with 8-bit bytes)"),
        (NOT_UTF8_NAME, "CN (UTF8String) that is not UTF-8"),
        (TELETEX_8BIT, "subject CN (TeletexString)"),
        (NEGATIVE_SERIAL, "serial number is negative"),
        (LONG_CN, "longer than RFC 5280 allows"),
    ],
)
def test_odd_certificate_is_described_with_a_problem(der, words, recwarn):
    reading = read_chain([der])
    (info,) = reading.infos
    assert any(words in p for p in info.problems), info.problems
    assert info.sha256 and info.not_after
    assert reading.detail  # the library's own words, for the JSON detail field
    assert not [w for w in recwarn.list if "cryptography" in str(w.filename)]


def test_eight_bit_san_is_still_read_leniently():
    reading = read_chain([EIGHT_BIT_SAN])
    assert reading.certificates is None  # trust cannot be judged
    info = reading.infos[0]
    assert info.dns_names == ["mail.\xe9\xe9\xe9\xe9.test"] and not info.strictly_readable
    assert info.common_name == "mail.odd.test" and info.key_type == "EC"


def test_teletex_name_is_read():
    raw = read_certificate(TELETEX_8BIT)
    assert raw.subject.get("2.5.4.3") == "Z\xfcrich mail"
    assert any("TeletexString" in o for o in raw.odd_strings)


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x02\x01"])
def test_lenient_reader_refuses_garbage_cleanly(der):
    with pytest.raises(DerError):
        read_certificate(der)
    reading = read_chain([der])
    assert reading.infos[0].subject == "(unreadable)" and reading.certificates is None


ODD = "127.0.4.40"


@pytest.fixture(scope="module")
def odd_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("odd")
    key_file = directory / "odd.key"
    key_file.write_bytes(
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    contexts = {}
    for name, der in (("san", EIGHT_BIT_SAN), ("serial", NEGATIVE_SERIAL)):
        cert_file = directory / f"{name}.crt"
        cert_file.write_text(ssl.DER_cert_to_PEM_cert(der))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        contexts[name] = context
    running = ScriptedServers()
    try:
        running.serve(ODD, 993, tf.imap_implicit(contexts["san"]))
        running.serve(ODD, 995, tf.pop3_implicit(contexts["serial"]))
        yield running
    finally:
        running.stop()


@pytest.mark.lab
def test_one_odd_certificate_keeps_the_other_services(odd_server):
    command = [sys.executable, "-W", "default", "-m", "diag", "probe", ODD]
    result = subprocess.run(
        [*command, "-p", "993", "-p", "995", "--json", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stderr == ""  # no traceback, no warning
    data = json.loads(result.stdout)
    assert data["exit_code"] == result.returncode != 3
    services = {s["service"]: s for s in data["services"]}
    assert set(services) == {"imap/993", "pop3/995"}
    imaps = services["imap/993"]
    assert imaps["tls"]["ok"] and imaps["greeting"]["ok"]
    assert imaps["tls"]["chain"][0]["dns_names"] == ["mail.\u00e9\u00e9\u00e9\u00e9.test"]
    assert imaps["tls"]["trust"] is None
    pop3s = services["pop3/995"]
    assert pop3s["tls"]["ok"] and pop3s["tls"]["trust"] is not None
    malformed = {f["service"]: f for f in data["findings"] if f["code"] == "tls.cert.malformed"}
    assert "8-bit" in malformed["imap/993"]["evidence"]
    assert "could not be checked" in malformed["imap/993"]["message"]
    assert "negative" in malformed["pop3/995"]["evidence"]
    assert malformed["pop3/995"]["detail"]
