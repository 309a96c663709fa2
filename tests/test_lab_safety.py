"""The test command must not harm the machine it runs on (issue: tests/run removed Exim).

These run inside tests/run's namespaces, like the rest of the suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.lab import provision
from tests.lab.servers import NAMESPACE_MARKER, LabError, require_namespace

EXIM = ["exim4-daemon-light", "exim4-base", "exim4-config"]


def _installed_stanza(package: str) -> str:
    shown = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", package],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = [line for line in shown.splitlines() if not line.startswith(" ")]
    keep = (
        "Package:",
        "Version:",
        "Architecture:",
        "Depends:",
        "Pre-Depends:",
        "Provides:",
        "Conflicts:",
        "Replaces:",
        "Breaks:",
        "Multi-Arch:",
    )
    fields = [line for line in lines if line.startswith(keep)]
    return "\n".join([fields[0], "Status: install ok installed", *fields[1:]])


@pytest.fixture(scope="module")
def exim_machine(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """apt options that make apt believe Exim (Debian's default MTA) is installed."""
    directory = tmp_path_factory.mktemp("dpkg")
    status = directory / "status"
    real = Path("/var/lib/dpkg/status").read_text()
    deps = provision.simulate(["exim4-daemon-light"])[0]  # what Exim needs beside itself
    extra = [p for p in dict.fromkeys([*EXIM, *deps])]
    status.write_text(
        real.rstrip("\n") + "\n\n" + "\n\n".join(map(_installed_stanza, extra)) + "\n"
    )
    options = (
        f"-o=Dir::State::status={status}",
        # apt's own cache of that state, built once here instead of at every simulation
        f"-o=Dir::Cache::pkgcache={directory}/pkgcache.bin",
        f"-o=Dir::Cache::srcpkgcache={directory}/srcpkgcache.bin",
    )
    provision.simulate(["libc6"], options)
    return options


def test_installing_postfix_would_remove_exim_there(exim_machine):
    """The control: on that machine a plain install of Postfix removes the MTA."""
    _, removals = provision.simulate(["postfix"], exim_machine)
    assert "exim4-daemon-light" in removals


def test_the_lab_removes_nothing_on_a_machine_with_exim(exim_machine):
    private, libraries = provision.plan(exim_machine)
    assert "postfix" in private and "dovecot-core" in private  # never apt-installed
    assert not any(name in libraries for name in ("postfix", "dovecot-core", "nginx-light"))
    provision.refuse_removals(libraries or ["libc6"], exim_machine)  # raises if it would


def test_refuses_an_install_that_removes(exim_machine):
    with pytest.raises(provision.ProvisionError, match="would remove exim4"):
        provision.refuse_removals(["postfix"], exim_machine)


def test_the_suite_sees_only_loopback():
    assert [name for _, name in socket.if_nameindex()] == ["lo"]


def test_servers_refuse_to_start_outside_the_namespace(monkeypatch):
    monkeypatch.delenv(NAMESPACE_MARKER, raising=False)
    with pytest.raises(LabError, match="tests/run"):
        require_namespace()


def test_etc_is_a_private_layer():
    """Writes to /etc during the run land in the namespace's scratch directory."""
    scratch = Path(os.environ[NAMESPACE_MARKER])
    probe = Path("/etc/maildiag-lab-probe")
    probe.write_text("x")
    try:
        assert (scratch / "etc-upper" / probe.name).exists()
    finally:
        probe.unlink()
