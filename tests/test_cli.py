"""The command line: exit codes, JSON contract, one-line errors (subprocesses)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from diag.findings.catalogue import CATALOGUE
from tests.clirun import maildiag as run_cli

ROOT = Path(__file__).resolve().parents[1]


def maildiag(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return run_cli(*args, timeout=timeout)


@pytest.mark.parametrize(
    "args",
    [
        ["probe", "bad host!"],
        ["probe", ""],
        ["probe", "x.example", "--timeout", "0"],
        ["probe", "x.example", "--nameserver", "not-an-ip"],
        ["probe", "x.example", "--ca-file", "/nonexistent.pem"],
        ["probe", "x.example", "--port", "10025"],  # not a port mail guides list
        ["probe", "x.example:99999"],
        ["probe", "x.example", "--tls"],  # --tls names no port
        ["probe", "x.example:993", "--tls", "--starttls"],
        ["probe", "x.example", "--bogus"],
        ["probe"],
    ],
)
def test_bad_input_exits_3_without_traceback(args):
    result = maildiag(*args)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip()


def test_help_is_fast_to_import():
    """--help must not import the heavy machinery."""
    code = (
        "import sys; from diag.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('cryptography', 'dns.resolver', 'diag.probe') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="


def test_dead_dns_is_unknown():
    result = maildiag(
        "probe", "mail.lab.test", "--nameserver", "127.0.0.54:5399", "--timeout", "1", "--json"
    )
    assert result.returncode == 3
    data = json.loads(result.stdout)
    assert data["checked"] is False
    assert [f["code"] for f in data["findings"]] == ["dns.resolution_failed"]


@pytest.mark.lab
def test_json_contract_and_exit_codes(lab):
    ns = ["--nameserver", lab.nameserver, "--timeout", "3"]
    good = maildiag("probe", lab.host("good"), "--ca-file", str(lab.pki.root_file), *ns, "--json")
    assert good.returncode == 0, good.stderr
    data = json.loads(good.stdout)
    assert data["schema"] == "maildiag.probe/1"
    assert data["exit_code"] == 0 and data["summary"] == {"error": 0, "warning": 0, "info": 0}
    documented = (ROOT / "docs" / "json.md").read_text()
    for key in [*data, *data["services"][0], *data["services"][0]["tls"]]:
        assert f"`{key}`" in documented, f"{key} is not documented in docs/json.md"
    soon = maildiag(
        "probe", lab.host("soon"), "-p", "993", "--ca-file", str(lab.pki.root_file), *ns
    )
    assert soon.returncode == 1
    assert "tls.cert.expires_soon" in soon.stdout
    bad = maildiag("probe", lab.host("selfsigned"), "-p", "993", *ns)
    assert bad.returncode == 2 and "tls.cert.self_signed" in bad.stdout


def test_every_code_is_documented():
    text = (ROOT / "docs" / "findings.md").read_text()
    documented = set(re.findall(r"^### `([a-z0-9_.]+)`", text, re.MULTILINE))
    assert documented == set(CATALOGUE)
