"""Pure functions: names, RFC 6125 matching, reply parsing, options. No network."""

from __future__ import annotations

import pytest

from diag.errors import BadInput
from diag.net.dns import Nameserver
from diag.net.names import normalize_host, validate_target
from diag.probe import select_services
from diag.protocols.imap import Imap
from diag.protocols.pop3 import Pop3
from diag.protocols.smtp import Smtp
from diag.tls.hostname import matches


@pytest.mark.parametrize(
    ("host", "dns", "ips", "expected"),
    [
        ("mail.example.com", ["mail.example.com"], [], True),
        ("MAIL.Example.COM.", ["mail.example.com"], [], True),
        ("mail.example.com", ["*.example.com"], [], True),
        ("a.b.example.com", ["*.example.com"], [], False),  # one label only
        ("example.com", ["*.example.com"], [], False),
        ("mail.example.com", ["m*.example.com"], [], False),  # no partial wildcards
        ("mail.com", ["*.com"], [], False),  # too broad
        ("mail.example.com", ["mail.example.org"], [], False),
        ("bücher.example", ["xn--bcher-kva.example"], [], True),  # IDN, U-label vs A-label
        ("xn--bcher-kva.example", ["bücher.example"], [], False),  # a Unicode dNSName: malformed
        ("bücher.example", ["bücher.example"], [], False),  # compared as clients do: bytes
        ("xn--bcher-kva.shop.example", ["*.shop.example"], [], True),
        ("xn--bcher-kva.example", ["*.example"], [], False),  # wildcard under one label
        ("127.0.0.2", ["127.0.0.2"], [], False),  # an IP never matches a DNS name
        ("127.0.0.2", [], ["127.0.0.2"], True),
        ("::1", [], ["0:0:0:0:0:0:0:1"], True),
    ],
)
def test_rfc6125_matching(host, dns, ips, expected):
    assert matches(host, dns, ips) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail.Example.COM.", "mail.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_normalize_host(text, expected):
    assert normalize_host(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        "bad host",
        "-lead.example",
        "a..b",
        "x" * 64 + ".com",
        "a.b.123",
        "exa_mple.com",
        "a" * 250 + ".com",
        "\udcff.com",
    ],
)
def test_bad_host_names(text):
    with pytest.raises(BadInput):
        normalize_host(text)


def test_targets_accept_ip_literals():
    assert validate_target("[::1]") == "::1"
    assert validate_target("127.0.0.2") == "127.0.0.2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.53", Nameserver("127.0.0.53", 53)),
        ("127.0.0.53:5353", Nameserver("127.0.0.53", 5353)),
        ("[::1]:5353", Nameserver("::1", 5353)),
        ("::1", Nameserver("::1", 53)),
    ],
)
def test_nameserver_parse(text, expected):
    assert Nameserver.parse(text) == expected


@pytest.mark.parametrize("text", ["dns.example", "1.2.3.4:0", "1.2.3.4:99999", "[::1", "1.2.3.4:x"])
def test_nameserver_parse_rejects(text):
    with pytest.raises(BadInput):
        Nameserver.parse(text)


def test_service_selection():
    assert [s.label for s in select_services((), ("pop3",))] == ["pop3/995", "pop3/110"]
    assert [s.label for s in select_services((993, 25), ())] == ["imap/993", "smtp/25"]
    assert [s.label for s in select_services((2525,), ("smtp",))] == ["smtp/2525"]
    assert [s.label for s in select_services((2525,), ())] == ["smtp/2525"]  # known port
    for ports, protocols in [((10025,), ()), ((993,), ("smtp",)), ((), ("gopher",)), ((0,), ())]:
        with pytest.raises(BadInput):
            select_services(ports, protocols)


def test_imap_auth_offer():
    offer = Imap().auth_offer(["IMAP4rev1", "STARTTLS", "LOGINDISABLED"])
    assert not offer.plaintext_login and not offer.offered
    offer = Imap().auth_offer(["IMAP4rev1", "AUTH=PLAIN", "AUTH=XOAUTH2"])
    assert offer.plaintext_login and offer.mechanisms == ["PLAIN", "XOAUTH2"]
    offer = Imap().auth_offer(["IMAP4rev1", "LOGINDISABLED", "AUTH=XOAUTH2"])
    assert not offer.plaintext_login and offer.offered


def test_pop3_auth_offer():
    assert Pop3().auth_offer(["USER", "TOP"]).plaintext_login
    offer = Pop3().auth_offer(["SASL SCRAM-SHA-256", "STLS"])
    assert offer.mechanisms == ["SCRAM-SHA-256"] and not offer.plaintext_login


def test_smtp_auth_offer_accepts_both_syntaxes():
    offer = Smtp().auth_offer(["PIPELINING", "AUTH PLAIN LOGIN", "AUTH=LOGIN PLAIN"])
    assert offer.mechanisms == ["PLAIN", "LOGIN"] and offer.plaintext_login
