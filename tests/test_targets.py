"""Probing any port the way it speaks: HOST:PORT, [IPv6]:PORT, --tls/--starttls, 2525."""

from __future__ import annotations

import pytest

from diag.errors import BadInput
from diag.model import Security, ServiceSpec
from diag.net.target import split_host_port
from diag.probe import select_services
from tests.conftest import codes, probe, service
from tests.lab import tlsfaults as tf
from tests.lab.scripted import ScriptedServers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail.example.com", ("mail.example.com", None)),
        ("mail.example.com:993", ("mail.example.com", 993)),
        ("192.0.2.1:2525", ("192.0.2.1", 2525)),
        ("[2001:db8::1]:587", ("2001:db8::1", 587)),
        ("[2001:db8::1]", ("2001:db8::1", None)),
        ("2001:db8::1", ("2001:db8::1", None)),  # a bare IPv6 literal has no port
        ("::1", ("::1", None)),
    ],
)
def test_split_host_port(text, expected):
    assert split_host_port(text) == expected


@pytest.mark.parametrize(
    "text", ["mail.example.com:", "host:99999", "host:0", "host:²", "[::1", "[::1]x", "h:-1"]
)
def test_bad_ports_are_bad_input(text):
    with pytest.raises(BadInput):
        split_host_port(text)


def test_2525_is_known_as_smtp_with_starttls():
    assert select_services((2525,), ()) == [ServiceSpec("smtp", 2525, Security.STARTTLS)]


def test_nonstandard_port_with_tls():
    chosen = select_services((10993,), ("imap",), Security.TLS)
    assert chosen == [ServiceSpec("imap", 10993, Security.TLS)]
    assert select_services((10143,), ("imap",)) == [ServiceSpec("imap", 10143, Security.STARTTLS)]


def test_security_override_needs_a_port():
    with pytest.raises(BadInput):
        select_services((), ("imap",), Security.TLS)


def test_unknown_port_still_needs_a_protocol():
    with pytest.raises(BadInput):
        select_services((10993,), ())


IMPLICIT = tf.ADDRESS["implicit"]


@pytest.fixture(scope="module")
def implicit(tmp_path_factory):
    context = tf.server_context(tmp_path_factory.mktemp("implicit"), [IMPLICIT])
    running = ScriptedServers()
    try:
        running.serve(IMPLICIT, 10993, tf.imap_implicit(context))
        running.serve(IMPLICIT, 2525, tf.smtp_server(context, injectable=False))
        yield running
    finally:
        running.stop()


@pytest.mark.lab
def test_implicit_tls_on_a_nonstandard_port(implicit):
    report = probe(IMPLICIT, ports=(10993,), protocols=("imap",), security=Security.TLS)
    imaps = service(report, "imap/10993")
    assert imaps.tls.ok and imaps.greeting.ok
    assert "banner.timeout" not in codes(report) and "banner.invalid" not in codes(report)


@pytest.mark.lab
def test_port_2525_without_protocol(implicit):
    report = probe(IMPLICIT, ports=(2525,))
    smtp = service(report, "smtp/2525")
    assert smtp.starttls.ok and smtp.tls.ok
