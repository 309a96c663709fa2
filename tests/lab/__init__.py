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

Scripted faults (tests/lab/scripted.py) live on 127.0.0.21 and up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import pki, servers

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
    return z


def start(root: Path) -> Lab:
    names = {scenario: name for scenario, (name, _) in HOSTS.items()}
    lab = Lab(root, pki.build(root / "pki", names))
    pairs = lab.pki.pairs
    try:
        lab.processes.append(servers.start_dnsmasq(zone(), *DNS, root, "lab.test"))
        main = servers.DovecotSpec(
            "main", [servers.DovecotSite(HOSTS["good"][1], pairs["good"])], auth_socket=True
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
        listeners = [
            servers.PostfixListener(good, 25),
            servers.PostfixListener(good, 587, {"smtpd_tls_security_level": "encrypt"}),
            servers.PostfixListener(good, 465, {"smtpd_tls_wrappermode": "yes"}),
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
        socket_path = servers.dovecot_auth_socket(main, root)
        lab.processes.append(servers.start_postfix(listeners, pairs["good"], socket_path, root))
    except BaseException:
        lab.stop()
        raise
    return lab
