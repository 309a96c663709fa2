"""Real servers for the trust and scanner verdicts, on 127.0.4.0/24 (no DNS: by address).

    127.0.4.2   noaki    Dovecot 993/143/995/110 and implicit TLS on 10993; a private
                         CA's leaf without Authority/Subject Key Identifiers (trusted by
                         mail clients, refused by strict verifiers)
    127.0.4.3   aia      Dovecot 993: the leaf alone, naming its issuer's URL (AIA)
    127.0.4.8   aiaforeign  Dovecot 993: the leaf alone, its AIA naming an intermediate of
                         a root nobody trusts (untrusted even with it)
    127.0.4.10  aiagone  Dovecot 993: the leaf alone, its AIA URL answering 404
    127.0.4.9   nginx, plain HTTP: the intermediates at their AIA URLs
    127.0.4.4   oldtls   Dovecot 993/143: TLS 1.0 and 1.1 on, anonymous and NULL suites
                         (OpenSSL @SECLEVEL=0), as servers configured long ago
    127.0.4.5   gnutls   Exim (GnuTLS) 25/465/587 and Dovecot (OpenSSL) 993/143/995/110:
                         a seven-service host with two TLS stacks
    *:11993     gnutls-serv (it binds every address), implicit TLS with TLS 1.0/1.1
                allowed: GnuTLS alone, reached as 127.0.4.6
    127.0.4.7   v1root   Dovecot 993/143: leaf and intermediate under an X.509 version 1
                         root, as old in-house CAs made them (`v1_root_file`)

The root is `root_file`; `bundle_file` also holds the intermediate.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from tests.lab import oddcerts, pki, servers, web
from tests.lab.servers import Process, ensure_free, wait_for_ports

ADDRESSES = {
    "noaki": "127.0.4.2",
    "aia": "127.0.4.3",
    "oldtls": "127.0.4.4",
    "gnutls": "127.0.4.5",
    "gnutls_serv": "127.0.4.6",
    "v1root": "127.0.4.7",
    "aiaforeign": "127.0.4.8",
    "aia_server": "127.0.4.9",
    "aiagone": "127.0.4.10",
}
ALT_IMAPS = 10993  # Dovecot's extra implicit-TLS port on noaki
GNUTLS_SERV_PORT = 11993  # a port nothing else in the lab uses: gnutls-serv binds them all
AIA_URL = "http://127.0.4.9/verdict-intermediate.crt"
FOREIGN_AIA_URL = "http://127.0.4.9/foreign-intermediate.crt"
GONE_AIA_URL = "http://127.0.4.9/gone.crt"


@dataclass
class VerdictLab:
    root: Path
    root_file: Path
    bundle_file: Path
    v1_root_file: Path
    processes: list[Process] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _pair(directory: Path, stem: str, leaf: pki.Issued, chain: list[pki.Issued]) -> pki.Pair:
    return pki.write_pair(directory, stem, leaf, chain)


def start(root: Path, dovecot_login: str = "high-security") -> VerdictLab:
    """`dovecot_login`: how the seven-service host's Dovecot (127.0.4.5) runs its login
    processes (servers.DOVECOT_LOGIN_MODES)."""
    directory = root / "verdict-pki"
    directory.mkdir(parents=True, exist_ok=True)
    authority = oddcerts.root("maildiag verdict root")
    inter = oddcerts.intermediate("maildiag verdict intermediate", authority)
    (directory / "root.pem").write_bytes(pki.pem(authority.cert))
    (directory / "bundle.pem").write_bytes(pki.pem(authority.cert) + pki.pem(inter.cert))
    foreign = oddcerts.intermediate("maildiag foreign intermediate", oddcerts.root("nobody's"))
    old = oddcerts.v1("maildiag v1 root")
    old_inter = oddcerts.intermediate("maildiag v1-root intermediate", old)
    (directory / "v1-root.pem").write_bytes(pki.pem(old.cert))
    lab = VerdictLab(
        root, directory / "root.pem", directory / "bundle.pem", directory / "v1-root.pem"
    )

    def names(host: str) -> list[str]:
        return [f"{host}.verdict.test", ADDRESSES[host]]

    noaki = oddcerts.build(
        names("noaki")[0], authority, ca=False, aki=False, ski=False, names=names("noaki")
    )
    pairs = {
        "noaki": _pair(directory, "noaki", noaki, []),
        "aia": _pair(directory, "aia", pki.make_leaf(names("aia"), inter, aia_url=AIA_URL), []),
        "oldtls": _pair(directory, "oldtls", pki.make_leaf(names("oldtls"), inter), [inter]),
        "gnutls": _pair(directory, "gnutls", pki.make_leaf(names("gnutls"), inter), [inter]),
        "v1root": _pair(
            directory, "v1root", pki.make_leaf(names("v1root"), old_inter), [old_inter]
        ),
        "aiaforeign": _pair(
            directory,
            "aiaforeign",
            pki.make_leaf(names("aiaforeign"), foreign, aia_url=FOREIGN_AIA_URL),
            [],
        ),
        "aiagone": _pair(
            directory, "aiagone", pki.make_leaf(names("aiagone"), inter, aia_url=GONE_AIA_URL), []
        ),
    }
    published = {  # what the CAs publish at the AIA URLs (DER, as RFC 5280 says)
        "verdict-intermediate.crt": inter.cert.public_bytes(Encoding.DER),
        "foreign-intermediate.crt": foreign.cert.public_bytes(Encoding.DER),
    }
    try:
        alt = (
            "service imap-login {\n  inet_listener imaps_alt {\n"
            f"    port = {ALT_IMAPS}\n    ssl = yes\n  }}\n}}"
        )
        specs = [
            servers.DovecotSpec(
                "verdict-noaki",
                [servers.DovecotSite(ADDRESSES["noaki"], pairs["noaki"])],
                extra=[alt],
            ),
            servers.DovecotSpec(
                "verdict-aia",
                [
                    servers.DovecotSite(ADDRESSES[name], pairs[name], ports=(993,))
                    for name in ("aia", "aiaforeign", "aiagone")
                ],
            ),
            servers.DovecotSpec(
                "verdict-oldtls",
                [servers.DovecotSite(ADDRESSES["oldtls"], pairs["oldtls"], ports=(993, 143))],
                min_protocol="TLSv1",
                cipher_list="ALL:aNULL:eNULL:@SECLEVEL=0",
            ),
            servers.DovecotSpec(
                "verdict-gnutls",
                [servers.DovecotSite(ADDRESSES["gnutls"], pairs["gnutls"])],
                login=dovecot_login,
            ),
            servers.DovecotSpec(
                "verdict-v1root",
                [servers.DovecotSite(ADDRESSES["v1root"], pairs["v1root"], ports=(993, 143))],
            ),
        ]
        for spec in specs:
            lab.processes.append(servers.start_dovecot(spec, root))
        wait_for_ports([(ADDRESSES["noaki"], ALT_IMAPS)], lab.processes[0])
        lab.processes.append(web.start_static(root, "aia", ADDRESSES["aia_server"], published))
        lab.processes.append(start_exim(root, ADDRESSES["gnutls"], pairs["gnutls"]))
        lab.processes.append(start_gnutls_serv(root, ADDRESSES["gnutls_serv"], pairs["gnutls"]))
    except BaseException:
        lab.stop()
        raise
    return lab


def exim_conf(directory: Path, address: str, pair: pki.Pair, exim: str) -> str:
    return f"""
