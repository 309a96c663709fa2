"""The test lab: real Dovecot, Postfix and dnsmasq on loopback, plus scripted faults.

Topology (one loopback address per host, standard ports):

    127.0.0.2   mail.lab.test        Dovecot + Postfix 25/465/587, a good chain
    127.0.0.3   legacy.lab.test      plaintext logins, TLS 1.0, RSA-1024/SHA-1 cert,
                                     Postfix 25 with AUTH before TLS, 587 with no AUTH
    127.0.0.4   expired.lab.test     Dovecot, expired certificate
    127.0.0.5   future.lab.test      Dovecot, certificate not valid yet
    127.0.0.6   soon.lab.test        Dovecot, certificate expiring in 5 days
    127.0.0.7   wrongname.lab.test   Dovecot, certificate for mail.other.test
    127.0.0.8   selfsigned.lab.test  Dovecot, self-signed certificate
    127.0.0.9   chainless.lab.test   Dovecot, leaf sent without its intermediate
    127.0.0.10  plain.lab.test       Dovecot and Postfix 587 without any TLS
    127.0.0.53:5353                  dnsmasq, authoritative for lab.test

    127.0.0.40  nginx: HTTPS and HTTP, autoconfig and Autodiscover files (tests/lab/web.py)
    127.0.0.41  nginx: plain HTTP only

Scripted faults (tests/lab/scripted.py) live on 127.0.0.21 and up.

Discovery scenarios (domains under lab.test, each with its own DNS and files):
    good        autoconfig + Autodiscover + SRV + MX + SPF + DMARC, all agreeing: clean
    closed      autoconfig points IMAP at a closed port
    disagree    SRV says mail.lab.test, autoconfig says legacy.lab.test
    plainhttp   autoconfig only over plain HTTP
    bomb, huge  autoconfig is an entity bomb / 5 MB: refused quickly
    srvad       Autodiscover found through the _autodiscover._tcp SRV record
    moved       autoconfig redirects (301) to good's file: followed
    downgrade   autoconfig redirects from HTTPS to plain HTTP: refused
    ispdbonly   known only to the lab's ISPDB (https://good.lab.test/ispdb/DOMAIN)
    workspace   MX at Google: the provider database answers; nomx: no MX; nothere: NXDOMAIN
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import pki, servers, web

DNS = ("127.0.0.53", 5353)
HOSTS = {
    "good": ("mail.lab.test", "127.0.0.2"),
    "legacy": ("legacy.lab.test", "127.0.0.3"),
    "expired": ("expired.lab.test", "127.0.0.4"),
    "future": ("future.lab.test", "127.0.0.5"),
    "soon": ("soon.lab.test", "127.0.0.6"),
    "wrongname": ("wrongname.lab.test", "127.0.0.7"),
    "selfsigned": ("selfsigned.lab.test", "127.0.0.8"),
    "chainless": ("chainless.lab.test", "127.0.0.9"),
    "plain": ("plain.lab.test", "127.0.0.10"),
}
ZOO = ("expired", "future", "soon", "wrongname", "selfsigned", "chainless")


@dataclass
class Lab:
    root: Path
    pki: pki.LabPki
    processes: list[servers.Process] = field(default_factory=list)

    @property
    def nameserver(self) -> str:
        return f"{DNS[0]}:{DNS[1]}"

    def host(self, scenario: str) -> str:
        return HOSTS[scenario][0]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def zone() -> servers.Zone:
    z = servers.Zone()
    for name, address in HOSTS.values():
        z.hosts[name] = [address]
    z.hosts["dual.lab.test"] = ["::1", "127.0.0.2"]  # IPv6 first, nothing listens there
    z.hosts["v6only.lab.test"] = ["::1"]
    z.mx.append(("lab.test", "mail.lab.test", 10))
    # Custom domains hosted by known providers, recognised by their MX hosts.
    z.mx.append(("workspace.lab.test", "aspmx.l.google.com", 1))
    z.mx.append(("m365.lab.test", "contoso-com.mail.protection.outlook.com", 0))
    z.mx.append(("hosted.lab.test", "mx.unknown-host.test", 10))
    z.hosts["nomx.lab.test"] = ["127.0.0.2"]
    discovery_zone(z)
    return z


WEB = web.HTTPS_ADDRESS
HTTPS_NAMES = [
    "good.lab.test",
    "autoconfig.good.lab.test",
    "autodiscover.good.lab.test",
    "autoconfig.closed.lab.test",
    "autoconfig.disagree.lab.test",
    "autoconfig.bomb.lab.test",
    "autoconfig.huge.lab.test",
    "autoconfig.moved.lab.test",
    "autoconfig.downgrade.lab.test",
]


def discovery_zone(z: servers.Zone) -> None:
    for name in HTTPS_NAMES:
        z.hosts[name] = [WEB]
    z.hosts["autoconfig.plainhttp.lab.test"] = [web.HTTP_ONLY_ADDRESS]
    for domain in (
        "good",
        "closed",
        "disagree",
        "plainhttp",
        "bomb",
        "huge",
        "srvad",
        "moved",
        "downgrade",
        "ispdbonly",
    ):
        z.mx.append((f"{domain}.lab.test", "mail.lab.test", 10))
    good = "good.lab.test"
    z.srv += [
        (f"_imaps._tcp.{good}", "mail.lab.test", 993, 0, 10),
        (f"_pop3s._tcp.{good}", "mail.lab.test", 995, 0, 10),
        (f"_submissions._tcp.{good}", "mail.lab.test", 465, 0, 10),
        (f"_submission._tcp.{good}", "mail.lab.test", 587, 10, 10),
        ("_imaps._tcp.disagree.lab.test", "mail.lab.test", 993, 0, 10),
        ("_autodiscover._tcp.srvad.lab.test", "autodiscover.good.lab.test", 443, 0, 10),
    ]
    z.srv_none = [f"_imap._tcp.{good}", f"_pop3._tcp.{good}"]  # "." : not offered
    z.txt += [
        (good, "v=spf1 mx -all"),
        (f"_dmarc.{good}", "v=DMARC1; p=reject"),
        ("disagree.lab.test", "v=spf1 mx include: -all"),
    ]  # a broken SPF record


def web_files() -> dict[str, str]:
    full = web.autoconfig(
        ("mail.lab.test", 993, "SSL"),
        [("mail.lab.test", 465, "SSL"), ("mail.lab.test", 587, "STARTTLS")],
        pop3=("mail.lab.test", 995, "SSL"),
    )
    config = "mail/config-v1.1.xml"
    return {
        f"autoconfig.good.lab.test/{config}": full,
        f"good.lab.test/.well-known/autoconfig/{config}": full,
        "autodiscover.good.lab.test/autodiscover/autodiscover.xml": web.autodiscover(
            [("IMAP", "mail.lab.test", 993, "on"), ("SMTP", "mail.lab.test", 465, "on")]
        ),
        f"autoconfig.closed.lab.test/{config}": web.autoconfig(
            ("mail.lab.test", 1993, "SSL"), [("mail.lab.test", 465, "SSL")]
        ),
        f"autoconfig.disagree.lab.test/{config}": web.autoconfig(
            ("legacy.lab.test", 993, "SSL"), [("mail.lab.test", 465, "SSL")]
        ),
        f"autoconfig.plainhttp.lab.test/{config}": full,
        # An ISPDB-compatible server (--ispdb-url https://good.lab.test/ispdb): DOMAIN files.
        "good.lab.test/ispdb/ispdbonly.lab.test": web.autoconfig(
            ("mail.lab.test", 993, "SSL"), [("mail.lab.test", 587, "STARTTLS")]
        ),
        f"autoconfig.bomb.lab.test/{config}": web.BOMB,
        f"autoconfig.huge.lab.test/{config}": "<clientConfig>"
        + "<x/>" * 1_300_000
        + "</clientConfig>",
    }


def start(root: Path, dovecot_login: str = "high-security") -> Lab:
    """`dovecot_login`: how mail.lab.test's Dovecot runs its login processes
    (servers.DOVECOT_LOGIN_MODES); the benchmarks may ask for "high-performance"."""
    names = {scenario: name for scenario, (name, _) in HOSTS.items()}
    lab = Lab(root, pki.build(root / "pki", names, HTTPS_NAMES))
    pairs = lab.pki.pairs
    try:
        lab.processes.append(servers.start_dnsmasq(zone(), *DNS, root, "lab.test"))
        main = servers.DovecotSpec(
            "main",
            [servers.DovecotSite(HOSTS["good"][1], pairs["good"])],
            auth_socket=True,
            login=dovecot_login,
        )
        lab.processes.append(servers.start_dovecot(main, root))
        legacy = servers.DovecotSpec(
            "legacy",
            [servers.DovecotSite(HOSTS["legacy"][1], pairs["weak"])],
            plaintext_auth=True,
            min_protocol="TLSv1",
            cipher_list="ALL:@SECLEVEL=0",
        )
        lab.processes.append(servers.start_dovecot(legacy, root))
        zoo = servers.DovecotSpec("zoo", [servers.DovecotSite(HOSTS[s][1], pairs[s]) for s in ZOO])
        lab.processes.append(servers.start_dovecot(zoo, root))
        plain = servers.DovecotSpec(
            "plain",
            [servers.DovecotSite(HOSTS["plain"][1], None, ports=(143, 110))],
            plaintext_auth=True,
        )
        lab.processes.append(servers.start_dovecot(plain, root))
        good, legacy_ip, plain_ip = HOSTS["good"][1], HOSTS["legacy"][1], HOSTS["plain"][1]
        # Postfix accepts anonymous suites by default; a well-run host excludes them.
        no_anon = {
            "smtpd_tls_exclude_ciphers": "aNULL",
            "smtpd_tls_mandatory_exclude_ciphers": "aNULL",
        }
        listeners = [
            servers.PostfixListener(good, 25, no_anon),
            servers.PostfixListener(good, 587, {"smtpd_tls_security_level": "encrypt", **no_anon}),
            servers.PostfixListener(good, 465, {"smtpd_tls_wrappermode": "yes", **no_anon}),
            servers.PostfixListener(legacy_ip, 587, {"smtpd_sasl_auth_enable": "no"}),
            servers.PostfixListener(
                legacy_ip, 25, {"smtpd_tls_auth_only": "no", "smtpd_tls_protocols": ">=TLSv1"}
            ),
            servers.PostfixListener(
                plain_ip,
                587,
                {"smtpd_tls_security_level": "none", "smtpd_sasl_auth_enable": "no"},
            ),
        ]
        lab.processes.append(web.start_nginx(root, pairs["web"], web_files()))
        socket_path = servers.dovecot_auth_socket(main, root)
        lab.processes.append(servers.start_postfix(listeners, pairs["good"], socket_path, root))
    except BaseException:
        lab.stop()
        raise
    return lab
