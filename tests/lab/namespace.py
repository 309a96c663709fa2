#!/usr/bin/env python3
"""Run a command in the lab's private world: its own network, mounts and processes.

tests/run starts this as the first process of new namespaces
(`unshare --net --mount --pid --fork --mount-proc`), so that:

- the only network is a fresh loopback: the lab binds 127.0.0.2:25 and friends
  even when the host runs its own mail server, and no test can reach anything else;
- the private server prefix (tests/lab/provision.py) is laid over /usr and /etc
  with copy-on-write overlays: Dovecot, Postfix, Exim, nginx and dnsmasq find their
  files as if installed, the lab's system users exist, and whatever the servers or
  the lab write there lands in a temporary directory, never in the host's /etc;
- every process started inside dies with it: when the command ends, this process
  (PID 1 of the namespace) exits and the kernel ends all the others.

Usage: namespace.py PREFIX -- COMMAND [ARGS...]
Standard library only.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

MARKER = "MAILDIAG_LAB_NAMESPACE"  # set for the command: the lab refuses to run without it
# System users the servers' packages would create on install (name, group).
USERS = [
    ("dovecot", "dovecot"),
    ("dovenull", "dovenull"),
    ("postfix", "postfix"),
    ("Debian-exim", "Debian-exim"),
    ("dnsmasq", "nogroup"),
]
GROUPS = ["postdrop"]


def loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def overlay(target: str, lower: Path, scratch: Path) -> None:
    name = target.strip("/").replace("/", "-")
    upper, work = scratch / f"{name}-upper", scratch / f"{name}-work"
    upper.mkdir()
    work.mkdir()
    options = f"lowerdir={lower}:{target},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, target], check=True)


def add_system_users() -> None:
    """Private /etc/passwd entries (the overlay keeps them out of the host's file)."""
    used_uids = {p.pw_uid for p in pwd.getpwall()}
    used_gids = {g.gr_gid for g in grp.getgrall()}
    free = (n for n in range(64900, 64000, -1) if n not in used_uids and n not in used_gids)
    groups, users = [], []
    wanted_groups = [g for _, g in USERS] + GROUPS
    for group in dict.fromkeys(wanted_groups):
        try:
            grp.getgrnam(group)
        except KeyError:
            groups.append(f"{group}:x:{next(free)}:")
    with open("/etc/group", "a") as f:
        f.writelines(line + "\n" for line in groups)
    gids = {line.split(":")[0]: line.split(":")[2] for line in groups}
    for user, group in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            gid = gids.get(group) or str(grp.getgrnam(group).gr_gid)
            users.append(f"{user}:x:{next(free)}:{gid}::/nonexistent:/usr/sbin/nologin")
    with open("/etc/passwd", "a") as f:
        f.writelines(line + "\n" for line in users)


def main(argv: list[str]) -> int:
    if os.getpid() != 1 or "--" not in argv:
        print(
            "usage: unshare --net --mount --pid --fork --mount-proc namespace.py PREFIX -- CMD",
            file=sys.stderr,
        )
        return 2
    split = argv.index("--")
    prefix, command = Path(argv[1]), argv[split + 1 :]
    scratch = Path(tempfile.mkdtemp(prefix="maildiag-ns-"))
    try:
        loopback_up()
        for target in ("/usr", "/etc"):
            overlay(target, prefix / target.strip("/"), scratch)
        add_system_users()
        signal.signal(signal.SIGINT, lambda *_: None)  # the command handles Ctrl-C
        signal.signal(signal.SIGTERM, lambda *_: None)
        child = subprocess.Popen(command, env={**os.environ, MARKER: str(scratch)})
        while True:  # PID 1 also reaps the orphans of stopped servers
            pid, status = os.wait()
            if pid == child.pid:
                code = os.waitstatus_to_exitcode(status)
                return code if code >= 0 else 128 - code
    finally:
        # Unmount before removing: the scratch directory holds the overlays' upper layers.
        for target in ("/etc", "/usr"):
            subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
