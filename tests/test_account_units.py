"""The account test's pure parts: refusal table, SASL choice and encodings, secrets,
IMAP tokens, queue IDs, server options. No network."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from diag.account import refusals
from diag.account.imap import tokenize
from diag.account.sasl import CramMd5, Login, OAuthBearer, Plain, XOAuth2, choose
from diag.account.secret import Secret
from diag.account.smtp import queue_id
from diag.account.targets import parse_override, split_address
from diag.errors import BadInput
from diag.findings.catalogue import CATALOGUE
from diag.model import Security


@pytest.mark.parametrize(
    ("protocol", "text", "status", "code"),
    [
        ("imap", "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", "NO", "auth.rejected"),
        (
            "imap",
            "NO [ALERT] Application-specific password required: "
            "https://support.google.com/accounts/answer/185833 (Failure)",
            "NO",
            "auth.app_password_required",
        ),
        (
            "smtp",
            "534-5.7.9 Application-specific password required. Learn more at\n"
            "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor",
            534,
            "auth.app_password_required",
        ),
        (
            "smtp",
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            535,
            "auth.basic_disabled",
        ),
        (
            "imap",
            "NO [WEBALERT https://x.example/] Web login required",
            "NO",
            "auth.web_login_required",
        ),
        ("smtp", "534-5.7.14 Please log in via your web browser", 534, "auth.web_login_required"),
        ("imap", "NO [UNAVAILABLE] Account locked", "NO", "auth.account_unavailable"),
        ("imap", "NO [EXPIRED] Password expired", "NO", "auth.account_unavailable"),
        ("pop3", "-ERR [IN-USE] Mailbox locked", "-ERR", "auth.account_unavailable"),
        ("pop3", "-ERR [SYS/TEMP] try later", "-ERR", "auth.temporary"),
        ("pop3", "-ERR [AUTH] Authentication failed.", "-ERR", "auth.rejected"),
        ("smtp", "454 4.7.0 Temporary authentication failure", 454, "auth.temporary"),
        ("smtp", "554 5.7.0 Account suspended", 554, "auth.account_unavailable"),
        ("smtp", "535 5.7.8 Error: authentication failed", 535, "auth.rejected"),
        ("smtp", "504 5.5.4 Unrecognized authentication type", 504, "auth.mechanism_unsupported"),
        ("imap", "NO nope", "NO", "auth.refused"),
        ("pop3", "-ERR nope", "-ERR", "auth.refused"),
    ],
)
def test_refusal_classes(protocol, text, status, code):
    assert refusals.classify(protocol, text, status) == code


def test_every_phrase_has_a_source_comment_and_a_documented_code():
    source = (Path(refusals.__file__)).read_text().splitlines()
    for phrase, code in refusals.PHRASES:
        assert code in CATALOGUE
        line = next(i for i, text in enumerate(source) if f'("{phrase}",' in text)
        assert source[line - 1].strip().startswith("#"), phrase
    for code in {*refusals.RESPONSE_CODES.values(), *refusals.ENHANCED.values()}:
        assert code in CATALOGUE


@pytest.mark.parametrize(
    ("offered", "oauth", "legacy", "expected", "oauth_only"),
    [
        (["PLAIN", "LOGIN"], False, True, "PLAIN", False),
        (["LOGIN", "CRAM-MD5"], False, True, "LOGIN", False),
        (["CRAM-MD5"], False, False, "CRAM-MD5", False),
        ([], False, True, "IMAP-LOGIN", False),
        (["XOAUTH2", "OAUTHBEARER"], False, False, None, True),
        (["XOAUTH2", "PLAIN"], True, False, "XOAUTH2", False),
        (["OAUTHBEARER"], True, False, "OAUTHBEARER", False),
        (["PLAIN"], True, False, None, False),
        (["GSSAPI"], False, False, None, False),
    ],
)
def test_mechanism_choice(offered, oauth, legacy, expected, oauth_only):
    choice = choose(offered, oauth=oauth, legacy_login=legacy)
    assert (choice.mechanism, choice.oauth_only) == (expected, oauth_only)


def test_sasl_encodings_and_redaction():
    secret = Secret("s3cr3t")
    plain = Plain("jane", secret)
    blob = plain.encoded(plain.initial())
    assert base64.b64decode(blob) == b"\x00jane\x00s3cr3t"
    login = Login("jane", secret)
    assert login.respond(b"Username:") == b"jane"
    assert login.respond(b"Password:") == b"s3cr3t"
    assert login.respond(b"again?") is None
    cram = CramMd5("jane", Secret("tanstaaftanstaaf"))
    # RFC 2195's example
    answer = cram.respond(b"<1896.697170952@postoffice.reston.mci.net>")
    assert answer == b"jane b913a602c7eda7a495b4e6e7334d3890"
    assert XOAuth2("jane", secret).initial() == b"user=jane\x01auth=Bearer s3cr3t\x01\x01"
    bearer = OAuthBearer("jane", secret, "imap.example.com", 993).initial()
    assert bearer.startswith(b"n,a=jane,\x01host=imap.example.com\x01port=993\x01auth=Bearer")
    echoed = f"NO bad {blob} and s3cr3t and {base64.b64encode(b's3cr3t').decode()}"
    assert "s3cr3t" not in secret.redact(echoed)
    assert blob not in secret.redact(echoed)
    assert "s3cr3t" not in repr(secret) + str(secret) + f"{secret}"


def test_tokenize_imap_responses():
    assert tokenize('* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"') == [
        "*",
        "LIST",
        ["\\HasNoChildren", "\\Sent"],
        "/",
        "Sent Items",
    ]
    assert tokenize('* QUOTA "" (STORAGE 10 512)') == ["*", "QUOTA", "", ["STORAGE", "10", "512"]]
    assert tokenize('a "quo\\"te" (unclosed') == ["a", 'quo"te', ["unclosed"]]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("250 2.0.0 Ok: queued as 4XyZ12abC", "4XyZ12abC"),
        ("250 OK id=1tXyz-000abc-Ab", "1tXyz-000abc-Ab"),
        ("250 2.0.0 OK  1700000000 x1-20020a05.42 - gsmtp", "x1-20020a05.42"),
        ("250 Ok", None),
    ],
)
def test_queue_id(reply, expected):
    assert queue_id(reply) == expected


@pytest.mark.parametrize(
    ("protocol", "text", "security", "expected"),
    [
        ("imap", "mail.example.com", None, ("mail.example.com", 993, Security.TLS)),
        (
            "imap",
            "mail.example.com",
            Security.STARTTLS,
            ("mail.example.com", 143, Security.STARTTLS),
        ),
        ("smtp", "mail.example.com:587", None, ("mail.example.com", 587, Security.STARTTLS)),
        ("pop3", "[::1]:995", None, ("::1", 995, Security.TLS)),
        ("smtp", "127.0.0.1:2525", Security.TLS, ("127.0.0.1", 2525, Security.TLS)),
    ],
)
def test_server_options(protocol, text, security, expected):
    o = parse_override(protocol, text, security)
    assert (o.host, o.port, o.security) == expected


@pytest.mark.parametrize("text", ["mail.example.com:0", "mail.example.com:x", ":993", "[::1"])
def test_bad_server_options(text):
    with pytest.raises(BadInput):
        parse_override("imap", text, None)


@pytest.mark.parametrize("text", ["jane", "@example.com", "jane@", "ja ne@example.com", "<a>@b.c"])
def test_bad_addresses(text):
    with pytest.raises(BadInput):
        split_address(text)


def test_address_domain_is_normalised():
    assert split_address("Jane@Bücher.Example") == ("Jane", "xn--bcher-kva.example")


def test_no_module_prints_or_logs():
    """Nothing in the account package writes anywhere: only views do."""
    for path in Path(refusals.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bprint\(|logging\.", text), path.name
