"""Which servers to log in to: check's recommendation, or the user's --imap/--pop3/--smtp.

Discovery and verification are check's (diag.check.run): the account test logs in
where `maildiag check` says a mail client should, never a second opinion.
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.account.model import Target
from diag.errors import BadInput
from diag.model import Security
from diag.net.names import validate_target

DEFAULT_PORTS = {
    ("imap", Security.TLS): 993,
    ("imap", Security.STARTTLS): 143,
    ("pop3", Security.TLS): 995,
    ("pop3", Security.STARTTLS): 110,
    ("smtp", Security.TLS): 465,
    ("smtp", Security.STARTTLS): 587,
}
IMPLICIT_PORTS = {993, 995, 465}


@dataclass(frozen=True)
class Override:
    host: str
    port: int
    security: Security


def parse_override(protocol: str, text: str, security: Security | None) -> Override:
    """HOST[:PORT], [IPv6]:PORT; the security from --tls/--starttls, else from the port."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise BadInput(f"--{protocol} {text!r}: unclosed [")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise BadInput(f"--{protocol} {text!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BadInput(f"--{protocol} {text!r}: invalid port {port_text!r}")
        port = int(port_text)
    if not host:
        raise BadInput(f"--{protocol} {text!r}: no host")
    host = validate_target(host)
    if security is None:
        security = Security.TLS if port is None or port in IMPLICIT_PORTS else Security.STARTTLS
    return Override(host, port or DEFAULT_PORTS[(protocol, security)], security)


def split_address(address: str) -> tuple[str, str]:
    """(local part, domain) of a mailbox address, validated enough to use on the wire."""
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise BadInput(f"{address!r} is not a mail address (expected user@domain)")
    if any(ord(c) < 0x21 or ord(c) > 0x7E or c in '<>"\\' for c in local):
        raise BadInput(f"{address!r}: the local part must be plain ASCII without spaces")
    return local, validate_target(domain)


def targets_from_overrides(
    address: str, username: str | None, overrides: dict[str, Override]
) -> list[Target]:
    return [
        Target(p, o.host, o.port, o.security, username or address, "option")
        for p, o in overrides.items()
    ]


async def discovered_targets(
    address: str,
    username: str | None,
    protocols: tuple[str, ...],
    discovery_options,
) -> tuple[list[Target], str | None]:
    """check's best verified setting per protocol; (targets, reason when none)."""
    from diag.check.run import check

    report = await check(address, discovery_options)
    if not report.live:
        return [], f"DNS did not answer for {report.discovery.domain}: nothing could be found"
    out: list[Target] = []
    for setting in report.best:
        if setting.protocol not in protocols or not setting.verified:
            continue
        out.append(
            Target(
                setting.protocol,
                setting.host,
                setting.port,
                Security(setting.security),
                username or setting.username_value or address,
                "check",
                oauth_only=list(setting.auth) == ["oauth2"],
            )
        )
    if not out:
        return [], (
            f"no working mail server found for {report.discovery.domain} "
            f"(see maildiag check {report.discovery.domain}); name one with --imap/--pop3/--smtp"
        )
    return out, None
