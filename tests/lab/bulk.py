"""The scan lab: thousands of generated domains on 127.0.6.0/24, a few real mail hosts.

    127.0.6.2   mx1.scan.test       IMAP 993/143, POP3 995/110, SMTP 465/587/25, good cert
    127.0.6.3   mx2.scan.test       the same; also every "own name" domain's mail.DOMAIN
    127.0.6.4   badcert.scan.test   certificate for other.test (wrong name)
    127.0.6.5   busy.scan.test      every greeting says "busy" (421, * BYE, -ERR [SYS/TEMP])
    127.0.6.6   mx3.scan.test       mx2's servers again, for the sNNN.scan.test domains only:
                                    the address whose connections are capped at one
    127.0.6.53:53                   Unbound, authoritative for scan.test (a generated file)

Domain dNNNNN.scan.test, by NNNNN % 20: 0 NXDOMAIN, 1 silent (its DNS never answers),
2 MX at badcert, 3 MX at busy, 4 its own mail.DOMAIN at mx2 (a name the certificate
does not cover, so nothing is shared but the address), 5 SRV records too; the rest MX
at mx1 or mx2 (most with SPF and DMARC, some with a broken SPF record). sNNN.scan.test
(not in domains.txt) are "own name" domains at mx3.

Real servers, started from private configurations as the main lab's (tests/lab/servers.py):
- DNS: Unbound serves the zone from a generated configuration file: a `static` local
  zone answers NXDOMAIN for every name it has no record for, and a silent domain is a
  `deny` zone, whose questions Unbound drops unanswered. (The main lab's dnsmasq answers
  a question in about 200 microseconds, Unbound in a few: at a scan's tens of thousands
  of questions, dnsmasq was the benchmark's bottleneck.)
- IMAP and POP3: one Dovecot (OpenSSL) for mx1, mx2 and badcert, one certificate per
  address. SMTP: one Exim (GnuTLS) for all of them; its connect ACL answers the busy
  host with a real `421` greeting.
- Busy IMAP and POP3 are scripted (tests/lab/scripted.py): neither Dovecot nor any other
  real server here greets a new client with "busy". Dovecot's limits before login queue
  new clients (process_limit, client_limit) or drop the oldest one, and its per-user
  limit answers only after a login.
- Counting connections: nginx (stream module) sits in front of every mail host and
  passes the bytes through to the servers above on 127.0.7.0/24, so the TLS and the
  dialogue are Dovecot's and Exim's. Its `limit_conn`, keyed by the address the client
  dialled, counts the connections open at once to each host across all seven ports,
  which is exactly what `--per-host` promises, and logs each session with
  $limit_conn_status. It runs in dry-run mode at the host's cap (2, and 1 on mx3): a
  connection beyond the cap is logged as REJECTED_DRY_RUN and still served, so a breach
  shows in the counts without changing any result. The mail servers' own accounting does
  not fit: Postfix's anvil and Exim's smtp_accept_max_per_host count per port or per
  client, not per host address; and a process-per-connection server notices a
  disconnection later than the client does, so a limit set at exactly the cap refuses
  the next connection now and then although the scanner kept it. nginx ends a session
  on the event that closes it, in the order the events arrive.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import pki, servers
from tests.lab.scripted import ScriptedServers

ZONE = "scan.test"
DNS = ("127.0.6.53", 53)  # port 53: tools that cannot be told another port (checkdmarc)
HOSTS = {
    "mx1": "127.0.6.2",
    "mx2": "127.0.6.3",
    "badcert": "127.0.6.4",
    "busy": "127.0.6.5",
}
SOLO = ("mx3", "127.0.6.6")  # capped at one connection; served by mx2's servers
CAPS = {**dict.fromkeys(HOSTS.values(), 2), SOLO[1]: 1}
BACKENDS = {
    "mx1": "127.0.7.2",
    "mx2": "127.0.7.3",
    "badcert": "127.0.7.4",
    "busy": "127.0.7.5",
}
FRONTS = {**HOSTS, SOLO[0]: SOLO[1]}
BEHIND = {**BACKENDS, SOLO[0]: BACKENDS["mx2"]}  # front name -> backend address
MAIL_PORTS = (993, 143, 995, 110, 465, 587, 25)
KINDS = {0: "nxdomain", 1: "silent", 2: "badcert", 3: "busy", 4: "ownname", 5: "srv"}
SOLO_COUNT = 40


def domain(index: int) -> str:
    return f"d{index:05d}.{ZONE}"


def kind(index: int) -> str:
    return KINDS.get(index % 20, "good")


def domains(count: int) -> list[str]:
    return [domain(i) for i in range(count)]


def solo_domains() -> list[str]:
    return [f"s{i:03d}.{ZONE}" for i in range(SOLO_COUNT)]


def zone(count: int) -> servers.Zone:
    z = servers.Zone(ttl=300)
    for name, address in FRONTS.items():
        z.hosts[f"{name}.{ZONE}"] = [address]
    for i in range(count):
        d, k = domain(i), kind(i)
        if k == "nxdomain":
            continue
        if k == "silent":
            z.silent.append(d)
            continue
        mx = {"badcert": "badcert", "busy": "busy"}.get(k, "mx1" if i % 2 else "mx2")
        if k == "ownname":
            z.hosts[f"mail.{d}"] = [HOSTS["mx2"]]
            z.mx.append((d, f"mail.{d}", 10))
        else:
            z.mx.append((d, f"{mx}.{ZONE}", 10))
        if k == "srv":
            z.srv.append((f"_imaps._tcp.{d}", f"{mx}.{ZONE}", 993, 0, 1))
            z.srv.append((f"_submission._tcp.{d}", f"{mx}.{ZONE}", 587, 0, 1))
        if i % 3:
            z.txt.append((d, "v=spf1 mx -all" if i % 7 else "v=spf1 mx include: -all"))
            z.txt.append((f"_dmarc.{d}", "v=DMARC1; p=quarantine"))
    for d in solo_domains():
        z.hosts[f"mail.{d}"] = [SOLO[1]]
        z.mx.append((d, f"mail.{d}", 10))
    return z


@dataclass
class ScanLab:
    root: Path
    processes: list[servers.Process] = field(default_factory=list)
    scripted: ScriptedServers | None = None

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def domains(self) -> Path:
        return self.root / "domains.txt"

    @property
    def nameserver(self) -> str:
        return f"{DNS[0]}:{DNS[1]}"

    def args(self) -> list[str]:
        return ["--nameserver", self.nameserver, "--ca-file", str(self.ca)]  # default timeout

    def subset(self, name: str, targets: list[str]) -> Path:
        path = self.root / name
        path.write_text("\n".join(targets) + "\n")
        return path

    # --- what nginx counted ---------------------------------------------------------------

    @property
    def sessions_log(self) -> Path:
        return self.root / "nginx-scan" / "sessions.log"

    def mark(self) -> int:
        """Where the sessions log ends now: count only what comes after."""
        time.sleep(0.2)  # sessions still closing from before
        return self.sessions_log.stat().st_size

    def counted(self, since: int) -> dict[str, Counter]:
        """Sessions since `since`, by front address: "total", and "over" the host's cap
        (nginx's dry-run verdict: open while the cap's worth of others were)."""
        time.sleep(0.3)  # nginx logs a session when it has closed it
        with self.sessions_log.open("rb") as handle:
            handle.seek(since)
            lines = handle.read().decode().splitlines()
        total, over = Counter(), Counter()
        for line in lines:
            address, _port, status = line.split()[:3]
            total[address] += 1
            if status == "REJECTED_DRY_RUN":
                over[address] += 1
        return {"total": total, "over": over}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self.scripted is not None:
            self.scripted.stop()


def start(root: Path, count: int) -> ScanLab:
    """Every server of the scan lab; ROOT gets ca.pem and domains.txt."""
    servers.require_namespace()
    lab = ScanLab(root)
    try:
        pairs = make_pki(root)
        (root / "domains.txt").write_text("\n".join(domains(count)) + "\n")
        lab.processes.append(
            servers.start_unbound(zone(count), *DNS, root, ZONE, name="unbound-scan")
        )
        dovecot = servers.DovecotSpec(
            "scan",
            [servers.DovecotSite(BACKENDS[n], pairs[n]) for n in ("mx1", "mx2", "badcert")],
            # Long-lived login processes: hundreds of connections, not a process each.
            extra=[
                f"service {s}-login {{\n  service_count = 0\n  process_min_avail = 1\n}}"
                for s in ("imap", "pop3")
            ],
        )
        lab.processes.append(servers.start_dovecot(dovecot, root))
        endpoints = [(a, p) for a in BACKENDS.values() for p in (25, 465, 587)]
        lab.processes.append(
            servers.start_exim(root, "exim-scan", lambda d, e: exim_conf(d, e, pairs), endpoints)
        )
        lab.scripted = start_busy(pairs["busy"])
        lab.processes.append(start_front(root))
    except BaseException:
        lab.stop()
        raise
    return lab


def make_pki(root: Path) -> dict[str, pki.Pair]:
    ca = pki.make_ca("maildiag scan lab root")
    (root / "ca.pem").write_bytes(pki.pem(ca.cert))
    pairs = {}
    for name in HOSTS:
        identity = "other.test" if name == "badcert" else f"{name}.{ZONE}"
        pairs[name] = pki.write_pair(root, name, pki.make_leaf([identity], ca), [])
    return pairs


def exim_conf(directory: Path, exim: str, pairs: dict[str, pki.Pair]) -> str:
    by_address = " ".join(f"{a}={n}" for n, a in BACKENDS.items())
    name = "${extract{$received_ip_address}{" + by_address + "}}"
    folder = pairs["mx1"].cert_file.parent
    return f"""
