"""Command-line conventions: options judged before any network work, the address hint,
one exit code for a domain that does not exist, the renamed lookup option, and the
documentation the help points to. Runs the installed `maildiag` entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.lab.dnsstub import DnsStub

ROOT = Path(__file__).resolve().parents[1]
DNS = ("127.0.8.110", 53)  # helpdesk-ux's range: 127.0.8.100-199
UNREACHABLE_DNS = "127.0.8.199:53"  # nothing listens there

# Ends the process with 99 at its first socket operation: proves nothing was sent.
NO_NETWORK = """
import os, sys
def _hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"):
        sys.stderr.write("NETWORK USED: %s\\n" % event)
        sys.stderr.flush()
        os._exit(99)
sys.addaudithook(_hook)
from diag.cli import main
sys.exit(main(sys.argv[1:]))
"""


def maildiag(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    entry = shutil.which("maildiag")
    argv = [entry] if entry else [sys.executable, "-m", "diag"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout)


def without_network(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_NETWORK, *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "jane@example.test", "--export", "pdf"], "unknown --export format “pdf”"),
        (["discover", "jane@example.test", "--export", "pdf"], "unknown --export format"),
        (["check", "jane@example.test", "-o", "out.xml"], "-o/--output needs --export"),
        (["discover", "example.test", "-o", "out.xml"], "-o/--output needs --export"),
        (
            ["check", "jane@example.test", "--json", "--export", "thunderbird"],
            "--json and --export cannot be combined",
        ),
        (["check", "jane@example.test", "--ca-file", "/nonexistent.pem"], "--ca-file"),
        (["check", "jane@example.test", "--ispdb-url", "ftp://x"], "--ispdb-url"),
        (["check", "jane@example.test", "--timeout", "0"], "--timeout"),
        (["probe", "mail.example.test", "--port", "10025"], "name its --protocol"),
        (["probe", "mail.example.test:99999"], "invalid port"),
        (["probe", "mail.example.test", "--tls"], "--tls and --starttls apply"),
        (["probe", "mail.example.test", "--protocol", "nntp"], "unknown protocol"),
        (["probe", "jane@example.com"], "use `maildiag check jane@example.com`"),
    ],
)
def test_options_are_judged_before_any_network_work(args, message):
    result = without_network(*args, "--nameserver", UNREACHABLE_DNS, "--timeout", "5")
    if "--timeout" in args:  # the test's own --timeout would come second and win
        result = without_network(*args, "--nameserver", UNREACHABLE_DNS)
    assert "NETWORK USED" not in result.stderr, result.stderr
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_bad_ca_file_content_is_judged_before_the_network(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    result = without_network(
        "check", "jane@example.test", "--ca-file", str(bogus), "--nameserver", UNREACHABLE_DNS
    )
    assert "NETWORK USED" not in result.stderr and result.returncode == 3, result.stderr


def test_probe_of_an_address_points_at_check():
    result = maildiag("probe", "jane@example.com")
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "maildiag: error: that is an address: use `maildiag check jane@example.com`"
    )


@pytest.fixture(scope="module")
def dns_stub():
    stub = DnsStub(*DNS, {("exists.ux.test", "MX"): ["10 mx.exists.ux.test."]})
    yield stub
    stub.stop()


def test_a_domain_that_does_not_exist_is_exit_2_everywhere(dns_stub):
    ns = ["--nameserver", dns_stub.nameserver, "--timeout", "2"]
    probe = maildiag("probe", "mail.nothere.ux.test", *ns)
    check = maildiag("check", "jane@nothere.ux.test", "--no-guess", *ns)
    lookup = maildiag("lookup", "jane@nothere.ux.test", *ns)
    assert (probe.returncode, check.returncode, lookup.returncode) == (2, 2, 2), (
        probe.stdout + check.stdout + lookup.stdout
    )
    assert "does not exist" in " ".join(lookup.stdout.split())
    data = json.loads(maildiag("lookup", "jane@nothere.ux.test", *ns, "--json").stdout)
    assert data["domain_exists"] is False and data["found"] is False
    # DNS that does not answer is still "could not check"
    dead = ["--nameserver", UNREACHABLE_DNS, "--timeout", "1"]
    assert maildiag("lookup", "jane@nothere.ux.test", *dead).returncode == 3
    assert maildiag("probe", "mail.nothere.ux.test", *dead).returncode == 3


def test_lookup_no_mx_and_the_old_offline_spelling():
    new = maildiag("lookup", "jane@unknown-domain.example", "--no-mx", "--json")
    assert new.returncode == 1 and json.loads(new.stdout)["mx_checked"] is False
    assert new.stderr == ""
    old = maildiag("lookup", "jane@unknown-domain.example", "--offline", "--json")
    assert old.returncode == 1 and json.loads(old.stdout) == json.loads(new.stdout)
    assert "`lookup --offline` is now `--no-mx`" in old.stderr
    assert "--no-mx" in maildiag("lookup", "--help").stdout
    assert "--offline" not in maildiag("lookup", "--help").stdout  # hidden, not advertised
    assert "--offline" in maildiag("recommend", "--help").stdout  # the other meaning stays


def test_the_docs_the_help_names_are_readable():
    helped = maildiag("probe", "--help").stdout
    assert "maildiag docs json" in " ".join(helped.split())
    page = maildiag("docs", "json")
    assert page.returncode == 0 and page.stdout == (ROOT / "docs" / "json.md").read_text()
    listing = maildiag("docs")
    assert {line.split()[0] for line in listing.stdout.splitlines()} >= {"json", "findings"}
    path = maildiag("docs", "findings", "--path").stdout.strip()
    assert Path(path).read_text() == (ROOT / "docs" / "findings.md").read_text()
    missing = maildiag("docs", "nonsense")
    assert missing.returncode == 3 and "choose" in missing.stderr
    # The wheel carries them (where `maildiag docs` looks after pip install).
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert shipped["docs"] == "diag/docs_data"
