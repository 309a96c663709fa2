"""Start and stop the lab's real servers: Dovecot, Postfix, Exim, dnsmasq, Unbound.

Each runs in the foreground from a private configuration in the test's temporary
directory and is stopped by its own process id. Every "host" is its own loopback
address, so the tool is tested on the standard ports with no overrides.

The servers only ever run inside the namespaces tests/run makes (tests/lab/namespace.py):
there /usr and /etc are private copy-on-write layers, so what a server's packaging
insists on (Postfix reads /etc/postfix/main.cf) never touches the host's files.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.pki import Pair

POSTFIX_MAIN = Path("/etc/postfix/main.cf")
LAB_MARKER = "# written by the maildiag test lab"


class LabError(RuntimeError):
    pass


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def ensure_free(endpoints: list[tuple[str, int]], name: str) -> None:
    """A stale server from an earlier run would answer in place of the new one."""
    for address, port in endpoints:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                raise LabError(
                    f"{address}:{port} is already in use: stop the stale process before "
                    f"starting {name} (e.g. `ss -ltnp 'sport = :{port}'`)"
                ) from None


def wait_for_ports(endpoints: list[tuple[str, int]], process: Process, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    pending = list(endpoints)
    while pending:
        if process.popen.poll() is not None:
            raise LabError(f"{process.name} exited early:\n{_tail(process.log)}")
        address, port = pending[0]
        try:
            with socket.create_connection((address, port), timeout=0.5):
                pending.pop(0)
                continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise LabError(
                f"{process.name} is not listening on {address}:{port}:\n{_tail(process.log)}"
            )
        time.sleep(0.05)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


NAMESPACE_MARKER = "MAILDIAG_LAB_NAMESPACE"  # set by tests/lab/namespace.py


def require_namespace() -> None:
    """Refuse to start servers on the host itself: only tests/run's namespaces are safe."""
    if not os.environ.get(NAMESPACE_MARKER) or not _overlaid("/etc"):
        raise LabError(
            "the lab's servers run only inside the namespaces of `tests/run`, which keep "
            "them off the host's network and /etc: use `tests/run [pytest args]`"
        )


def _overlaid(mount_point: str) -> bool:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    return any(line.split()[4] == mount_point and " - overlay " in line for line in lines)


def require(*commands: str) -> None:
    require_namespace()
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        raise LabError(
            f"missing {', '.join(missing)}: run the lab through `tests/run`, which provides "
            "the servers from private copies (tests/lab/provision.py)"
        )


# --- Dovecot ---------------------------------------------------------------------------------


@dataclass
class DovecotSite:
    """One listening address and how it behaves."""

    address: str
    pair: Pair | None  # None: no TLS at all
    ports: tuple[int, ...] = (143, 993, 110, 995)


@dataclass
class DovecotSpec:
    name: str
    sites: list[DovecotSite]
    plaintext_auth: bool = False  # disable_plaintext_auth = no
    min_protocol: str = "TLSv1.2"
    cipher_list: str = "ALL:!aNULL:!eNULL"
    auth_socket: bool = False  # a SASL socket for Postfix
    extra: list[str] = field(default_factory=list)
    login: str = "high-security"  # or "high-performance": see DOVECOT_LOGIN_MODES


# Dovecot's two documented ways of running its login processes (imap-login, pop3-login).
# "high-security" is Dovecot's and Debian's default: one process per connection, started
# when the connection arrives, and the master starts one at a time (it stops listening
# until the new process is ready), so a burst of N connections to one service waits for
# N process starts in a row. "high-performance" is the mode Dovecot's documentation
# recommends for busy servers: each login process serves many connections and a few
# (one per CPU) are kept ready. The lab uses the default; the probe benchmark can run
# its two seven-service hosts in high-performance mode as well, to show both.
DOVECOT_LOGIN_MODES = {
    "high-security": "",
    "high-performance": "  service_count = 0\n  process_min_avail = 2\n",
}


