"""`maildiag login` and `maildiag roundtrip`: the account test."""

from pathlib import Path
from typing import Annotated, Any

import typer

from diag.cli.base import (
    CaFileOpt,
    JsonOpt,
    NameserverOpt,
    ProvidersDirOpt,
    TimeoutOpt,
    app,
)


def _server_opt(protocol: str) -> Any:
    return typer.Option(
        f"--{protocol}",
        metavar="HOST[:PORT]",
        help=f"Use this {protocol.upper()} server (only the servers named are tested).",
    )


ImapOpt = Annotated[str | None, _server_opt("imap")]
Pop3Opt = Annotated[str | None, _server_opt("pop3")]
SmtpOpt = Annotated[str | None, _server_opt("smtp")]
TlsOpt = Annotated[
    bool, typer.Option("--tls", help="The named servers use implicit TLS (993, 995, 465).")
]
StartTlsOpt = Annotated[
    bool, typer.Option("--starttls", help="The named servers use STARTTLS (143, 110, 587).")
]
UsernameOpt = Annotated[
    str | None, typer.Option("--username", help="Log in as this (default: from the settings).")
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option("--password-file", help="Read the password from the first line of this file."),
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]
OAuthOpt = Annotated[
    str | None,
    typer.Option(
        "--oauth-token-env",
        metavar="VAR",
        help="Log in with XOAUTH2/OAUTHBEARER using the bearer token in this variable.",
    ),
]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure", help="Send the password even if the certificate does not verify (warned)."
    ),
]


@app.command(short_help="Log in to the account's IMAP, POP3 and SMTP servers.")
def login(
    address: Annotated[str, typer.Argument(metavar="ADDRESS")],
    imap: ImapOpt = None,
    pop3: Pop3Opt = None,
    smtp: SmtpOpt = None,
    tls: TlsOpt = False,
    starttls: StartTlsOpt = False,
    username: UsernameOpt = None,
    password_file: PasswordFileOpt = None,
    password_stdin: PasswordStdinOpt = False,
    oauth_token_env: OAuthOpt = None,
    insecure: InsecureOpt = False,
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Log in to ADDRESS's servers and say why a login is refused.

    The password comes from a prompt, MAILDIAG_PASSWORD, --password-file or
    --password-stdin; it is sent only over TLS with a certificate valid for the host.
    Exit codes: 0 all good, 1 warnings, 2 errors, 3 could not check.
    """
    from diag.commands.account import Common, SecretChoice, ServerChoice, run_login

    raise typer.Exit(
        run_login(
            address,
            ServerChoice(imap, pop3, smtp, tls, starttls),
            SecretChoice(password_file, password_stdin, oauth_token_env),
            Common(
                timeout, ca_file, nameserver, insecure, username, tuple(providers_dir or []), json
            ),
        )
    )


@app.command(short_help="Send a test message and watch it arrive.")
def roundtrip(
    address: Annotated[str, typer.Argument(metavar="ADDRESS")],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Send to this address of yours (it must deliver to ADDRESS)."),
    ] = None,
    sender: Annotated[
        str | None, typer.Option("--from", help="Sender address (default: ADDRESS).")
    ] = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the message.")] = 120.0,
    via: Annotated[
        str | None, typer.Option("--via", help="Watch with imap or pop3 (default: imap).")
    ] = None,
    imap: ImapOpt = None,
    pop3: Pop3Opt = None,
    smtp: SmtpOpt = None,
    tls: TlsOpt = False,
    starttls: StartTlsOpt = False,
    username: UsernameOpt = None,
    password_file: PasswordFileOpt = None,
    password_stdin: PasswordStdinOpt = False,
    oauth_token_env: OAuthOpt = None,
    insecure: InsecureOpt = False,
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Send one test message through submission, watch it arrive, then delete it.

    Exit codes: 0 arrived in INBOX, 1 warnings (e.g. Junk), 2 errors, 3 could not check.
    """
    from diag.commands.account import Common, SecretChoice, ServerChoice, run_roundtrip

    raise typer.Exit(
        run_roundtrip(
            address,
            ServerChoice(imap, pop3, smtp, tls, starttls),
            SecretChoice(password_file, password_stdin, oauth_token_env),
            Common(
                timeout, ca_file, nameserver, insecure, username, tuple(providers_dir or []), json
            ),
            to=to,
            sender=sender,
            wait=wait,
            via=via.lower() if via else None,
        )
    )
