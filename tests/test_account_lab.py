"""`login` and `roundtrip` against real servers: Exim submission, LMTP, Dovecot.

The mail really travels submission -> Exim -> LMTP -> Dovecot (Sieve) -> IMAP/POP3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.clirun import assert_invariants
from tests.lab import accountlab
from tests.lab.accountlab import ADDRESS, PASSWORD, USER
from tests.lab.servers import LabError

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def real():
    root = Path(tempfile.mkdtemp(prefix="maildiag-accountlab-"))
    os.chmod(root, 0o755)
    try:
        lab = accountlab.start(root)
    except LabError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"the account lab could not start: {exc}", pytrace=False)
    yield lab
    lab.stop()
    shutil.rmtree(root, ignore_errors=True)


def run(lab, *args: str, password: str = PASSWORD):
    env = {**os.environ, "MAILDIAG_PASSWORD": password}
    result = subprocess.run(
        [sys.executable, "-m", "diag", *args, "--ca-file", str(lab.ca_file), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert password not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert_invariants((*args, "--json"), result)
    return result.returncode, json.loads(result.stdout)


def maildir_state(lab) -> dict[str, list[str]]:
    out = {}
    for folder in ("INBOX", "Junk"):
        base = lab.maildir(folder)
        out[folder] = (
            sorted(p.name.split(":")[0] for sub in ("new", "cur") for p in (base / sub).glob("*"))
            if base.exists()
            else []
        )
    return out


def test_login_real_servers(real):
    code, data = run(
        real, "login", USER, "--imap", ADDRESS, "--pop3", ADDRESS, "--smtp", f"{ADDRESS}:587"
    )
    services = {s["service"]: s for s in data["services"]}
    assert {s["outcome"] for s in services.values()} == {"ok"}, data["findings"]
    assert code == 0
    imap = services["imap/993"]["imap"]
    roles = {m["role"] for m in imap["mailboxes"]}
    assert {"sent", "drafts", "junk", "trash"} <= roles
    assert imap["idle"] and imap["quota"]
    assert services["smtp/587"]["smtp"]["sender_accepted"] is True
    assert services["smtp/587"]["smtp"]["size_limit"] == 25 * 1024 * 1024


def test_wrong_password_real_servers(real):
    code, data = run(
        real,
        "login",
        USER,
        "--imap",
        ADDRESS,
        "--pop3",
        ADDRESS,
        "--smtp",
        ADDRESS,
        password="not the password",
    )
    assert code == 2
    assert {f["code"] for f in data["findings"]} == {"auth.rejected"}


def test_roundtrip_real_inbox_and_cleanup(real):
    before = maildir_state(real)
    code, data = run(real, "roundtrip", USER, "--smtp", ADDRESS, "--imap", ADDRESS, "--wait", "20")
    assert code == 0, data["findings"]
    assert data["arrival"]["folder"] == "INBOX" and data["arrival"]["method"] == "poll"
    assert data["submission"]["queue_id"]
    assert data["submission"]["queue_id"] in real.exim_log()
    assert data["cleanup"]["deleted"] and data["cleanup"]["method"] == "UID EXPUNGE"
    assert maildir_state(real) == before


def test_roundtrip_real_junk_via_sieve(real):
    before = maildir_state(real)
    code, data = run(
        real,
        "roundtrip",
        USER,
        "--smtp",
        ADDRESS,
        "--imap",
        ADDRESS,
        "--to",
        "spam@account.test",
        "--wait",
        "20",
    )
    assert data["arrival"]["folder"] == "Junk", data
    assert {f["code"] for f in data["findings"]} == {"delivery.junk"}
    assert code == 1
    assert maildir_state(real) == before


def test_roundtrip_real_pop3(real):
    before = maildir_state(real)
    code, data = run(real, "roundtrip", USER, "--smtp", ADDRESS, "--pop3", ADDRESS, "--wait", "20")
    assert code == 0, data["findings"]
    assert data["cleanup"]["method"] == "DELE" and data["cleanup"]["deleted"]
    assert maildir_state(real) == before


def test_roundtrip_real_never_arrives(real):
    code, data = run(
        real,
        "roundtrip",
        USER,
        "--smtp",
        ADDRESS,
        "--imap",
        ADDRESS,
        "--to",
        "void@account.test",
        "--wait",
        "2",
    )
    assert code == 2
    (finding,) = data["findings"]
    assert finding["code"] == "delivery.timeout"
    assert data["submission"]["queue_id"] in finding["evidence"]


def test_login_uses_checks_recommendation(lab):
    """No --imap/--pop3/--smtp: the servers `maildiag check` recommends for the domain
    (the main lab's good.lab.test: mail.lab.test 993/995/465, Postfix with Dovecot SASL)."""
    env = {**os.environ, "MAILDIAG_PASSWORD": "lab-password-never-used"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diag",
            "login",
            "someone@good.lab.test",
            "--nameserver",
            lab.nameserver,
            "--ca-file",
            str(lab.pki.root_file),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "lab-password-never-used" not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    services = {s["service"]: s for s in data["services"]}
    assert set(services) == {"imap/993", "pop3/995", "smtp/465"}, data
    assert {s["source"] for s in services.values()} == {"check"}
    assert {s["host"] for s in services.values()} == {"mail.lab.test"}
    assert {s["outcome"] for s in services.values()} == {"ok"}, data["findings"]


def test_plaintext_real_servers_get_no_credentials(lab):
    """Dovecot and Postfix without TLS (the main lab's plain.lab.test): nothing is sent,
    and the servers' own logs say so (Dovecot: "no auth attempts"; Postfix lists every
    command of the session on its disconnect line, and AUTH is not among them)."""
    import time

    plain = "127.0.0.10"
    dovecot_log = lab.root / "dovecot-plain" / "dovecot.log"
    postfix_log = lab.root / "postfix" / "postfix.log"
    dovecot_start = dovecot_log.stat().st_size
    postfix_start = postfix_log.stat().st_size if postfix_log.exists() else 0
    env = {**os.environ, "MAILDIAG_PASSWORD": "lab-password-never-used"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diag",
            "login",
            "someone@plain.lab.test",
            "--starttls",
            "--imap",
            plain,
            "--pop3",
            plain,
            "--smtp",
            f"{plain}:587",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    data = json.loads(result.stdout)
    assert result.returncode == 2
    assert {f["code"] for f in data["findings"]} == {"auth.plaintext_refused"}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        dovecot = dovecot_log.read_bytes()[dovecot_start:].decode(errors="replace")
        postfix = postfix_log.read_bytes()[postfix_start:].decode(errors="replace")
        if dovecot.count("no auth attempts") >= 2 and "disconnect from" in postfix:
            break
        time.sleep(0.1)
    assert "imap-login: Info: Disconnected" in dovecot
    assert "pop3-login: Info: Disconnected" in dovecot
    assert dovecot.count("no auth attempts") >= 2, dovecot
    assert "auth failed" not in dovecot and "Login: user=" not in dovecot
    disconnects = [line for line in postfix.splitlines() if "disconnect from" in line]
    assert disconnects, postfix
    assert all("auth=" not in line for line in disconnects), disconnects


def lab_login(lab, *args: str) -> tuple[int, dict, str]:
    env = {**os.environ, "MAILDIAG_PASSWORD": "lab-password-never-used"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diag",
            "login",
            *args,
            "--nameserver",
            lab.nameserver,
            "--ca-file",
            str(lab.pki.root_file),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "lab-password-never-used" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout) if result.stdout else {}, result.stderr


def test_untrusted_real_certificate(lab):
    """Dovecot with a self-signed certificate (selfsigned.lab.test): refused, then
    --insecure logs in and warns."""
    host = "selfsigned.lab.test"
    code, data, _ = lab_login(lab, f"someone@{host}", "--imap", host, "--pop3", host)
    assert code == 2
    assert {f["code"] for f in data["findings"]} == {"auth.unverified_refused"}
    code, data, _ = lab_login(lab, f"someone@{host}", "--imap", host, "--pop3", host, "--insecure")
    assert {s["outcome"] for s in data["services"]} == {"ok"}, data["findings"]
    assert {f["code"] for f in data["findings"]} == {"auth.insecure_channel"}
    assert code == 1


def test_unknown_domain_exits_3(lab):
    code, _, stderr = lab_login(lab, "someone@nothere.lab.test")
    assert code == 3
    assert "no working mail server found for nothere.lab.test" in stderr, stderr