def dovecot_conf(spec: DovecotSpec, directory: Path) -> str:
    default = spec.sites[0]
    addresses = ", ".join(site.address for site in spec.sites)
    ports = sorted({p for site in spec.sites for p in site.ports})
    tls = default.pair is not None
    lines = [
        f"base_dir = {directory}/run",
        f"state_dir = {directory}/state",
        f"log_path = {directory}/dovecot.log",
        f"info_log_path = {directory}/dovecot.log",
        "protocols = imap pop3",
        f"listen = {addresses}",
        "default_login_user = dovenull",
        "default_internal_user = dovecot",
        f"disable_plaintext_auth = {'no' if spec.plaintext_auth else 'yes'}",
        "auth_mechanisms = plain login",
        f"mail_location = maildir:{directory}/mail/%u",
        "passdb {\n  driver = static\n  args = password=lab-password-never-used\n}",
        "userdb {\n  driver = static\n"
        f"  args = uid=dovecot gid=dovecot home={directory}/home/%u\n}}",
        "ssl = " + ("yes" if tls else "no"),
    ]
    if tls:
        assert default.pair is not None
        lines += [
            f"ssl_cert = <{default.pair.cert_file}",
            f"ssl_key = <{default.pair.key_file}",
            f"ssl_min_protocol = {spec.min_protocol}",
            f"ssl_cipher_list = {spec.cipher_list}",
        ]
    imap = [
        f"  inet_listener imap {{\n    port = {143 if 143 in ports else 0}\n  }}",
        f"  inet_listener imaps {{\n    port = {993 if 993 in ports else 0}\n    ssl = yes\n  }}",
    ]
    pop3 = [
        f"  inet_listener pop3 {{\n    port = {110 if 110 in ports else 0}\n  }}",
        f"  inet_listener pop3s {{\n    port = {995 if 995 in ports else 0}\n    ssl = yes\n  }}",
    ]
    login = DOVECOT_LOGIN_MODES[spec.login]
    lines.append("service imap-login {\n" + login + "\n".join(imap) + "\n}")
    lines.append("service pop3-login {\n" + login + "\n".join(pop3) + "\n}")
    if spec.auth_socket:
        lines.append("service auth {\n  unix_listener auth-postfix {\n    mode = 0666\n  }\n}")
    for site in spec.sites[1:]:
        if site.pair is not None:
            lines.append(
                f"local {site.address} {{\n  ssl_cert = <{site.pair.cert_file}\n"
                f"  ssl_key = <{site.pair.key_file}\n}}"
            )
    lines += spec.extra
    return "\n".join(lines) + "\n"


def start_dovecot(spec: DovecotSpec, root: Path) -> Process:
    require("dovecot")
    directory = root / f"dovecot-{spec.name}"
    for sub in ("run", "state", "mail", "home"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "run" / "master.pid").unlink(missing_ok=True)
    shutil.chown(directory / "run", "root", "root")
    endpoints = [(site.address, port) for site in spec.sites for port in site.ports]
    ensure_free(endpoints, f"dovecot-{spec.name}")
    conf = directory / "dovecot.conf"
    conf.write_text(dovecot_conf(spec, directory))
    log = directory / "dovecot.log"
    log.touch()
    popen = subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process(f"dovecot-{spec.name}", popen, log)
    wait_for_ports(endpoints, process)
    return process


def dovecot_auth_socket(spec: DovecotSpec, root: Path) -> Path:
    return root / f"dovecot-{spec.name}" / "run" / "auth-postfix"


# --- Postfix ---------------------------------------------------------------------------------


@dataclass
class PostfixListener:
    address: str
    port: int
    options: dict[str, str] = field(default_factory=dict)


POSTFIX_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def authorize_postfix_dir(directory: Path) -> None:
    """Postfix only runs a private config directory that /etc/postfix/main.cf names.

    Inside the lab's mount namespace /etc is a private copy-on-write layer: this write
    never reaches the host's /etc/postfix, whatever Postfix the host has.
    """
    require_namespace()
    POSTFIX_MAIN.parent.mkdir(parents=True, exist_ok=True)
    POSTFIX_MAIN.write_text(f"{LAB_MARKER}\nalternate_config_directories = {directory}\n")


