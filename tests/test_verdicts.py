"""check's first line names the real cause when nothing could be verified.

A DNS stub (tests/lab/dnsstub.py) on 127.0.8.100 serves each scenario's SRV records,
pointing at scripted hosts: 127.0.8.101 drops connections (timeouts), nothing listens
on 127.0.8.102 (refused), 127.0.8.103 resets every TLS handshake. 127.0.8.104 is a
resolver that answers NXDOMAIN for every name; nothing answers DNS on 127.0.8.199.
Runs the installed `maildiag` entry point.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.clirun import assert_invariants
from tests.lab import scripted
from tests.lab.dnsstub import DnsStub

DNS = ("127.0.8.100", 53)
TIMEOUT_HOST, REFUSED_HOST, BADTLS_HOST = "127.0.8.101", "127.0.8.102", "127.0.8.103"
DENY_ALL = ("127.0.8.104", 53)
DEAD_DNS = "127.0.8.199:53"


def _zone() -> dict[tuple[str, str], list[str]]:
    records: dict[tuple[str, str], list[str]] = {}
    scenarios = {
        "slow": (TIMEOUT_HOST, TIMEOUT_HOST),
        "refused": (REFUSED_HOST, REFUSED_HOST),
        "badtls": (BADTLS_HOST, BADTLS_HOST),
        "mixed": (TIMEOUT_HOST, REFUSED_HOST),
    }
    for name, (imap_address, smtp_address) in scenarios.items():
        domain = f"{name}.ux.test"
        records[(domain, "MX")] = [f"10 mx.{domain}."]
        records[(f"mx.{domain}", "A")] = [imap_address]
        records[(f"imap.{domain}", "A")] = [imap_address]
        records[(f"smtp.{domain}", "A")] = [smtp_address]
        records[(f"_imaps._tcp.{domain}", "SRV")] = [f"0 1 993 imap.{domain}."]
        records[(f"_submissions._tcp.{domain}", "SRV")] = [f"0 1 465 smtp.{domain}."]
    # A domain only maildiag's provider database (a --providers-dir entry) knows.
    records[("brokenentry.ux.test", "MX")] = ["10 mx.brokenentry.ux.test."]
    records[("mx.brokenentry.ux.test", "A")] = [REFUSED_HOST]
    records[("imap.brokenentry.ux.test", "A")] = [REFUSED_HOST]
    return records


ENTRY = """\
id = "brokenentry"
name = "Broken Entry Mail"
domains = ["brokenentry.ux.test"]

