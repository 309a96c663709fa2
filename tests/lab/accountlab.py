"""A real mail system for the account test: Exim submission -> LMTP -> Dovecot.

One host, 127.0.5.20, in the account test's own range:

    Exim     465 (implicit TLS) and 587 (STARTTLS), AUTH PLAIN/LOGIN (Exim's plaintext
             authenticator; Debian's light daemon has no Dovecot driver), only after
             TLS; local mail for account.test is delivered at
             once to Dovecot over LMTP (127.0.5.20:24)
    Dovecot  IMAP 993/143 and POP3 995/110 with a passwd-file passdb (one known user),
             SPECIAL-USE folders, QUOTA, IDLE; LMTP with a Sieve script that files mail
             addressed To: spam@account.test into Junk (Exim redirects that address to
             the user, and blackholes void@account.test: accepted, never delivered)

So a round trip really travels submission -> Exim queue -> LMTP -> Dovecot -> IMAP/POP3.
Exim (GnuTLS) and Dovecot (OpenSSL) are two TLS stacks. Runs only inside tests/run's
namespaces, like the rest of the lab.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import pki, servers
from tests.lab.servers import LabError, Process, ensure_free, require, wait_for_ports

ADDRESS = "127.0.5.20"
USER = "alice@account.test"
PASSWORD = 'lab Pa55 "quoted" \\ back'
LMTP_PORT = 24


@dataclass
class AccountLab:
    root: Path
    ca_file: Path
    processes: list[Process] = field(default_factory=list)

    @property
    def dovecot_dir(self) -> Path:
        return self.root / "dovecot-account"

    @property
    def exim_dir(self) -> Path:
        return self.root / "exim-account"

    def maildir(self, folder: str = "INBOX") -> Path:
        base = self.dovecot_dir / "mail" / USER
        return base if folder == "INBOX" else base / f".{folder}"

    def exim_log(self) -> str:
        path = self.exim_dir / "log" / "mainlog"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def dovecot_conf(directory: Path, pair: pki.Pair) -> str:
    return f"""
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
info_log_path = {directory}/dovecot.log
protocols = imap pop3 lmtp
listen = {ADDRESS}
default_login_user = dovenull
default_internal_user = dovecot
disable_plaintext_auth = yes
auth_mechanisms = plain login cram-md5
mail_location = maildir:{directory}/mail/%u
mail_plugins = quota
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={directory}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = create
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = create
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = create
  }}
}}
ssl = yes
ssl_cert = <{pair.cert_file}
ssl_key = <{pair.key_file}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage=100M
  sieve_before = {directory}/sieve/junk.sieve
  sieve = file:{directory}/home/%u/sieve;active={directory}/home/%u/.dovecot.sieve
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
  postmaster_address = postmaster@account.test
}}
service lmtp {{
  inet_listener lmtp {{
    address = {ADDRESS}
    port = {LMTP_PORT}
  }}
}}
service auth {{
  unix_listener auth-exim {{
    mode = 0666
  }}
}}
"""


JUNK_SIEVE = """require ["fileinto"];
if address :is "to" "spam@account.test" {
  fileinto "Junk";
  stop;
}
"""


# "the sender is not the authenticated user" in Exim's expansion language
OWNED = "${if eq{${lc:$sender_address}}{${lc:$authenticated_id}}{no}{yes}}"


def _credentials_ok(user: str, password: str, secret: Path) -> str:
    """Exim: true when `user` is the lab user and `password` equals the secret file."""
    read = "${readfile{" + str(secret) + "}{}}"
    both = "{eq{" + user + "}{" + USER + "}}" + "{eq{" + password + "}{" + read + "}}"
    return "${if and{" + both + "}}"


def exim_conf(directory: Path, pair: pki.Pair, secret: Path, exim: str) -> str:
    return f"""
exim_path = {exim}
primary_hostname = mail.account.test
qualify_domain = account.test
domainlist local_domains = account.test
local_interfaces = {ADDRESS}
daemon_smtp_ports = 465 : 587
tls_on_connect_ports = 465
tls_certificate = {pair.cert_file}
tls_privatekey = {pair.key_file}
tls_advertise_hosts = *
auth_advertise_hosts = ${{if eq{{$tls_in_cipher}}{{}}{{}}{{*}}}}
{servers.exim_private(directory)}
message_size_limit = 25M
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt

begin acl

acl_mail:
  deny    message = 5.7.0 Authentication required
          !authenticated = *
  deny    message = 5.7.1 <$sender_address>: sender address rejected: not owned by $authenticated_id
          condition = {OWNED}
  accept

acl_rcpt:
  accept  authenticated = *
          domains = +local_domains
  deny    message = 5.7.1 relay not permitted

begin routers

blackhole:
  driver = redirect
  domains = +local_domains
  local_parts = void
  data = :blackhole:

spam_alias:
  driver = redirect
  domains = +local_domains
  local_parts = spam
  data = {USER}

dovecot:
  driver = accept
  domains = +local_domains
  transport = dovecot_lmtp

begin transports

dovecot_lmtp:
  driver = smtp
  protocol = lmtp
  hosts = {ADDRESS}
  port = {LMTP_PORT}
  allow_localhost
  hosts_avoid_tls = *

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = {_credentials_ok("$auth2", "$auth3", secret)}
  server_set_id = $auth2
  server_advertise_condition = ${{if def:tls_in_cipher}}

login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = {_credentials_ok("$auth1", "$auth2", secret)}
  server_set_id = $auth1
  server_advertise_condition = ${{if def:tls_in_cipher}}
"""


def _popen(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def start(root: Path) -> AccountLab:
    require("dovecot", "exim4")
    authority = pki.make_ca("maildiag account lab root")
    pki_dir = root / "account-pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    (pki_dir / "root.pem").write_bytes(pki.pem(authority.cert))
    pair = pki.write_pair(pki_dir, "mail", pki.make_leaf([ADDRESS], authority), [])
    lab = AccountLab(root, pki_dir / "root.pem")
    try:
        lab.processes.append(_start_dovecot(lab, pair))
        lab.processes.append(_start_exim(lab, pair))
    except BaseException:
        lab.stop()
        raise
    return lab


def _start_dovecot(lab: AccountLab, pair: pki.Pair) -> Process:
    directory = lab.dovecot_dir
    for sub in ("run", "state", "mail", "home", "sieve"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("mail", "home"):
        shutil.chown(directory / sub, "dovecot", "dovecot")
    (directory / "run" / "master.pid").unlink(missing_ok=True)
    (directory / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    endpoints = [(ADDRESS, p) for p in (143, 993, 110, 995, LMTP_PORT)]
    ensure_free(endpoints, "dovecot-account")
    conf = directory / "dovecot.conf"
    conf.write_text(dovecot_conf(directory, pair))
    sieve = directory / "sieve" / "junk.sieve"
    sieve.write_text(JUNK_SIEVE)
    compiled = subprocess.run(
        ["sievec", "-c", str(conf), str(sieve)], capture_output=True, text=True
    )
    if compiled.returncode != 0:
        raise LabError(f"sievec failed: {compiled.stderr or compiled.stdout}")
    log = directory / "dovecot.log"
    log.touch()
    process = Process("dovecot-account", _popen(["dovecot", "-F", "-c", str(conf)], log), log)
    wait_for_ports(endpoints, process)
    return process


def _start_exim(lab: AccountLab, pair: pki.Pair) -> Process:
    directory = lab.exim_dir
    for sub in ("spool", "log"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(directory / sub, "Debian-exim", "Debian-exim")
    exim = shutil.which("exim4") or "/usr/sbin/exim4"
    secret = directory / "password"  # Exim's own plaintext authenticator checks it (over TLS)
    secret.write_text(PASSWORD)
    secret.chmod(0o644)
    conf = directory / "exim.conf"
    conf.write_text(exim_conf(directory, pair, secret, exim))
    conf.chmod(0o644)
    endpoints = [(ADDRESS, 465), (ADDRESS, 587)]
    ensure_free(endpoints, "exim-account")
    log = directory / "exim.out"
    log.touch()
    process = Process("exim-account", _popen([exim, "-C", str(conf), "-bdf", "-odi"], log), log)
    try:
        wait_for_ports(endpoints, process)
    except LabError as exc:
        raise LabError(f"{exc}\n{lab.exim_log()[-2000:]}") from None
    return process