def start_postfix(
    listeners: list[PostfixListener], pair: Pair, sasl_path: Path, root: Path
) -> Process:
    require("postfix")
    ensure_free([(x.address, x.port) for x in listeners], "postfix")
    directory = (root / "postfix").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    authorize_postfix_dir(directory)
    log = directory / "postfix.log"
    main = {
        "compatibility_level": "3.6",
        "queue_directory": f"{directory}/queue",
        "data_directory": f"{directory}/data",
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "myhostname": "mail.lab.test",
        "mydomain": "lab.test",
        "mydestination": "",
        "inet_interfaces": "loopback-only",  # the listeners below name their own addresses
        "mynetworks": "127.0.0.0/8",
        "inet_protocols": "ipv4",
        "maillog_file": str(log),
        "maillog_file_prefixes": f"/var, /dev/stdout, {directory}",
        "alias_maps": "",
        "alias_database": "",
        "biff": "no",
        "smtpd_tls_cert_file": str(pair.cert_file),
        "smtpd_tls_key_file": str(pair.key_file),
        "smtpd_tls_security_level": "may",
        "smtpd_tls_protocols": ">=TLSv1.2",  # Postfix's default still accepts 1.0 and 1.1
        "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
        "smtpd_tls_auth_only": "yes",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": str(sasl_path),
        "smtpd_relay_restrictions": "permit_sasl_authenticated, reject_unauth_destination",
    }
    (directory / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
    services = []
    for listener in listeners:
        options = "".join(f"\n  -o {k}={v}" for k, v in listener.options.items())
        services.append(f"{listener.address}:{listener.port} inet n - n - - smtpd{options}")
    (directory / "master.cf").write_text("\n".join(services) + "\n" + POSTFIX_SERVICES)
    (directory / "queue").mkdir(exist_ok=True)  # postfix creates what lies below it
    (directory / "queue" / "pid" / "master.pid").unlink(missing_ok=True)
    check = subprocess.run(
        ["script", "-qc", f"postfix -c {directory} check", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check.returncode != 0:
        raise LabError(f"postfix check failed:\n{check.stdout}{check.stderr}")
    # The master itself, in the foreground (-d): its pid is ours to stop. `postfix
    # start-fg` would leave the master orphaned when stopped.
    daemon_dir = subprocess.run(
        ["postconf", "-c", str(directory), "-h", "daemon_directory"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    popen = subprocess.Popen(
        [f"{daemon_dir}/master", "-c", str(directory), "-d"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process("postfix", popen, log)
    wait_for_ports([(x.address, x.port) for x in listeners], process)
    return process


# --- Exim ------------------------------------------------------------------------------------


def exim_private(directory: Path) -> str:
    """The settings every private Exim of the lab shares: spool, logs and pid file in
    `directory` (as start_exim prepares it), Debian's Exim user, no DNS or ident lookups
    of clients."""
    return f"""spool_directory = {directory}/spool
log_file_path = {directory}/log/%slog
pid_file_path = {directory}/exim.pid
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
host_lookup =
rfc1413_hosts ="""


def start_exim(
    root: Path,
    name: str,
    config: Callable[[Path, str], str],
    endpoints: list[tuple[str, int]],
) -> Process:
    """Exim in the foreground from `config(directory, exim_path)`, which must put its
    spool, logs and pid file in `directory` and set exim_path (a private binary)."""
    require("exim4")
    directory = root / name
    for sub in ("spool", "log"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(directory / sub, "Debian-exim", "Debian-exim")
    exim = shutil.which("exim4") or "/usr/sbin/exim4"
    conf = directory / "exim.conf"
    conf.write_text(config(directory, exim))
    conf.chmod(0o644)
    ensure_free(endpoints, name)
    log = directory / "exim.out"
    popen = subprocess.Popen(
        [exim, "-C", str(conf), "-bdf", "-odi"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process(name, popen, log)
    try:
        wait_for_ports(endpoints, process)
    except LabError as exc:
        paniclog = directory / "log" / "paniclog"
        extra = paniclog.read_text(errors="replace")[-2000:] if paniclog.exists() else ""
        process.stop()
        raise LabError(f"{exc}\n{extra}") from None
    return process


# --- DNS: dnsmasq for the main lab, Unbound for the scan lab's thousands of names -----------


@dataclass
class Zone:
    hosts: dict[str, list[str]] = field(default_factory=dict)  # name -> addresses
    mx: list[tuple[str, str, int]] = field(default_factory=list)  # domain, host, preference
    srv: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    txt: list[tuple[str, str]] = field(default_factory=list)
    cname: list[tuple[str, str]] = field(default_factory=list)
    srv_none: list[str] = field(default_factory=list)  # SRV with target "." (not offered)
    silent: list[str] = field(default_factory=list)  # domains whose questions go unanswered
    ttl: int = 0  # of every local record (dnsmasq's default: 0)


def dnsmasq_conf(zone: Zone, address: str, port: int, local: str) -> str:
    """A configuration file: thousands of records fit where a command line would not."""
    if zone.silent:
        raise LabError("dnsmasq answers every question it is asked: use start_unbound")
    lines = [
        "no-resolv",
        "no-hosts",
        f"listen-address={address}",
        f"port={port}",
        "bind-interfaces",
        f"local=/{local}/",  # the zone's own names only: anything else is NXDOMAIN
        "log-facility=-",
        "pid-file=",
        "user=root",
        "dns-forward-max=50000",  # questions to a silent forwarder pile up (10 s each)
        f"local-ttl={zone.ttl}",
    ]
    for name, addresses in zone.hosts.items():
        lines.append(f"host-record={name},{','.join(addresses)}")
    for domain, host, preference in zone.mx:
        lines.append(f"mx-host={domain},{host},{preference}")
    for name, target, srv_port, priority, weight in zone.srv:
        lines.append(f"srv-host={name},{target},{srv_port},{priority},{weight}")
    for name in zone.srv_none:
        lines.append(f"srv-host={name}")
    for name, text in zone.txt:
        lines.append(f'txt-record={name},"{text}"')  # quoted: spaces and ";" kept
    for alias, target in zone.cname:
        lines.append(f"cname={alias},{target}")
    return "\n".join(lines) + "\n"


def start_dnsmasq(
    zone: Zone, address: str, port: int, root: Path, local: str, name: str = "dnsmasq"
) -> Process:
    require("dnsmasq")
    conf = root / f"{name}.conf"
    conf.write_text(dnsmasq_conf(zone, address, port, local))
    args = ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}"]
    return _start_dns(name, args, root, address, port, local)


def unbound_conf(zone: Zone, address: str, port: int, local: str, directory: Path) -> str:
    """Unbound answering from local data only: a `static` zone (NXDOMAIN or no data for
    what it does not hold), `deny` zones for the silent domains (their questions are
    dropped), and `refuse` for everything else, so it never recurses anywhere.

    Unbound rather than dnsmasq because a scan asks tens of thousands of questions:
    Unbound answers local data in a few microseconds, dnsmasq in about 200, which made
    the lab's DNS server, not maildiag, the scan benchmark's bottleneck.
    """
    ttl = zone.ttl
    data = [f"{local}. {ttl} IN SOA ns.{local}. hostmaster.{local}. 1 3600 600 86400 {ttl}"]
    for name, addresses in zone.hosts.items():
        data += [f"{name}. {ttl} IN {'AAAA' if ':' in a else 'A'} {a}" for a in addresses]
    data += [f"{d}. {ttl} IN MX {pref} {host}." for d, host, pref in zone.mx]
    for name, target, srv_port, priority, weight in zone.srv:
        data.append(f"{name}. {ttl} IN SRV {priority} {weight} {srv_port} {target}.")
    data += [f"{name}. {ttl} IN SRV 0 0 0 ." for name in zone.srv_none]
    data += [f'{name}. {ttl} IN TXT "{text}"' for name, text in zone.txt]
    data += [f"{alias}. {ttl} IN CNAME {target}." for alias, target in zone.cname]
    lines = [
        "server:",
        f"  interface: {address}@{port}",
        "  do-daemonize: no",
        f'  directory: "{directory}"',  # not /etc/unbound: the lab's copy leaves it out
        '  username: ""',
        '  chroot: ""',
        '  pidfile: ""',
        '  logfile: ""',
        "  use-syslog: no",
        "  verbosity: 0",
        "  num-threads: 1",
        "  do-ip6: no",
        "  access-control: 127.0.0.0/8 allow",
        "  so-rcvbuf: 8m",  # bursts of thousands of questions (forced: the lab runs as root)
        '  module-config: "iterator"',
        '  local-zone: "." refuse',
        f'  local-zone: "{local}." static',
        *(f'  local-zone: "{d}." deny' for d in zone.silent),
        *(f"  local-data: '{record}'" for record in data),
        "remote-control:",
        "  control-enable: no",
    ]
    return "\n".join(lines) + "\n"


def start_unbound(
    zone: Zone, address: str, port: int, root: Path, local: str, name: str = "unbound"
) -> Process:
    require("unbound")
    conf = root / f"{name}.conf"
    conf.write_text(unbound_conf(zone, address, port, local, root))
    checked = subprocess.run(["unbound-checkconf", str(conf)], capture_output=True, text=True)
    if checked.returncode != 0:
        raise LabError(f"unbound-checkconf failed:\n{checked.stdout}{checked.stderr}")
    return _start_dns(name, ["unbound", "-d", "-c", str(conf)], root, address, port, local)


def _start_dns(
    name: str, args: list[str], root: Path, address: str, port: int, zone: str
) -> Process:
    log = root / f"{name}.log"
    popen = subprocess.Popen(
        args, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    process = Process(name, popen, log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise LabError(f"{name} exited:\n{_tail(log)}")
        if _dns_ready(address, port, zone):
            return process
        time.sleep(0.05)
    process.stop()
    raise LabError(f"{name} did not answer:\n{_tail(log)}")


def _dns_ready(address: str, port: int, zone: str) -> bool:
    import dns.message
    import dns.query

    try:
        dns.query.udp(dns.message.make_query(zone, "SOA"), address, port=port, timeout=0.3)
        return True
    except Exception:
        return False
