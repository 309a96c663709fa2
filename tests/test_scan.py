"""`maildiag scan` against the scan lab: 2,000 generated domains, a few real mail hosts.

Every run here is the real command (a subprocess, as a user runs it) against real
servers (Unbound, Dovecot, Exim, nginx counting connections); see tests/lab/bulk.py
for what each domain is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.lab import bulk
from tests.lab.servers import LabError

pytestmark = pytest.mark.lab

COUNT = 2000
REPO = Path(__file__).resolve().parent.parent
TIMING = {"elapsed_ms", "connect_ms", "ms", "started_at", "duration_ms", "started"}
SCAN_ONLY = {"schema", "mode", "target", "error", "rate_limited"}


@pytest.fixture(scope="session")
def scan_lab() -> Iterator[bulk.ScanLab]:
    try:
        with bulk.running(COUNT) as lab:
            yield lab
    except LabError as exc:
        pytest.fail(f"the scan lab could not start: {exc}", pytrace=False)


def maildiag(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diag", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def comparable(value, top: bool = True):
    """A record without timings (and, at the top, without the scan's own fields)."""
    if isinstance(value, dict):
        drop = TIMING | (SCAN_ONLY if top else set())
        return {
            k: comparable(v, False)
            for k, v in value.items()
            if k not in drop and not k.endswith("_ms")
        }
    if isinstance(value, list):
        return [comparable(v, False) for v in value]
    return value


def by_kind(domains: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in domains:
        out.setdefault(bulk.kind(int(d[1:6])), []).append(d)
    return out


@pytest.fixture(scope="session")
def full_scan(scan_lab: bulk.ScanLab) -> tuple[list[dict], dict, dict]:
    """One scan of all 2,000 domains: (records, summary, what nginx counted)."""
    mark = scan_lab.mark()
    out, summary = scan_lab.root / "full.jsonl", scan_lab.root / "full-summary.json"
    result = maildiag(
        "scan",
        str(scan_lab.domains),
        "-o",
        str(out),
        "--summary",
        str(summary),
        "--busy-delay",
        "0.2",
        *scan_lab.args(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not a terminal: nothing but errors on stderr
    return records(out), json.loads(summary.read_text()), scan_lab.counted(mark)


def test_every_domain_once_with_the_right_outcome(full_scan) -> None:
    found, summary, _ = full_scan
    targets = Counter(r["target"] for r in found)
    assert len(targets) == COUNT and set(targets.values()) == {1}
    assert all(r["schema"] == "maildiag.scan/1" and r["mode"] == "check" for r in found)
    for r in found:
        kind = bulk.kind(int(r["target"][1:6]))
        codes = {f["code"] for f in r["findings"]}
        if kind == "nxdomain":
            assert "dns.nxdomain" in codes
        elif kind == "silent":
            assert r["checked"] is False and r["exit_code"] == 3
        elif kind == "busy":
            assert r["rate_limited"] is True and r["error"]["kind"] == "rate_limited"
        elif kind in ("badcert", "ownname"):
            assert "tls.cert.hostname_mismatch" in codes
        else:
            assert r["error"] is None and r["exit_code"] in (0, 1, 2)
            assert r["recommended"]["incoming"][0]["host"] in ("mx1.scan.test", "mx2.scan.test")
            assert not any(c.startswith("tls.") for c in codes)
    assert summary["targets"] == COUNT
    assert sum(summary["verdicts"].values()) == COUNT
    assert summary["rate_limited"] == COUNT // 20
    assert summary["cache"]["probe_hit_rate"] > 0.8  # shared hosts probed once
    assert summary["cache"]["dns_hit_rate"] > 0.2
    assert len(summary["top_findings"]) <= 10 and len(summary["slowest"]) == 10


def test_scan_matches_single_checks(scan_lab: bulk.ScanLab, full_scan) -> None:
    found = {r["target"]: r for r in full_scan[0]}
    sample = [d for ds in by_kind(sorted(found)).values() for d in ds[:2]]
    # At once: a silent domain's check waits out its DNS timeout; the others need not.
    with ThreadPoolExecutor(len(sample)) as pool:
        singles = pool.map(
            lambda d: maildiag("check", d, "--json", *scan_lab.args(), timeout=120), sample
        )
        for domain, single in zip(sample, singles, strict=True):
            assert single.stdout, single.stderr
            expected = comparable(json.loads(single.stdout))
            assert comparable(found[domain]) == expected, domain


def test_per_host_cap_is_enforced(full_scan) -> None:
    counted = full_scan[2]
    assert set(counted["total"]) == set(bulk.HOSTS.values())
    assert not counted["over"]  # never a third connection to a host (--per-host default 2)


def test_per_host_cap_of_one(scan_lab: bulk.ScanLab) -> None:
    domains = bulk.solo_domains()[:30]  # mx3, capped at 1: nothing shared but the address
    path = scan_lab.subset("one.txt", domains)
    out = scan_lab.root / "one.jsonl"
    mark = scan_lab.mark()
    result = maildiag("scan", str(path), "-o", str(out), "--per-host", "1", *scan_lab.args())
    assert result.returncode == 0, result.stderr
    assert len(records(out)) == 30
    counted = scan_lab.counted(mark)
    assert set(counted["total"]) == {bulk.SOLO[1]}
    assert counted["total"][bulk.SOLO[1]] >= 30 * 6
    assert not counted["over"]
    # The counter sees a breach: the same domains three connections at a time.
    mark = scan_lab.mark()
    result = maildiag("scan", str(path), "--per-host", "3", *scan_lab.args())
    assert result.returncode == 0, result.stderr
    assert scan_lab.counted(mark)["over"][bulk.SOLO[1]] > 0


def test_resume_after_sigkill(scan_lab: bulk.ScanLab) -> None:
    domains = [d for d in bulk.domains(COUNT)[:600] if bulk.kind(int(d[1:6])) != "silent"]
    path = scan_lab.subset("resume.txt", domains)
    out = scan_lab.root / "resume.jsonl"
    command = [sys.executable, "-m", "diag", "scan", str(path), "-o", str(out)]
    command += ["--concurrency", "8", *scan_lab.args()]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if out.exists() and out.read_text().count("\n") >= 40:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = out.read_text().count("\n")
    assert 40 <= before < len(domains)
    result = maildiag("scan", str(path), "-o", str(out), "--resume", *scan_lab.args())
    assert result.returncode == 0, result.stderr
    targets = Counter(r["target"] for r in records(out))
    assert set(targets) == set(domains)
    assert set(targets.values()) == {1}


def test_worker_processes_match_one_process(scan_lab: bulk.ScanLab) -> None:
    domains = [d for d in bulk.domains(COUNT)[:200] if bulk.kind(int(d[1:6])) != "silent"]
    path = scan_lab.subset("workers.txt", domains)
    runs = {}
    for workers in ("1", "2"):
        out = scan_lab.root / f"workers{workers}.jsonl"
        result = maildiag(
            "scan", str(path), "-o", str(out), "--workers", workers, "--busy-delay", "0.2",
            *scan_lab.args(),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[workers] = {r["target"]: comparable(r) for r in records(out)}
    assert len(runs["1"]) == len(domains)
    assert runs["2"] == runs["1"]


def test_worker_killed_mid_run_is_reported_and_resumed(scan_lab: bulk.ScanLab) -> None:
    domains = [d for d in bulk.domains(COUNT)[:300] if bulk.kind(int(d[1:6])) != "silent"]
    path = scan_lab.subset("killworker.txt", domains)
    out = scan_lab.root / "killworker.jsonl"
    command = [sys.executable, "-m", "diag", "scan", str(path), "-o", str(out)]
    command += ["--workers", "2", "--concurrency", "8", *scan_lab.args()]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if out.exists() and out.read_text().count("\n") >= 20:
                break
            time.sleep(0.05)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
        os.kill(int(children.split()[0]), signal.SIGKILL)
        _, stderr = process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3
    assert "were not scanned; run again with --resume" in stderr
    assert "Traceback" not in stderr
    assert out.read_text().count("\n") < len(domains)
    result = maildiag("scan", str(path), "-o", str(out), "--resume", *scan_lab.args())
    assert result.returncode == 0, result.stderr
    targets = Counter(r["target"] for r in records(out))
    assert set(targets) == set(domains)
    assert set(targets.values()) == {1}


def test_shards_partition_the_list(scan_lab: bulk.ScanLab) -> None:
    domains = by_kind(bulk.domains(COUNT))["nxdomain"]  # fast: one DNS answer each
    path = scan_lab.subset("shards.txt", domains)
    seen: list[str] = []
    for k in range(3):
        out = scan_lab.root / f"shard{k}.jsonl"
        result = maildiag("scan", str(path), "-o", str(out), "--shard", f"{k}/3", *scan_lab.args())
        assert result.returncode == 0, result.stderr
        part = [r["target"] for r in records(out)]
        assert part  # each shard gets some
        seen += part
    assert sorted(seen) == sorted(domains)


def test_bad_lines_are_error_records(scan_lab: bulk.ScanLab) -> None:
    good = bulk.domains(COUNT)[6]
    lines = [
        "# a comment",
        "",
        good,
        "not a domain!",
        '{"target": "jane@' + good + '"}',
        '{"no_target": 1}',
        "x" * 2000,
        "bad..name",
    ]
    path = scan_lab.root / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    result = maildiag("scan", str(path), *scan_lab.args())
    assert result.returncode == 0, result.stderr
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(found) == 6
    errors = [r for r in found if r["error"]]
    assert len(errors) == 4
    assert all(r["error"]["kind"] == "bad_input" and r["exit_code"] == 3 for r in errors)
    assert {r["target"] for r in found if not r["error"]} == {good, f"jane@{good}"}
    assert max(len(r["target"]) for r in found) <= 1024


def test_probe_mode(scan_lab: bulk.ScanLab) -> None:
    closed = f"{bulk.HOSTS['mx1']}:2626"
    lines = ["mx1.scan.test", "busy.scan.test:993", closed, "mx2.scan.test:143"]
    path = scan_lab.subset("probe.txt", lines)
    result = maildiag(
        "scan", str(path), "--probe", "--busy-retries", "1", "--busy-delay", "0.1",
        *scan_lab.args(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = {r["target"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert found["mx1.scan.test"]["mode"] == "probe"
    assert len(found["mx1.scan.test"]["services"]) == 7
    assert found["busy.scan.test:993"]["rate_limited"] is True
    assert found[closed]["error"]["kind"] == "bad_input"  # needs --protocol
    assert [s["port"] for s in found["mx2.scan.test:143"]["services"]] == [143]
    single = maildiag("probe", "mx1.scan.test", "--json", *scan_lab.args())
    assert comparable(found["mx1.scan.test"]) == comparable(json.loads(single.stdout))


def test_help_and_local_scan_do_not_import_dask(scan_lab: bulk.ScanLab) -> None:
    path = scan_lab.subset("nodask.txt", bulk.domains(COUNT)[4:9])  # none silent or busy
    code = f"""
import contextlib, io, sys
from diag.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["--help"])
    main(["scan", {str(path)!r}, *{scan_lab.args()!r}])
loaded = [m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")]
print(loaded)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


# --- Dask ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    import distributed  # the [dask] extra, part of [test]

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def test_dask_matches_local_run(scan_lab: bulk.ScanLab, full_scan, cluster) -> None:
    local, _ = cluster
    out = scan_lab.root / "dask.jsonl"
    summary = scan_lab.root / "dask-summary.json"
    result = maildiag(
        "scan", str(scan_lab.domains), "-o", str(out), "--summary", str(summary),
        "--dask", local.scheduler_address, "--chunk-size", "500", "--busy-delay", "0.2",
        *scan_lab.args(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    remote = {r["target"]: r for r in records(out)}
    here = {r["target"]: r for r in full_scan[0]}
    assert len(records(out)) == COUNT and set(remote) == set(here)
    for target, record in here.items():
        assert comparable(remote[target]) == comparable(record), target
        assert remote[target]["rate_limited"] == record["rate_limited"]
    data = json.loads(summary.read_text())
    assert data["targets"] == COUNT and data["cache"]["probe_hits"] > 0


def test_dask_worker_killed_mid_run_loses_nothing(scan_lab: bulk.ScanLab, cluster) -> None:
    local, client = cluster
    domains = [d for d in bulk.domains(COUNT)[:300] if bulk.kind(int(d[1:6])) != "silent"]
    path = scan_lab.subset("kill.txt", domains)
    out = scan_lab.root / "kill.jsonl"
    command = [sys.executable, "-m", "diag", "scan", str(path), "-o", str(out)]
    command += ["--dask", local.scheduler_address, "--chunk-size", "10", "--concurrency", "5"]
    command += ["--busy-delay", "0.2"]
    process = subprocess.Popen(
        [*command, *scan_lab.args()], cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    try:
        for _ in range(600):
            if out.exists() and out.read_text().count("\n") >= 20:
                break
            time.sleep(0.05)
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        assert out.read_text().count("\n") < len(domains)  # killed mid-run
        _, stderr = process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    targets = Counter(r["target"] for r in records(out))
    assert set(targets) == set(domains)
    assert set(targets.values()) == {1}
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker
