"""The raw-handshake scanner: ClientHello builder, ServerHello/alert parser, and scans of
real (openssl s_server) and canned servers."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diag.model import Security, ServiceSpec
from diag.net.connection import Budget
from diag.tlsscan.hello import client_hello
from diag.tlsscan.parse import (
    MAX_RECORD,
    NEED_MORE,
    Alert,
    Garbage,
    ServerHello,
    parse,
)
from diag.tlsscan.scan import scan_service
from diag.tlsscan.suites import ALL_LEGACY, TLS13, VERSIONS, WEAK_CLASSES
from tests.lab import pki
from tests.lab import tlsfaults as tf
from tests.lab.scripted import ScriptedServers
from tests.lab.sserver import start_s_server

# --- the ClientHello builder ------------------------------------------------------------------


def _hello_fields(record: bytes) -> dict:
    assert record[0] == 22
    (length,) = struct.unpack_from("!H", record, 3)
    assert len(record) == 5 + length
    body = record[9:]
    assert record[5] == 1 and int.from_bytes(record[6:9], "big") == len(body)
    version, sid = struct.unpack_from("!H", body)[0], body[34]
    offset = 35 + sid
    (suites_len,) = struct.unpack_from("!H", body, offset)
    suites = [struct.unpack_from("!H", body, offset + 2 + i)[0] for i in range(0, suites_len, 2)]
    offset += 2 + suites_len
    assert body[offset : offset + 2] == b"\x01\x00"  # null compression only
    offset += 2
    extensions = {}
    if offset < len(body):
        (total,) = struct.unpack_from("!H", body, offset)
        offset += 2
        assert offset + total == len(body)
        while offset < len(body):
            kind, size = struct.unpack_from("!HH", body, offset)
            extensions[kind] = body[offset + 4 : offset + 4 + size]
            offset += 4 + size
    return {
        "record_version": struct.unpack_from("!H", record, 1)[0],
        "version": version,
        "suites": suites,
        "extensions": extensions,
    }


@pytest.mark.parametrize("version", list(VERSIONS))
def test_client_hello_offers_exactly_one_version(version):
    suites = tuple(TLS13) if version == "TLSv1.3" else ALL_LEGACY
    fields = _hello_fields(client_hello(version, suites, "mail.example.com"))
    if version == "SSLv3":
        assert fields["record_version"] == 0x0300 and fields["version"] == 0x0300
        assert fields["extensions"] == {}  # SSLv3 knows no extensions
    elif version == "TLSv1.3":
        assert fields["version"] == 0x0303
        assert fields["extensions"][43] == b"\x02\x03\x04"  # supported_versions: 1.3 only
        assert 51 in fields["extensions"]  # key_share
        assert fields["suites"] == list(TLS13)
    else:
        assert fields["version"] == VERSIONS[version]
        assert b"mail.example.com" in fields["extensions"][0]
        assert (13 in fields["extensions"]) is (version == "TLSv1.2")
    if version != "TLSv1.3":
        assert fields["suites"][-1] == 0x00FF  # renegotiation SCSV
        assert set(fields["suites"][:-1]) == set(suites)


def test_client_hello_avoids_the_256_to_511_byte_range():
    for suites in (WEAK_CLASSES["RC4"], WEAK_CLASSES["anonymous"], ALL_LEGACY):
        size = len(client_hello("TLSv1.2", suites, "x" * 40)) - 5
        assert not 256 <= size < 512, size


# --- the parser ---------------------------------------------------------------------------------


def server_hello(version=0x0303, suite=0x002F, extensions=b"", random=bytes(32)) -> bytes:
    body = struct.pack("!H", version) + random + b"\x00" + struct.pack("!H", suite) + b"\x00"
    if extensions:
        body += struct.pack("!H", len(extensions)) + extensions
    message = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x03" + struct.pack("!H", len(message)) + message


def test_parses_server_hello_and_tls13_selected_version():
    assert parse(server_hello()) == ServerHello(0x0303, 0x002F)
    tls13 = server_hello(suite=0x1301, extensions=b"\x00\x2b\x00\x02\x03\x04")
    assert parse(tls13) == ServerHello(0x0304, 0x1301)


def test_hello_retry_request_counts_as_tls13():
    from diag.tlsscan.parse import HELLO_RETRY_RANDOM

    retry = server_hello(
        suite=0x1301, extensions=b"\x00\x2b\x00\x02\x03\x04", random=HELLO_RETRY_RANDOM
    )
    answer = parse(retry)
    assert answer.version == 0x0304 and answer.retry


def test_parses_alert():
    answer = parse(b"\x15\x03\x01\x00\x02\x02\x46")
    assert isinstance(answer, Alert) and answer.name == "protocol_version"


def test_server_hello_split_across_records():
    whole = server_hello()
    message = whole[5:]
    split = b"".join(
        b"\x16\x03\x03" + struct.pack("!H", len(part)) + part for part in (message[:7], message[7:])
    )
    assert parse(split) == ServerHello(0x0303, 0x002F)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x16\x03", server_hello()[:20], b"\x16\x03\x03\x00\x10" + b"\x02\x00"],
)
def test_truncated_input_needs_more(data):
    assert parse(data) is NEED_MORE


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"220 mail.example.com ESMTP\r\n", "plaintext"),
        (b"* OK IMAP ready\r\n", "plaintext"),
        (b"\x80\x2e\x04\x00", "SSLv2"),
        (b"\x16\x03\x03" + struct.pack("!H", MAX_RECORD + 1), "impossible length"),
        (b"\x16\x03\x03\x00\x04\x0b\x00\x00\x00", "type 11"),  # a Certificate first
        (b"\x16\x03\x03\x00\x04\x02\xff\xff\xff", "impossible length"),
        (b"\x17\x03\x03\x00\x01\x00", "other than a handshake"),
        (b"\x15\x03\x03\x00\x01\x02", "truncated alert"),
        (server_hello(extensions=b"\x00\x2b\x00\x09\x03"), "malformed"),
    ],
)
def test_garbage_is_named(data, reason):
    answer = parse(data)
    assert isinstance(answer, Garbage) and reason in answer.reason


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2048))
def test_parser_never_raises_on_arbitrary_bytes(data):
    answer = parse(data)
    assert answer is NEED_MORE or isinstance(answer, ServerHello | Alert | Garbage)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=300),
    st.integers(0, 400),
)
def test_parser_on_mutated_server_hellos(version, suite, extensions, cut):
    data = server_hello(version, suite, extensions)
    for candidate in (data, data[:cut], data + extensions):
        answer = parse(candidate)
        assert answer is NEED_MORE or isinstance(answer, ServerHello | Alert | Garbage)


# --- scans of real and canned servers ----------------------------------------------------------

S_SERVER = "127.0.4.30"


def scan(address: str, port: int, security=Security.TLS, protocol="imap"):
    spec = ServiceSpec(protocol, port, security)
    return asyncio.run(scan_service(address, spec, "scan.test", Budget(3.0)))


@pytest.fixture(scope="module")
def s_servers(tmp_path_factory):
    """Real OpenSSL servers configured as old mail servers are."""
    directory = tmp_path_factory.mktemp("sserver")
    pair = pki.write_pair(directory, "leaf", pki.make_leaf(["scan.test"], None), [])
    old = "ALL:eNULL:@SECLEVEL=0"
    processes = []
    try:
        for port, options in (
            (1001, ("-tls1", "-cipher", old)),  # TLS 1.0 only, every suite
            (1002, ("-cipher", "aNULL:@SECLEVEL=0", "-no_tls1_3")),  # anonymous only
            (1003, ("-cipher", "eNULL:@SECLEVEL=0", "-no_tls1_3")),  # NULL only
            (1004, ("-cipher", "HIGH:!aNULL", "-no_tls1", "-no_tls1_1")),  # modern
            (1005, ("-tls1_1", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0")),  # TLS 1.1 only
        ):
            processes.append(
                start_s_server(f"s_server-{port}", S_SERVER, port, pair, directory, *options)
            )
        yield
    finally:
        for process in processes:
            process.stop()


@pytest.mark.lab
def test_scan_tls10_only_server(s_servers):
    result = scan(S_SERVER, 1001)
    assert result.versions == {
        "SSLv3": False,
        "TLSv1": True,
        "TLSv1.1": False,
        "TLSv1.2": False,
        "TLSv1.3": False,
    }
    assert result.answers["TLSv1.2"] == "the server answered with TLSv1"  # a hello sets a maximum
    # This OpenSSL has no RC4, 3DES or EXPORT; NULL and anonymous it has at SECLEVEL=0,
    # and the weak hello's TLS 1.2 is a maximum: the server takes them at TLS 1.0.
    assert set(result.weak_accepted) == {"NULL", "anonymous"}
    assert {w.version for w in result.weak_accepted.values()} == {"TLSv1"}
    assert result.weak["EXPORT"].accepted is False and result.weak["RC4"].accepted is False


@pytest.mark.lab
def test_scan_tls11_only_server(s_servers):
    result = scan(S_SERVER, 1005)
    assert [v for v, ok in result.versions.items() if ok] == ["TLSv1.1"]


@pytest.mark.lab
def test_scan_anonymous_suites(s_servers):
    result = scan(S_SERVER, 1002)
    anonymous = result.weak["anonymous"]
    assert anonymous.accepted and "_anon_" in anonymous.suite and anonymous.version == "TLSv1.2"
    # OpenSSL's aNULL includes AECDH-NULL-SHA: anonymous *and* unencrypted.
    assert result.weak["NULL"].suite == "TLS_ECDH_anon_WITH_NULL_SHA"
    assert not result.weak["RC4"].accepted and not result.weak["3DES"].accepted


@pytest.mark.lab
def test_scan_null_suites(s_servers):
    result = scan(S_SERVER, 1003)
    assert result.weak["NULL"].accepted and "NULL" in result.weak["NULL"].suite
    assert [v for v, ok in result.versions.items() if ok] == [
        "TLSv1",
        "TLSv1.1",
        "TLSv1.2",
    ]  # not 1.3


@pytest.mark.lab
def test_scan_modern_server(s_servers):
    result = scan(S_SERVER, 1004)
    assert [v for v, ok in result.versions.items() if ok] == ["TLSv1.2", "TLSv1.3"]
    assert result.weak_accepted == {}
    assert result.hellos == 4  # TLS 1.3, TLS 1.2, TLS 1.1 and below (refused), weak


@pytest.fixture(scope="module")
def canned():
    running = ScriptedServers()
    rc4 = set(WEAK_CLASSES["RC4"]) - set(WEAK_CLASSES["anonymous"])  # "RC4:!aNULL"
    try:
        everything = set(ALL_LEGACY)
        running.serve(tf.ADDRESS["sslv3_only"], 993, tf.canned(0x0300, everything))
        running.serve(tf.ADDRESS["rc4_only"], 993, tf.canned(0x0303, rc4))
        yield running
    finally:
        running.stop()


@pytest.mark.lab
def test_scan_sslv3_only_server(canned):
    result = scan(tf.ADDRESS["sslv3_only"], 993)
    assert result.versions["SSLv3"] is True
    assert not any(result.versions[v] for v in ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"))
    assert "answered with SSLv3" in result.answers["TLSv1"]


@pytest.mark.lab
def test_scan_rc4_only_server(canned):
    result = scan(tf.ADDRESS["rc4_only"], 993)
    assert set(result.weak_accepted) == {"RC4"}
    assert "RC4" in result.weak["RC4"].suite


@pytest.mark.lab
def test_probe_reports_sslv3_as_error_even_when_python_cannot_handshake(canned):
    from tests.conftest import probe

    report = probe(tf.ADDRESS["sslv3_only"], ports=(993,), timeout=2)
    legacy = next(f for f in report.all_findings if f.code == "tls.legacy_protocol")
    assert legacy.severity.value == "error" and "SSLv3" in legacy.message
    assert "tls.handshake_failed" in {f.code for f in report.all_findings}


@pytest.mark.lab
def test_probe_reports_rc4_as_warning(canned):
    from tests.conftest import probe

    report = probe(tf.ADDRESS["rc4_only"], ports=(993,), timeout=2)
    weak = next(f for f in report.all_findings if f.code == "tls.weak_cipher")
    assert weak.severity.value == "warning" and "RC4" in weak.evidence
