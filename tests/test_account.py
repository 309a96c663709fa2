"""`login` and `roundtrip` against the scripted mail system (tests/lab/accounts.py).

Every command runs as a subprocess, and every output of every test is searched for
the password and its wire forms: none may ever appear.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.clirun import assert_invariants
from tests.lab import accounts
from tests.lab.accounts import HOSTS, PASSWORD, TOKEN, USER

GOOD, PLAIN, UNTRUSTED = HOSTS["good"], HOSTS["plain"], HOSTS["untrusted"]
OAUTH, REFUSALS, DROP, LEGACY = HOSTS["oauth"], HOSTS["refusals"], HOSTS["drop"], HOSTS["legacy"]
FORBIDDEN = (
    PASSWORD,
    base64.b64encode(f"\x00{USER}\x00{PASSWORD}".encode()).decode(),
    base64.b64encode(PASSWORD.encode()).decode(),
    TOKEN,
)


@pytest.fixture(scope="module")
def mail():
    root = Path(tempfile.mkdtemp(prefix="maildiag-account-"))
    servers = accounts.Servers(root)
    try:
        servers.start(accounts.profiles())
        yield servers
    finally:
        servers.stop()


def run(mail, *args: str, env: dict | None = None, stdin: str | None = None):
    """The CLI in a subprocess; asserts no secret and no traceback in any output."""
    environment = {**os.environ, "MAILDIAG_PASSWORD": PASSWORD, **(env or {})}
    environment = {k: v for k, v in environment.items() if v is not None}
    result = subprocess.run(
        [sys.executable, "-m", "diag", *args, "--ca-file", str(mail.ca_file), "--timeout", "3"],
        capture_output=True,
        text=True,
        env=environment,
        input=stdin,
        timeout=60,
    )
    for secret in FORBIDDEN:
        assert secret not in result.stdout, f"secret leaked to stdout in {args}"
        assert secret not in result.stderr, f"secret leaked to stderr in {args}"
    assert "Traceback" not in result.stdout + result.stderr
    assert_invariants(args, result)
    return result


def login_json(mail, *args: str, **kw) -> tuple[int, dict]:
    result = run(mail, "login", USER, *args, "--json", **kw)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def everywhere(host: str) -> list[str]:
    return ["--imap", host, "--pop3", host, "--smtp", host]


def by_service(data: dict) -> dict[str, dict]:
    return {s["service"]: s for s in data["services"]}


def codes(data: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in data["findings"]:
        out.setdefault(f["service"], set()).add(f["code"])
    return out


def test_right_password_all_three_services(mail):
    code, data = login_json(mail, *everywhere(GOOD))
    assert code == 0, data["findings"]
    assert data["schema"] == "maildiag.login/1"
    services = by_service(data)
    assert set(services) == {"imap/993", "pop3/995", "smtp/465"}
    assert {s["outcome"] for s in services.values()} == {"ok"}
    imap = services["imap/993"]
    assert imap["mechanism"] == "PLAIN"
    roles = {m["role"]: m["name"] for m in imap["imap"]["mailboxes"] if m["role"]}
    assert roles == {
        "inbox": "INBOX",
        "sent": "Sent",
        "drafts": "Drafts",
        "junk": "Junk",
        "trash": "Trash",
    }
    assert imap["imap"]["inbox_messages"] == 2
    assert imap["imap"]["quota"] == [
        {"root": "", "resource": "STORAGE", "usage": 2048, "limit": 1048576}
    ]
    assert imap["imap"]["idle"] and imap["imap"]["condstore"] and imap["imap"]["move"]
    smtp = services["smtp/465"]["smtp"]
    assert smtp["size_limit"] == 10240000 and smtp["sender_accepted"] is True
    log = mail.stores["good"].log
    assert any("AUTHENTICATE PLAIN " in line for line in log)  # SASL-IR: one round trip
    assert any(line.endswith("RSET") for line in log)  # MAIL FROM checked, then reset


def test_starttls_ports_and_rich_view(mail):
    result = run(mail, "login", USER, *everywhere(GOOD), "--starttls")
    assert result.returncode == 0, result.stdout
    for label in ("imap/143", "pop3/110", "smtp/587"):
        assert label in result.stdout
    assert "junk: Junk" in result.stdout
    assert "IDLE yes" in result.stdout


def test_wrong_password_is_rejected_everywhere(mail):
    code, data = login_json(mail, *everywhere(GOOD), env={"MAILDIAG_PASSWORD": "wrong"})
    assert code == 2
    assert codes(data) == {
        "imap/993": {"auth.rejected"},
        "pop3/995": {"auth.rejected"},
        "smtp/465": {"auth.rejected"},
    }
    assert "[AUTHENTICATIONFAILED]" in by_service(data)["imap/993"]["reply"]


def test_plaintext_only_server_gets_no_credentials(mail):
    store = mail.stores["plain"]
    store.log.clear()
    code, data = login_json(mail, *everywhere(PLAIN), "--starttls")
    assert code == 2
    assert codes(data) == {
        "imap/143": {"auth.plaintext_refused"},
        "pop3/110": {"auth.plaintext_refused"},
        "smtp/587": {"auth.plaintext_refused"},
    }
    assert {s["outcome"] for s in data["services"]} == {"not_sent"}
    assert store.log, "the servers saw the sessions"
    for line in store.log:
        command = line.split(": ", 1)[1].split(" ")
        verbs = {command[0].upper(), command[1].upper() if len(command) > 1 else ""}
        assert not verbs & {"AUTH", "AUTHENTICATE", "LOGIN", "USER", "PASS"}, line
        assert PASSWORD not in line


def test_untrusted_certificate_refused_without_insecure(mail):
    store = mail.stores["untrusted"]
    store.log.clear()
    code, data = login_json(mail, *everywhere(UNTRUSTED))
    assert code == 2
    assert {c for cs in codes(data).values() for c in cs} == {"auth.unverified_refused"}
    assert not any(
        w in line for line in store.log for w in ("AUTHENTICATE", "AUTH ", "PASS", "USER")
    )


def test_untrusted_certificate_with_insecure_warns(mail):
    code, data = login_json(mail, *everywhere(UNTRUSTED), "--insecure")
    assert code == 1
    assert {s["outcome"] for s in data["services"]} == {"ok"}
    assert all(s["insecure"] for s in data["services"])
    assert {c for cs in codes(data).values() for c in cs} == {"auth.insecure_channel"}
    result = run(mail, "login", USER, "--imap", UNTRUSTED, "--insecure")
    assert "the password crossed a channel" in " ".join(result.stdout.split())


def test_oauth_only_server(mail):
    code, data = login_json(mail, "--imap", OAUTH, "--smtp", OAUTH)
    assert code == 2
    assert codes(data) == {"imap/993": {"auth.oauth_required"}, "smtp/465": {"auth.oauth_required"}}
    assert {s["outcome"] for s in data["services"]} == {"not_sent"}


def test_oauth_token_from_environment(mail):
    code, data = login_json(
        mail,
        "--imap",
        OAUTH,
        "--smtp",
        OAUTH,
        "--oauth-token-env",
        "MY_TOKEN",
        env={"MY_TOKEN": TOKEN, "MAILDIAG_PASSWORD": None},
    )
    services = by_service(data)
    assert services["imap/993"]["outcome"] == "ok"
    assert services["imap/993"]["mechanism"] == "XOAUTH2"
    assert services["smtp/465"]["outcome"] == "ok"
    assert codes(data) == {"imap/993": {"imap.quota_nearly_full"}}  # 95 % full
    assert code == 1


def test_token_but_no_oauth_mechanism(mail):
    code, data = login_json(
        mail, "--imap", GOOD, "--smtp", GOOD, "--oauth-token-env", "T", env={"T": TOKEN}
    )
    assert code == 2
    assert codes(data) == {
        "imap/993": {"auth.mechanism_unsupported"},
        "smtp/465": {"auth.mechanism_unsupported"},
    }
    assert {s["outcome"] for s in data["services"]} == {"not_sent"}


def test_oauth_token_refused(mail):
    code, data = login_json(
        mail, "--imap", OAUTH, "--oauth-token-env", "T", env={"T": "expired-token"}
    )
    assert code == 2
    assert codes(data) == {"imap/993": {"auth.rejected"}}


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("wrong@account.test", "auth.rejected"),
        ("gmail-app@account.test", "auth.app_password_required"),
        ("webalert@account.test", "auth.web_login_required"),
        ("quota@account.test", "auth.account_unavailable"),
        ("locked@account.test", "auth.account_unavailable"),
        ("busy@account.test", "auth.temporary"),
        ("odd@account.test", "auth.refused"),
    ],
)
def test_refusal_classes(mail, username, expected):
    code, data = login_json(mail, *everywhere(REFUSALS), "--username", username)
    for service in ("imap/993", "pop3/995", "smtp/465"):
        # SMTP 535 means "credentials invalid" whatever the words (RFC 4954)
        wanted = (
            "auth.rejected" if (service, expected) == ("smtp/465", "auth.refused") else expected
        )
        assert codes(data)[service] == {wanted}, service
    assert code == (1 if expected == "auth.temporary" else 2)
    for service in data["services"]:
        assert service["reply"]  # the server's own words are kept


@pytest.mark.parametrize("username", ["m365@account.test", "tenant@account.test"])
def test_microsoft_basic_auth_disabled(mail, username):
    _, data = login_json(mail, "--smtp", REFUSALS, "--username", username)
    assert codes(data) == {"smtp/465": {"auth.basic_disabled"}}
    assert "5.7.139" in data["services"][0]["reply"]


def test_server_echoing_the_password_is_redacted(mail):
    code, data = login_json(mail, *everywhere(REFUSALS), "--username", "echo@account.test")
    assert code == 2
    replies = " ".join(s["reply"] for s in data["services"])
    assert "***" in replies  # run() already proved the secret itself is absent


def test_server_dropping_mid_auth_exits_3(mail):
    code, data = login_json(mail, *everywhere(DROP))
    assert code == 3
    assert {s["outcome"] for s in data["services"]} == {"failed"}
    assert {c for cs in codes(data).values() for c in cs} == {"auth.connection_failed"}
    result = run(mail, "login", USER, "--imap", DROP)
    assert result.returncode == 3
    assert "could not be tested" in " ".join(result.stdout.split())


def test_legacy_commands_imap_login_pop3_user_smtp_login(mail):
    code, data = login_json(mail, *everywhere(LEGACY))
    services = by_service(data)
    assert {s["outcome"] for s in services.values()} == {"ok"}, data["findings"]
    assert services["imap/993"]["mechanism"] == "IMAP-LOGIN"
    assert services["pop3/995"]["mechanism"] == "USER"
    assert services["smtp/465"]["mechanism"] == "LOGIN"
    assert services["imap/993"]["imap"]["quota"] == []
    assert code == 0


def test_imap_login_with_a_non_ascii_password_uses_literals(mail):
    code, data = login_json(
        mail,
        "--imap",
        LEGACY,
        "--username",
        accounts.BOB,
        env={"MAILDIAG_PASSWORD": accounts.BOB_PASSWORD},
    )
    assert code == 0, data["findings"]
    assert data["services"][0]["mechanism"] == "IMAP-LOGIN"
    assert accounts.BOB_PASSWORD not in json.dumps(data, ensure_ascii=False)
    assert any(line.endswith('LOGIN "bob@account.test" {16}') for line in mail.stores["legacy"].log)


def test_password_sources(mail, tmp_path):
    secret_file = tmp_path / "pw"
    secret_file.write_text(PASSWORD + "\n")
    env = {"MAILDIAG_PASSWORD": None}
    for extra, stdin in (
        (["--password-file", str(secret_file)], None),
        (["--password-stdin"], PASSWORD + "\n"),
    ):
        result = run(mail, "login", USER, "--imap", GOOD, *extra, "--json", env=env, stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["services"][0]["outcome"] == "ok"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["login", USER, "--imap", GOOD], {"MAILDIAG_PASSWORD": ""}, "the password is empty"),
        (
            ["login", USER, "--imap", GOOD, "--password-file", "/nonexistent/pw"],
            {"MAILDIAG_PASSWORD": None},
            "no such file",
        ),
        (
            ["login", USER, "--imap", GOOD, "--password-file", "/"],
            {"MAILDIAG_PASSWORD": None},
            "is a directory",
        ),
        (["login", USER, "--imap", GOOD], {"MAILDIAG_PASSWORD": None}, "no password"),
        (["login", "not-an-address", "--imap", GOOD], {}, "not a mail address"),
        (["login", USER], {}, "DNS did not answer"),  # no discovery possible in the test netns
        (["login", USER, "--imap", "bad host!"], {}, "invalid host name"),
        (["login", USER, "--imap", GOOD, "--password", PASSWORD], {}, "No such option"),
        (["roundtrip", USER, "--imap", GOOD], {}, "no submission server"),
        (["roundtrip", USER, "--smtp", GOOD, "--imap", GOOD, "--wait", "0"], {}, "--wait"),
    ],
)
def test_bad_input_exits_3(mail, args, env, message):
    result = run(mail, *args, env=env, stdin="")
    assert result.returncode == 3, result.stdout + result.stderr
    assert message in result.stderr + result.stdout


def test_unreadable_password_file(mail):
    """A file that opens but cannot be read (the tests run as root, so mode 000 would not do)."""
    result = run(
        mail,
        "login",
        USER,
        "--imap",
        GOOD,
        "--password-file",
        "/proc/self/mem",
        env={"MAILDIAG_PASSWORD": None},
    )
    assert result.returncode == 3
    assert "cannot read" in result.stderr


# -- roundtrip --------------------------------------------------------------------------


def roundtrip(mail, *args: str, **kw) -> tuple[int, dict]:
    result = run(mail, "roundtrip", USER, *args, "--json", **kw)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_roundtrip_to_inbox_with_idle_leaves_mailbox_as_it_was(mail):
    store = mail.stores["good"]
    before = store.snapshot()
    code, data = roundtrip(mail, "--smtp", GOOD, "--imap", GOOD, "--wait", "10")
    assert code == 0, data["findings"]
    assert data["schema"] == "maildiag.roundtrip/1"
    assert data["submission"]["accepted"] and data["submission"]["queue_id"].startswith("4Q")
    assert data["arrival"]["folder"] == "INBOX" and data["arrival"]["method"] == "poll"
    assert 0.15 < data["arrival"]["seconds"] < 2  # the queue holds it 0.2 s
    assert data["cleanup"] == {
        "attempted": True,
        "deleted": True,
        "method": "UID EXPUNGE",
        "note": None,
    }
    assert data["message_id"].startswith("<maildiag.")
    assert store.snapshot() == before


def test_roundtrip_into_junk(mail):
    store = mail.stores["good"]
    before = store.snapshot()
    code, data = roundtrip(
        mail, "--smtp", GOOD, "--imap", GOOD, "--to", "spam@account.test", "--wait", "10"
    )
    assert code == 1
    assert data["arrival"]["folder"] == "Junk"
    assert {f["code"] for f in data["findings"]} == {"delivery.junk"}
    assert data["cleanup"]["deleted"]
    assert store.snapshot() == before


def test_roundtrip_timeout_names_the_queue_id(mail):
    code, data = roundtrip(
        mail, "--smtp", GOOD, "--imap", GOOD, "--to", "void@account.test", "--wait", "1"
    )
    assert code == 2
    (finding,) = data["findings"]
    assert finding["code"] == "delivery.timeout"
    assert data["submission"]["queue_id"] in finding["evidence"]
    assert data["arrival"]["folder"] is None


def test_roundtrip_over_pop3(mail):
    store = mail.stores["good"]
    before = store.snapshot()
    code, data = roundtrip(mail, "--smtp", GOOD, "--pop3", GOOD, "--wait", "10")
    assert code == 0, data["findings"]
    assert data["arrival"]["method"] == "uidl" and data["arrival"]["folder"] == "INBOX"
    assert data["cleanup"]["method"] == "DELE" and data["cleanup"]["deleted"]
    assert store.snapshot() == before


def test_roundtrip_without_uidplus_never_expunges_others(mail):
    """The legacy host has someone's message marked deleted and no UIDPLUS."""
    store = mail.stores["legacy"]
    before = store.snapshot()
    code, data = roundtrip(mail, "--smtp", LEGACY, "--imap", LEGACY, "--wait", "10")
    assert data["arrival"]["folder"] == "INBOX" and data["arrival"]["method"] == "poll"
    assert not data["cleanup"]["deleted"]
    assert "other message(s) already marked deleted" in data["cleanup"]["note"]
    assert {f["code"] for f in data["findings"]} == {"delivery.cleanup_failed"}
    assert code == 1
    after = store.snapshot()
    inbox = after["INBOX"]
    assert inbox[: len(before["INBOX"])] == before["INBOX"]  # the deleted one is still there
    assert len(inbox) == len(before["INBOX"]) + 1 and inbox[-1][1] == ()  # ours, not flagged
    store.folders["INBOX"].messages.pop()  # put the mailbox back for other tests