exim_path = {exim}
primary_hostname = gnutls.verdict.test
local_interfaces = {address}
daemon_smtp_ports = 25 : 465 : 587
tls_on_connect_ports = 465
tls_certificate = {pair.cert_file}
tls_privatekey = {pair.key_file}
tls_advertise_hosts = *
{servers.exim_private(directory)}
acl_smtp_rcpt = acl_rcpt

begin acl

acl_rcpt:
  deny    message = 5.7.1 nothing is delivered here
"""


def start_exim(root: Path, address: str, pair: pki.Pair) -> Process:
    """Exim (Debian's build: GnuTLS) on 25, 465 (implicit TLS) and 587."""
    endpoints = [(address, port) for port in (25, 465, 587)]
    return servers.start_exim(
        root, "exim-verdict", lambda d, exim: exim_conf(d, address, pair, exim), endpoints
    )


def start_gnutls_serv(root: Path, address: str, pair: pki.Pair) -> Process:
    """gnutls-serv on GNUTLS_SERV_PORT, TLS 1.0 to 1.3 allowed: a second stack for the scanner."""
    servers.require("gnutls-serv")
    ensure_free([(address, GNUTLS_SERV_PORT)], "gnutls-serv")
    log = root / "gnutls-serv.log"
    popen = subprocess.Popen(
        [
            "gnutls-serv",
            "--port",
            str(GNUTLS_SERV_PORT),
            "--x509certfile",
            str(pair.cert_file),
            "--x509keyfile",
            str(pair.key_file),
            "--priority",
            "NORMAL:+VERS-TLS1.0:+VERS-TLS1.1:%COMPAT",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process("gnutls-serv", popen, log)
    wait_for_ports([(address, GNUTLS_SERV_PORT)], process)
    return process