exim_path = {exim}
primary_hostname = scan.test
smtp_active_hostname = {name}.{ZONE}
smtp_banner = $smtp_active_hostname ESMTP Exim
local_interfaces = {" : ".join(BACKENDS.values())}
daemon_smtp_ports = 25 : 465 : 587
tls_on_connect_ports = 465
tls_certificate = {folder}/{name}.crt
tls_privatekey = {folder}/{name}.key
tls_advertise_hosts = *
{servers.exim_private(directory)}
smtp_accept_max = 500
smtp_connect_backlog = 256
acl_smtp_connect = acl_connect
acl_smtp_rcpt = acl_rcpt

begin acl

acl_connect:
  defer   condition = ${{if eq{{$received_ip_address}}{{{BACKENDS["busy"]}}}}}
          message = 421 4.7.0 busy.{ZONE} too many connections, try later
  accept

acl_rcpt:
  deny    message = 5.7.1 nothing is delivered here

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_advertise_condition = ${{if def:tls_in_cipher}}
  server_condition = false
"""


BUSY = {
    "imap": b"* BYE too many connections, try later\r\n",
    "pop3": b"-ERR [SYS/TEMP] too many connections, try later\r\n",
}


def start_busy(pair: pki.Pair) -> ScriptedServers:
    """The busy host's IMAP and POP3: greet with "busy" and hang up."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert_file, pair.key_file)
    scripted = ScriptedServers()
    services = [(993, "imap", 1), (143, "imap", 0), (995, "pop3", 1), (110, "pop3", 0)]
    for port, protocol, tls in services:

        async def busy(reader, writer, greeting=BUSY[protocol]) -> None:
            with suppress(ConnectionError, OSError):
                writer.write(greeting)
                await writer.drain()
            writer.close()

        scripted.serve(BACKENDS["busy"], port, busy, context if tls else None)
    return scripted


