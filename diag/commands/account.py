"""`maildiag login` and `maildiag roundtrip`: input checked, secret read, core run, rendered."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from diag.account.model import Target
from diag.errors import BadInput
from diag.model import Security


@dataclass(frozen=True)
class ServerChoice:
    imap: str | None = None
    pop3: str | None = None
    smtp: str | None = None
    tls: bool = False
    starttls: bool = False


@dataclass(frozen=True)
class SecretChoice:
    password_file: Path | None = None
    password_stdin: bool = False
    oauth_token_env: str | None = None


@dataclass(frozen=True)
class Common:
    timeout: float = 10.0
    ca_file: Path | None = None
    nameserver: str | None = None
    insecure: bool = False
    username: str | None = None
    providers_dirs: tuple[Path, ...] = ()
    as_json: bool = False


def run_login(address: str, servers: ServerChoice, secret: SecretChoice, common: Common) -> int:
    from diag.account.login import login

    address = _address(address)
    credentials = _credentials(secret)
    targets = _targets(address, servers, common, ("imap", "pop3", "smtp"))
    options = _options(common)
    report = asyncio.run(login(address, targets, credentials, options))
    if common.as_json:
        from diag.render.account_view import login_data
        from diag.render.jsonout import dumps

        sys.stdout.write(dumps(login_data(report)) + "\n")
    else:
        from diag.render.account_view import render_login
        from diag.render.console import make_console

        render_login(report, make_console())
    return report.exit_code


def run_roundtrip(
    address: str,
    servers: ServerChoice,
    secret: SecretChoice,
    common: Common,
    *,
    to: str | None,
    sender: str | None,
    wait: float,
    via: str | None,
) -> int:
    from diag.account.roundtrip import roundtrip

    address = _address(address)
    recipient = _address(to) if to else address
    sender = _address(sender) if sender else address
    if not 0 < wait <= 3600:
        raise BadInput(f"--wait must be between 0 and 3600 seconds, not {wait:g}")
    if via not in (None, "imap", "pop3"):
        raise BadInput(f"--via must be imap or pop3, not {via!r}")
    credentials = _credentials(secret)
    wanted = ("smtp", via) if via else ("smtp", "imap", "pop3")
    targets = _targets(address, servers, common, wanted)
    smtp = next((t for t in targets if t.protocol == "smtp"), None)
    watch = next((t for t in targets if t.protocol == (via or "imap")), None) or next(
        (t for t in targets if t.protocol == "pop3"), None
    )
    if smtp is None:
        raise BadInput("no submission server to send through: name one with --smtp")
    if watch is None:
        raise BadInput("no IMAP or POP3 server to watch: name one with --imap or --pop3")
    report = asyncio.run(
        roundtrip(
            address,
            smtp,
            watch,
            credentials,
            _options(common),
            sender=sender,
            recipient=recipient,
            wait=wait,
        )
    )
    if common.as_json:
        from diag.render.account_view import roundtrip_data
        from diag.render.jsonout import dumps

        sys.stdout.write(dumps(roundtrip_data(report)) + "\n")
    else:
        from diag.render.account_view import render_roundtrip
        from diag.render.console import make_console

        render_roundtrip(report, make_console())
    return report.exit_code


def _address(text: str) -> str:
    from diag.account.targets import split_address

    local, domain = split_address(text)
    return f"{local}@{domain}"


def _credentials(choice: SecretChoice):
    from diag.account.secret import read_password, read_token
    from diag.account.session import Credentials

    if choice.oauth_token_env:
        if choice.password_file or choice.password_stdin:
            raise BadInput("--oauth-token-env replaces the password: drop --password-file/-stdin")
        return Credentials(read_token(choice.oauth_token_env), oauth=True)
    import getpass

    secret = read_password(
        password_file=choice.password_file,
        password_stdin=choice.password_stdin,
        prompt=getpass.getpass,
    )
    return Credentials(secret)


def _options(common: Common):
    from diag.account.login import AccountOptions
    from diag.commands.probe import check_timeout
    from diag.net.dns import Nameserver

    if common.ca_file is not None and not common.ca_file.is_file():
        raise BadInput(f"--ca-file {common.ca_file}: no such file")
    return AccountOptions(
        timeout=check_timeout(common.timeout),
        ca_file=common.ca_file,
        nameserver=Nameserver.parse(common.nameserver) if common.nameserver else None,
        insecure=common.insecure,
    )


def _targets(
    address: str, servers: ServerChoice, common: Common, protocols: tuple[str, ...]
) -> list[Target]:
    """The named servers only, when any is named; otherwise check's recommendation."""
    from diag.account.targets import discovered_targets, parse_override, targets_from_overrides

    if servers.tls and servers.starttls:
        raise BadInput("give --tls or --starttls, not both")
    security = Security.TLS if servers.tls else Security.STARTTLS if servers.starttls else None
    named = {
        p: parse_override(p, text, security)
        for p, text in (("imap", servers.imap), ("pop3", servers.pop3), ("smtp", servers.smtp))
        if text
    }
    if common.username is not None and not common.username.strip():
        raise BadInput("--username is empty")
    username = common.username.strip() if common.username else None
    if username and any(ord(c) < 0x20 or ord(c) == 0x7F for c in username):
        raise BadInput("--username contains a control character")
    if named:
        return targets_from_overrides(address, username, named)
    from diag.commands.check import options

    discovery = options(
        timeout=common.timeout,
        ca_file=common.ca_file,
        nameserver=common.nameserver,
        ispdb_url=None,
        providers_dirs=list(common.providers_dirs),
        guess=True,
    )
    targets, reason = asyncio.run(discovered_targets(address, username, protocols, discovery))
    if not targets:
        raise BadInput(reason or f"no mail server found for {address}")
    return targets