[[incoming]]
protocol = "imap"
host = "imap.brokenentry.ux.test"
port = 993
socket = "ssl"
username = "address"
auth = ["password"]
"""


@pytest.fixture(scope="module")
def net():
    servers = scripted.ScriptedServers()
    stubs = [DnsStub(*DNS, _zone()), DnsStub(*DENY_ALL, {}, deny_all=True)]
    try:
        for port in (993, 465):
            servers.drop_connections(TIMEOUT_HOST, port)
            servers.serve(BADTLS_HOST, port, scripted.reset_on_hello)
        yield
    finally:
        servers.stop()
        for stub in stubs:
            stub.stop()


def maildiag(*args: str) -> subprocess.CompletedProcess:
    entry = shutil.which("maildiag")
    argv = [entry] if entry else [sys.executable, "-m", "diag"]
    result = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60)
    assert_invariants(args, result)
    return result


def check(target: str, *extra: str, nameserver: str = f"{DNS[0]}:{DNS[1]}"):
    result = maildiag(
        "check", target, "--nameserver", nameserver, "--timeout", "1", "--no-guess", *extra
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def verdict(result: subprocess.CompletedProcess) -> str:
    """The first paragraph, however the terminal view wraps it."""
    return " ".join(result.stdout.split("\n\n")[0].split())


@pytest.mark.parametrize(
    ("domain", "cause", "words"),
    [
        ("slow.ux.test", "timeout", "nothing answered: all 2 servers timed out"),
        ("refused.ux.test", "refused", "all 2 servers refused the connection"),
        ("badtls.ux.test", "tls_failed", "all 2 servers failed TLS"),
        ("mixed.ux.test", "mixed", "of 2 servers, 1 timed out, 1 refused the connection"),
        ("nothere.ux.test", "nxdomain", "nothere.ux.test does not exist (NXDOMAIN)"),
    ],
)
def test_verdict_names_the_cause(net, domain, cause, words):
    text = check(f"jane@{domain}")
    assert words in verdict(text), text.stdout
    assert "could not be resolved" not in verdict(text)
    data = json.loads(check(f"jane@{domain}", "--json").stdout)
    assert data["cause"] == cause
    assert words in data["verdict"]
    assert text.returncode == data["exit_code"] == 2


def test_dns_not_answering(net):
    result = check("jane@slow.ux.test", nameserver=DEAD_DNS)
    assert result.returncode == 3
    assert "DNS is not answering" in verdict(result)
    data = json.loads(check("jane@slow.ux.test", "--json", nameserver=DEAD_DNS).stdout)
    assert data["cause"] == "dns_down" and data["checked"] is False


def test_well_known_domain_that_does_not_exist_blames_the_resolver(net):
    result = check("jane@gmail.com", nameserver=f"{DENY_ALL[0]}:{DENY_ALL[1]}")
    assert result.returncode == 3
    line = verdict(result)
    assert "your DNS server says gmail.com does not exist" in line
    assert "--nameserver" in line
    data = json.loads(
        check("jane@gmail.com", "--json", nameserver=f"{DENY_ALL[0]}:{DENY_ALL[1]}").stdout
    )
    codes = [f["code"] for f in data["findings"]]
    assert codes == ["dns.resolver_suspect"]
    assert data["cause"] == "resolver_suspect" and data["exit_code"] == 3


def test_failing_database_entry_has_its_own_code(net, tmp_path):
    (tmp_path / "brokenentry.toml").write_text(ENTRY)
    data = json.loads(
        check("jane@brokenentry.ux.test", "--json", "--providers-dir", str(tmp_path)).stdout
    )
    codes = [f["code"] for f in data["findings"]]
    assert "providers.entry_broken" in codes
    assert "discovery.published_broken" not in codes
    broken = next(f for f in data["findings"] if f["code"] == "providers.entry_broken")
    assert "brokenentry" in broken["message"] and "brokenentry" in broken["fix"]
    assert "autoconfig file" not in broken["fix"]


def _with_stderr_on_a_terminal(*args: str) -> tuple[subprocess.CompletedProcess, str]:
    """Run maildiag with stderr on a pseudo-terminal and stdout on a pipe."""
    import os
    import pty

    master, slave = pty.openpty()
    entry = shutil.which("maildiag")
    argv = [entry] if entry else [sys.executable, "-m", "diag"]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    with subprocess.Popen(
        [*argv, *args], stdout=subprocess.PIPE, stderr=slave, text=True, env=env
    ) as process:
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        stdout = process.stdout.read()
        process.wait(60)
    os.close(master)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, "")
    return result, seen.decode(errors="replace")


def test_live_status_on_a_terminal_only(net):
    ns = ["--nameserver", f"{DNS[0]}:{DNS[1]}", "--timeout", "1", "--no-guess"]
    result, terminal = _with_stderr_on_a_terminal("check", "jane@slow.ux.test", *ns)
    assert "probing 2 servers: 0 done" in terminal, terminal
    assert "\x1b[2K" in terminal or "\x1b[1A" in terminal  # the line is erased at the end
    assert "probing" not in result.stdout and result.stdout.startswith("ERROR slow.ux.test")
    probed, terminal = _with_stderr_on_a_terminal(
        "probe", "imap.slow.ux.test", "-p", "993", "-p", "465", *ns[:4]
    )
    assert "probing 2 servers" in terminal and "probing" not in probed.stdout
    quiet, terminal = _with_stderr_on_a_terminal("check", "jane@slow.ux.test", *ns, "--json")
    assert "probing" not in terminal and json.loads(quiet.stdout)["cause"] == "timeout"
    piped = check("jane@slow.ux.test")  # stderr is a pipe here
    assert piped.stderr == ""


def _checked(reachability, *, definite=True, **fields):
    from diag.check.model import Checked
    from diag.discovery.model import Candidate, Merged
    from diag.model import Reachability, Security, ServiceResult, ServiceSpec

    spec = ServiceSpec("imap", 143, Security.STARTTLS)
    result = ServiceResult(spec, True, Reachability(reachability), **fields)
    candidate = Candidate("imap", "imap.x.test", 143, Security.STARTTLS)
    return Checked(Merged(candidate, ["srv"]), result, definite)


def test_cause_wording_from_probe_outcomes():
    from diag.check.verdict import unverified_cause
    from diag.model import Greeting, StartTls

    assert unverified_cause([_checked("refused")]).text == (
        "nothing works: the only server refused the connection"
    )
    plain = _checked(
        "connected", greeting=Greeting(True, "OK", "hi"), starttls=StartTls(advertised=False)
    )
    cause = unverified_cause([plain, plain])
    assert cause.kind == "no_tls"
    assert cause.text == "nothing works: all 2 servers offered no encryption"
    unsure = unverified_cause([_checked("dns_failure", definite=False)])
    assert unsure.kind == "unresolved" and "DNS did not answer" in unsure.text
    gone = unverified_cause([_checked("dns_failure")])
    assert "do not resolve" in gone.text
    # names that do not resolve (usual for guesses) do not hide what the others did
    assert unverified_cause([_checked("dns_failure"), _checked("timeout")]).kind == "timeout"
    assert unverified_cause([]).kind == "no_settings"