def start_front(root: Path) -> servers.Process:
    """nginx passing each mail host's seven ports through to its servers, counting."""
    servers.require("nginx")
    directory = root / "nginx-scan"
    directory.mkdir(parents=True, exist_ok=True)
    endpoints = [(a, p) for a in FRONTS.values() for p in MAIL_PORTS]
    servers.ensure_free(endpoints, "nginx-scan")
    blocks = []
    for name, address in FRONTS.items():
        for port in MAIL_PORTS:
            blocks.append(
                f"    server {{ listen {address}:{port}; limit_conn host {CAPS[address]}; "
                f"proxy_pass {BEHIND[name]}:{port}; }}"
            )
    log = directory / "error.log"
    conf = directory / "nginx.conf"
    conf.write_text(f"""
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {directory}/nginx.pid;
error_log {log} warn;
events {{ worker_connections 8192; }}
stream {{
    limit_conn_zone $server_addr zone=host:1m;
    limit_conn_dry_run on;
    limit_conn_log_level info;
    log_format sessions '$server_addr $server_port $limit_conn_status $session_time';
    access_log {directory}/sessions.log sessions;
    proxy_connect_timeout 5s;
{chr(10).join(blocks)}
}}
""")
    (directory / "sessions.log").touch()
    check = subprocess.run(["nginx", "-t", "-c", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        raise servers.LabError(f"nginx -t failed:\n{check.stderr}")
    popen = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off;"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = servers.Process("nginx-scan", popen, log)
    servers.wait_for_ports(endpoints[:1], process)
    return process


@contextlib.contextmanager
def running(count: int) -> Iterator[ScanLab]:
    """The scan lab in a fresh directory, for a test session or a benchmark."""
    # Not under pytest's 0700 temp root: the servers' unprivileged processes read it.
    root = Path(tempfile.mkdtemp(prefix="maildiag-scan-lab-"))
    os.chmod(root, 0o755)
    try:
        lab = start(root, count)
        try:
            yield lab
        finally:
            lab.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