def test_roundtrip_submission_refused_sender(mail):
    code, data = roundtrip(
        mail, "--smtp", GOOD, "--imap", GOOD, "--from", "stranger@account.test", "--wait", "2"
    )
    assert code == 2
    assert {f["code"] for f in data["findings"]} == {"delivery.submission_refused"}


def test_roundtrip_rich_view(mail):
    result = run(mail, "roundtrip", USER, "--smtp", GOOD, "--imap", GOOD, "--wait", "10")
    assert result.returncode == 0
    assert "arrived" in result.stdout and "INBOX" in result.stdout
    assert "queued as" in result.stdout


def test_roundtrip_idle_after_the_fast_phase(mail):
    """In-process, with no fast phase: the arrival is heard through IDLE."""
    import asyncio

    from diag.account.login import AccountOptions
    from diag.account.model import Target
    from diag.account.roundtrip import roundtrip as run_roundtrip
    from diag.account.secret import Secret
    from diag.account.session import Credentials
    from diag.model import Security

    store = mail.stores["good"]
    before = store.snapshot()
    smtp = Target("smtp", GOOD, 465, Security.TLS, USER, "option")
    imap = Target("imap", GOOD, 993, Security.TLS, USER, "option")
    report = asyncio.run(
        run_roundtrip(
            USER,
            smtp,
            imap,
            Credentials(Secret(PASSWORD)),
            AccountOptions(timeout=3, ca_file=mail.ca_file),
            sender=USER,
            recipient=USER,
            wait=10,
            fast_seconds=0,
        )
    )
    assert report.arrival.folder == "INBOX" and report.arrival.method == "idle"
    assert report.arrival.seconds < 1
    assert report.cleanup.deleted
    assert store.snapshot() == before
