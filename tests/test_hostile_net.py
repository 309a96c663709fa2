"""Hostile DNS, HTTP and mail servers against the network side: parsers, names found in
the wild, connection caps, total deadlines, local files, credentials in URLs.

Every scenario lives under hostile.test on 127.0.3.0/24 (tests/hostile), each domain
with a well-behaved IMAP server published by SRV beside the hostile part, so each test
can check that the rest of the result survives the hostile part.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path

import pytest

from diag.check.run import check
from diag.check.verify import MAX_SERVERS_PER_CHECK
from diag.discovery.discover import DiscoveryOptions, discover
from diag.discovery.sources import MAX_SERVERS_PER_SOURCE
from diag.model import Reachability
from diag.net.connection import (
    MAX_ADDRESSES_PER_HOST,
    MAX_CONNECTIONS_PER_ADDRESS,
    race_order,
)
from diag.net.dns import Nameserver
from diag.net.http import FETCH_STEPS
from diag.probe import ProbeOptions, probe_host
from tests.clirun import maildiag
from tests.hostile import Hostile
from tests.hostile.world import (
    AC300,
    BASE,
    CAP7,
    GOOD,
    HTTP_FAULTS,
    IMAP,
    NS,
    ONE40,
    SRV300,
    build,
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Hostile:
    h = Hostile(tmp_path_factory.mktemp("hostile"))
    try:
        build(h)
        yield h
    finally:
        h.stop()


def options(h: Hostile, **kw) -> DiscoveryOptions:
    kw.setdefault("timeout", 2)
    return DiscoveryOptions(ca_file=h.ca_file, nameserver=Nameserver(*NS), guess=False, **kw)


def run_check(h: Hostile, domain: str, **kw):
    return asyncio.run(check(f"someone@{domain}", options(h, **kw)))


def source(report, name: str, location: str | None = None):
    sources = report.discovery.sources if hasattr(report, "discovery") else report.sources
    return next(
        s for s in sources if s.source == name and (location is None or location in s.location)
    )


def good_imap_still_works(report) -> bool:
    """The SRV-published good server was found and probed: the rest of the check went on."""
    srv = source(report, "srv")
    return srv.status == "found" and any(
        c.usable and c.merged.candidate.host == GOOD for c in report.checked
    )


def codes(report) -> set[str]:
    return {f.code for f in report.findings}


def cli(h: Hostile, *args: str):
    return maildiag(
        *args, "--nameserver", f"{NS[0]}:{NS[1]}", "--ca-file", str(h.ca_file), "--timeout", "2"
    )


# -- item 3: parsers that must refuse, not crash -------------------------------------


@pytest.mark.parametrize("name", sorted(HTTP_FAULTS))
def test_http_parser_faults_are_source_errors(hostile, name):
    report = run_check(hostile, f"{name}.{BASE}")
    autoconfig = source(report, "autoconfig")
    assert autoconfig.status == "error", autoconfig
    assert HTTP_FAULTS[name][1] in autoconfig.detail
    assert good_imap_still_works(report)


def test_http_parser_fault_through_the_command_line(hostile):
    result = cli(hostile, "check", f"x@negchunk.{BASE}", "--no-guess", "--json")
    data = json.loads(result.stdout)
    autoconfig = next(s for s in data["discovery"]["sources"] if s["source"] == "autoconfig")
    assert autoconfig["status"] == "error" and "chunk" in autoconfig["detail"]


def test_autoconfig_bad_entries_are_findings_on_that_source(hostile):
    report = run_check(hostile, f"acbad.{BASE}")
    autoconfig = source(report, "autoconfig")
    assert autoconfig.status == "found"
    assert [(c.host, c.port) for c in autoconfig.candidates] == [(GOOD, 993)]
    assert len(autoconfig.rejected) == 3
    assert "discovery.unusable_entry" in codes(report)
    assert good_imap_still_works(report)


def test_autodiscover_ports_out_of_range_are_findings(hostile):
    report = run_check(hostile, f"adport.{BASE}")
    autodiscover = source(report, "autodiscover", f"//adport.{BASE}/")
    assert autodiscover.status == "found"
    assert [(c.host, c.port) for c in autodiscover.candidates] == [(GOOD, 993)]
    assert len(autodiscover.rejected) == 2 and "99999" in autodiscover.rejected[0]
    unusable = [f for f in report.findings if f.code == "discovery.unusable_entry"]
    assert len(unusable) == 1 and "autodiscover" in unusable[0].evidence
    assert any(c.usable and c.merged.candidate.host == GOOD for c in report.checked)


# -- item 4: names from DNS and published files -----------------------------------


def test_underscores_in_mx_and_srv_targets_are_fine(hostile):
    report = run_check(hostile, f"names.{BASE}")
    assert report.discovery.mx_hosts == [f"mx_1.names.{BASE}"]
    assert report.domain.unresolvable_mx == [] and report.domain.unusable_mx == []
    srv = source(report, "srv")
    assert [c.host for c in srv.candidates] == [f"imap_1.names.{BASE}"]
    assert all(c.usable for c in report.checked)
    assert not codes(report) & {"dns.mx_unusable", "discovery.unusable_entry"}


def test_underscore_mx_through_the_command_line(hostile):
    result = cli(hostile, "check", f"names.{BASE}", "--no-guess", "--json")
    assert result.returncode in (0, 1, 2), result.stderr
    data = json.loads(result.stdout)
    assert data["dns"]["mx"]["hosts"] == [f"mx_1.names.{BASE}"]


def test_unusable_mx_name_is_a_finding(hostile):
    report = run_check(hostile, f"badmx.{BASE}")
    unusable = [f for f in report.findings if f.code == "dns.mx_unusable"]
    assert len(unusable) == 1 and "\\027" in unusable[0].evidence
    assert good_imap_still_works(report)


def test_unusable_srv_target_is_a_finding_on_srv(hostile):
    report = run_check(hostile, f"badsrv.{BASE}")
    srv = source(report, "srv")
    assert [c.host for c in srv.candidates] == [GOOD]
    assert len(srv.rejected) == 2  # a name with a space, and port 0
    assert "discovery.unusable_entry" in codes(report)
    assert good_imap_still_works(report)


def test_a_source_that_fails_unexpectedly_does_not_abort_the_check(hostile, monkeypatch):
    from diag.discovery.sources import srv

    async def broken(ctx):
        raise RuntimeError("a bug in one source\nsecond line")

    monkeypatch.setattr(srv, "from_srv", broken)
    report = run_check(hostile, f"acbad.{BASE}")
    failed = source(report, "srv")
    assert failed.status == "error" and "RuntimeError: a bug in one source second" in failed.detail
    assert source(report, "autoconfig").status == "found"
    assert any(c.usable and c.merged.candidate.host == GOOD for c in report.checked)


def test_dns_faults_on_some_srv_names_leave_the_others(hostile):
    report = run_check(hostile, f"dnsfault.{BASE}", timeout=1)
    by_name = {s.location.split(".")[0]: s for s in report.discovery.sources if s.source == "srv"}
    assert by_name["_imaps"].status == "found"
    assert {by_name[n].status for n in ("_imap", "_pop3s", "_submissions")} == {"error"}
    assert good_imap_still_works(report)


# -- item 5: amplification -----------------------------------------------------------


def test_300_srv_records_give_at_most_the_source_cap(hostile):
    hostile.stats.reset()
    report = run_check(hostile, f"srv300.{BASE}")
    assert 0 < hostile.stats.total[SRV300] <= MAX_SERVERS_PER_SOURCE
    assert "discovery.too_many_servers" in codes(report)
    assert source(report, "srv").ignored == 300 - MAX_SERVERS_PER_SOURCE
    assert source(report, "autoconfig").status == "found"  # the other source is still there
    assert any(c.usable and c.merged.candidate.host == GOOD for c in report.checked)


def test_autoconfig_with_300_servers_gives_at_most_the_source_cap(hostile):
    hostile.stats.reset()
    report = run_check(hostile, f"ac300.{BASE}")
    assert 0 < hostile.stats.total[AC300] <= MAX_SERVERS_PER_SOURCE
    assert source(report, "autoconfig").ignored == 300 - MAX_SERVERS_PER_SOURCE
    assert "discovery.too_many_servers" in codes(report)
    assert good_imap_still_works(report)


def test_40_servers_on_one_host_respect_the_check_and_address_caps(hostile):
    hostile.stats.reset()
    report = run_check(hostile, f"one40.{BASE}")
    assert 0 < hostile.stats.peak[ONE40] <= MAX_CONNECTIONS_PER_ADDRESS
    assert hostile.stats.total[ONE40] <= MAX_SERVERS_PER_CHECK
    capped = [f for f in report.findings if f.code == "discovery.too_many_servers"]
    assert any(f.message.endswith(f"only {MAX_SERVERS_PER_CHECK} were tried") for f in capped)
    assert good_imap_still_works(report)


def test_one_host_probe_respects_the_address_cap(hostile):
    hostile.stats.reset()
    options = ProbeOptions(timeout=3, nameserver=Nameserver(*NS), ca_file=hostile.ca_file)
    report = asyncio.run(probe_host(f"cap7.{BASE}", options))
    assert len(report.services) == 7
    assert all(s.reachability is Reachability.CONNECTED for s in report.services)
    assert hostile.stats.peak[CAP7] <= MAX_CONNECTIONS_PER_ADDRESS
    # The scanner's hellos went to the same address, under the same cap.
    hellos = sum(s.scan.hellos for s in report.services if s.scan is not None)
    assert hellos >= 7 and hostile.stats.total[CAP7] >= 7 + hellos


def test_30_dropped_addresses_are_raced_within_the_host_deadline(hostile):
    timeout = 1.0
    options = ProbeOptions(
        timeout=timeout, nameserver=Nameserver(*NS), ports=(993,), legacy_tls=False
    )
    start = time.monotonic()
    report = asyncio.run(probe_host(f"many30.{BASE}", options))
    elapsed = time.monotonic() - start
    (service,) = report.services
    assert service.reachability is Reachability.TIMEOUT
    assert 1 <= len(service.attempts) <= MAX_ADDRESSES_PER_HOST
    assert elapsed < timeout * 3  # the connect step's own deadline, plus DNS; not 30 s


def test_a_dropping_first_address_costs_one_stagger_not_a_timeout(hostile):
    """RFC 8305: the second address starts 250 ms after the first, not after its timeout."""
    options = ProbeOptions(
        timeout=3, nameserver=Nameserver(*NS), ports=(993,), ca_file=hostile.ca_file
    )
    start = time.monotonic()
    report = asyncio.run(probe_host(f"race.{BASE}", options))
    elapsed = time.monotonic() - start
    (service,) = report.services
    assert service.reachability is Reachability.CONNECTED and service.address == IMAP
    assert [a.address for a in service.attempts] == [IMAP]  # the lost race is no failure
    assert elapsed < 2.5  # trying the addresses in turn would take 3 s before the second


def test_race_order_interleaves_families():
    addresses = ["2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert race_order(addresses) == [
        "2001:db8::1",
        "192.0.2.1",
        "2001:db8::2",
        "192.0.2.2",
        "192.0.2.3",
    ]
    assert len(race_order([f"192.0.2.{i}" for i in range(50)])) == MAX_ADDRESSES_PER_HOST


# -- item 6: total deadlines -----------------------------------------------------------


def test_drip_fed_http_headers_end_within_the_fetch_deadline(hostile):
    timeout = 1.0
    start = time.monotonic()
    report = asyncio.run(discover(f"x@drip.{BASE}", options(hostile, timeout=timeout)))
    elapsed = time.monotonic() - start
    autoconfig = source(report, "autoconfig")
    assert autoconfig.status == "error" and "no complete answer" in autoconfig.detail
    # HTTPS, then the plain-HTTP fallback: two fetches, each bounded
    assert elapsed < 2 * FETCH_STEPS * timeout + 3
    assert source(report, "srv").status == "found"


def test_drip_fed_smtp_greeting_ends(hostile):
    options = ProbeOptions(timeout=1, nameserver=Nameserver(*NS), ports=(25,))
    start = time.monotonic()
    report = asyncio.run(probe_host(f"dripsmtp.{BASE}", options))
    (service,) = report.services
    assert service.greeting_timed_out or service.greeting_error
    assert time.monotonic() - start < 6


# -- item 6: local files ---------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "ca.pem"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["probe", "check"])
@pytest.mark.parametrize("kind", ["fifo", "zero", "huge", "directory"])
def test_ca_file_that_is_not_a_small_regular_file_exits_3(command, kind, fifo, tmp_path):
    target = {
        "fifo": fifo,
        "zero": Path("/dev/zero"),
        "huge": tmp_path / "huge.pem",
        "directory": tmp_path,
    }[kind]
    if kind == "huge":
        with target.open("wb") as handle:
            handle.truncate(11 * 1024 * 1024)
    result = maildiag(
        command, f"x.{BASE}", "--ca-file", str(target), "--nameserver", "127.0.3.54:53",
        "--timeout", "1", timeout=20,
    )  # fmt: skip
    assert result.returncode == 3
    expected = {
        "fifo": "not a regular file (a FIFO)",
        "zero": "not a regular file (a character device)",
        "huge": "larger than 10 MiB",
        "directory": "is a directory",
    }[kind]
    assert expected in result.stderr and result.stderr.count("\n") == 1


def test_provider_entry_that_is_a_fifo_is_skipped(tmp_path):
    folder = tmp_path / "providers"
    folder.mkdir()
    os.mkfifo(folder / "evil.toml")
    result = maildiag("providers", "list", "--providers-dir", str(folder), timeout=20)
    assert result.returncode in (0, 1)
    assert "evil.toml" in result.stderr and "FIFO" in result.stderr
    assert "gmail" in result.stdout.lower()


def test_import_of_a_fifo_is_an_error_not_a_hang(fifo):
    result = maildiag("providers", "import", str(fifo), "--to", "-", timeout=20)
    assert result.returncode == 3 and "FIFO" in result.stderr


# -- item 7: credentials in URLs -------------------------------------------------------


def test_ispdb_credentials_go_as_basic_auth_and_are_never_shown(hostile):
    hostile.requests.clear()
    secret = "s3cret-pw"
    for extra in ([], ["--json"]):
        result = cli(
            hostile, "check", f"x@creds.{BASE}", "--no-guess",
            "--ispdb-url", f"https://user:{secret}@ispdb.{BASE}/ispdb", *extra,
        )  # fmt: skip
        assert secret not in result.stdout + result.stderr
        assert "user:" not in result.stdout + result.stderr
    asked = [r for r in hostile.requests if r.target.startswith("/ispdb/")]
    first = [r for r in asked if r.host == f"ispdb.{BASE}"]
    assert first and all(r.host == f"ispdb.{BASE}" for r in first)  # no user:secret@ in Host
    token = base64.b64encode(f"user:{secret}".encode()).decode()
    assert all(r.headers.get("authorization") == f"Basic {token}" for r in first)
    followed = [r for r in asked if r.host == f"elsewhere.{BASE}"]
    assert followed and all("authorization" not in r.headers for r in followed)
    assert all(secret.encode() not in r.head for r in followed)


def test_ispdb_credentials_over_plain_http_are_refused(hostile):
    result = cli(
        hostile, "check", f"x@creds.{BASE}", "--ispdb-url", f"http://user:pw123@ispdb.{BASE}/"
    )
    assert result.returncode == 3
    assert "pw123" not in result.stdout + result.stderr and "plain HTTP" in result.stderr


def test_a_silent_dns_server_costs_one_timeout_not_two():
    """Sources that depend on an earlier lookup (Autodiscover's SRV, autoconfig's HTTP
    fallback on the same name) must not wait for it a second time."""
    import socket

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # reads nothing, answers never
    sink.bind(("127.0.0.1", 0))
    try:
        start = time.monotonic()
        result = maildiag(
            "check", "jane@silent.example", "--nameserver", f"127.0.0.1:{sink.getsockname()[1]}",
            "--timeout", "2", "--json",
        )  # fmt: skip
        elapsed = time.monotonic() - start
    finally:
        sink.close()
    data = json.loads(result.stdout)
    assert result.returncode == 3 and data["cause"] == "dns_down"
    assert elapsed < 2 * 2  # one --timeout and the start-up; two timeouts before
    sources = {(s["source"], s["location"]): s for s in data["discovery"]["sources"]}
    http = sources[
        (
            "autoconfig-http",
            "http://autoconfig.silent.example/mail/config-v1.1.xml?emailaddress=jane@silent.example",
        )
    ]
    assert "timed out" in http["detail"]
