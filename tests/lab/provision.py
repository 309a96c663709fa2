#!/usr/bin/env python3
"""Provide the lab's real servers without installing them on the host.

Debian's mail servers exclude each other (Postfix and Exim both provide
mail-transport-agent) and each enables itself at boot when installed. So the
servers are downloaded (`apt-get download`) and unpacked (`dpkg -x`) into a private
prefix that dpkg never hears of: nothing is removed, enabled or configured on the
host. Only the ordinary shared libraries they link against are installed with
apt-get, and only after a simulation shows that the install would remove nothing.

tests/lab/namespace.py later lays the prefix over /usr and /etc inside a private
mount namespace, where the servers find their files as if installed.

Usage: provision.py  -> prints the prefix's path on stdout (progress on stderr).
Standard library only: it runs before the test dependencies exist.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The servers, grouped as apt must resolve them (Postfix and Exim can't share a
# resolution: they conflict).
SERVER_GROUPS = [
    ["dovecot-core", "dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd", "dovecot-sieve"],
    ["postfix"],
    ["exim4-daemon-light"],
    ["nginx-light", "libnginx-mod-stream"],  # stream: the scan lab counts connections
    ["dnsmasq-base"],
    ["unbound"],  # the scan lab's DNS: thousands of names, answered in microseconds
    ["gnutls-bin"],
]
# Host tools the tests call directly; ordinary packages that start no service.
HOST_TOOLS = {"openssl": "openssl", "script": "bsdutils", "unshare": "util-linux"}
# Only these parts of a package's /etc are useful to the lab; init scripts, cron jobs
# and the like are left out even of the private copy.
ETC_KEEP = ("dovecot", "postfix", "exim4", "nginx", "mime.types")
VERSION = "1"  # bump to rebuild every prefix when the layout below changes


class ProvisionError(RuntimeError):
    pass


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("MAILDIAG_LAB_CACHE", Path(base) / "maildiag" / "lab"))


def log(message: str) -> None:
    print(f"tests/lab: {message}", file=sys.stderr, flush=True)


def run(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    return subprocess.run(args, capture_output=True, text=True, env=env, **kw)


def simulate(packages: list[str], apt_options: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """What `apt-get install` would install and remove, without doing it."""
    result = run(["apt-get", "-s", *apt_options, "install", "--no-install-recommends", *packages])
    if result.returncode != 0:
        raise ProvisionError(
            f"apt-get cannot resolve {' '.join(packages)}:\n{result.stderr.strip()}"
        )
    installs, removals = [], []
    for line in result.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        name = rest.split(" ", 1)[0]
        if kind == "Inst":
            installs.append(name)
        elif kind == "Remv":
            removals.append(name)
    return installs, removals


def is_library(package: str) -> bool:
    return package.startswith("lib") and not package.startswith("libnginx-mod")


def plan(apt_options: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(packages to unpack privately, shared libraries to install on the host)."""
    private: set[str] = set()
    libraries: set[str] = set()
    with ThreadPoolExecutor() as pool:
        answers = pool.map(lambda group: simulate(group, apt_options), SERVER_GROUPS)
    # Removals don't matter here: these packages are unpacked, never installed.
    for group, (installs, _) in zip(SERVER_GROUPS, answers, strict=True):
        private.update(group)
        for name in installs:
            (libraries if is_library(name) else private).add(name)
    return sorted(private), sorted(libraries)


def refuse_removals(packages: list[str], apt_options: tuple[str, ...] = ()) -> None:
    _, removals = simulate(packages, apt_options)
    if removals:
        raise ProvisionError(
            f"installing {' '.join(packages)} would remove {' '.join(removals)}; "
            "the lab never removes a package. Install them yourself if that is fine."
        )


def install_host_packages(packages: list[str]) -> None:
    if not packages:
        return
    refuse_removals(packages)
    log(f"installing shared libraries and tools: {' '.join(packages)}")
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:  # no service may start during the install
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        result = run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages])
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)
    if result.returncode != 0:
        raise ProvisionError(f"apt-get install failed:\n{result.stdout[-2000:]}{result.stderr}")


def unpack(packages: list[str], prefix: Path) -> None:
    debs = prefix.parent / "debs"
    shutil.rmtree(debs, ignore_errors=True)
    debs.mkdir(parents=True)
    log(f"downloading {len(packages)} packages into {debs}")
    result = run(["apt-get", "download", "-o", "APT::Sandbox::User=root", *packages], cwd=debs)
    if result.returncode != 0:
        raise ProvisionError(f"apt-get download failed:\n{result.stderr.strip()}")
    staging = prefix.with_name(prefix.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for deb in sorted(debs.glob("*.deb")):
        result = run(["dpkg-deb", "-x", str(deb), str(staging)])
        if result.returncode != 0:
            raise ProvisionError(f"dpkg-deb -x {deb.name} failed: {result.stderr.strip()}")
    # Merged /usr: whatever a package put in /bin, /sbin or /lib belongs under /usr.
    for top in ("bin", "sbin", "lib"):
        source = staging / top
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, staging / "usr" / top, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(source)
    etc = staging / "etc"
    if etc.is_dir():
        for entry in etc.iterdir():
            if entry.name not in ETC_KEEP:
                remove(entry)
    for extra in ("var", "run", "lib64"):
        shutil.rmtree(staging / extra, ignore_errors=True)
    shutil.rmtree(prefix, ignore_errors=True)
    staging.rename(prefix)
    shutil.rmtree(debs, ignore_errors=True)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def provision() -> Path:
    if os.geteuid() != 0:
        raise ProvisionError("the lab needs root (apt-get, namespaces, ports below 1024)")
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise ProvisionError("the lab needs Debian or Ubuntu (apt-get and dpkg-deb)")
    key = hashlib.sha256(repr((VERSION, SERVER_GROUPS)).encode()).hexdigest()[:12]
    prefix = cache_root() / f"servers-{key}"
    stamp = prefix / ".maildiag-lab"
    tools = sorted({pkg for cmd, pkg in HOST_TOOLS.items() if not shutil.which(cmd)})
    if stamp.exists() and not tools:
        libraries = stamp.read_text().split("\n--\n")[-1].split()
        if not not_installed(libraries):
            return prefix  # the fast path: no apt-get at all
    log("apt-get update")
    update = run(["apt-get", "update", "-qq"])
    if update.returncode != 0:
        raise ProvisionError(f"apt-get update failed: {update.stderr.strip()}")
    private, libraries = plan()
    install_host_packages(sorted(set(not_installed(libraries)) | set(tools)))
    if not stamp.exists():
        unpack(private, prefix)
        log(f"servers unpacked into {prefix}")
    stamp.write_text(" ".join(private) + "\n--\n" + " ".join(libraries))
    return prefix


def not_installed(packages: list[str]) -> list[str]:
    """The packages dpkg does not have installed, in one query."""
    if not packages:
        return []
    result = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *packages])
    present = {
        name.split(":")[0]
        for name, _, state in (line.partition(" ") for line in result.stdout.splitlines())
        if state == "installed"
    }
    return [p for p in packages if p not in present]


def main() -> int:
    lock_path = cache_root() / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with lock_path.open("w") as lock:  # two runs at once share one prefix
            fcntl.flock(lock, fcntl.LOCK_EX)
            print(provision())
    except ProvisionError as exc:
        log(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
