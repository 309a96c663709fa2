"""`maildiag probe`: one host's seven services."""

from typing import Annotated

import typer

from diag.cli.base import CaFileOpt, JsonOpt, NameserverOpt, TimeoutOpt, app


@app.command(short_help="Probe a host's POP3, IMAP and SMTP services.")
def probe(
    host: Annotated[
        str,
        typer.Argument(help="Mail server host name or IP address; HOST:PORT or [IPv6]:PORT too."),
    ],
    port: Annotated[
        list[int] | None, typer.Option("--port", "-p", help="Only this port (repeatable).")
    ] = None,
    protocol: Annotated[
        list[str] | None,
        typer.Option("--protocol", "-P", help="Only imap, pop3 or smtp (repeatable)."),
    ] = None,
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    implicit_tls: Annotated[
        bool, typer.Option("--tls", help="Probe the named ports with implicit TLS.")
    ] = False,
    starttls: Annotated[
        bool, typer.Option("--starttls", help="Probe the named ports with STARTTLS.")
    ] = False,
    scan: Annotated[
        bool,
        typer.Option(
            "--scan/--no-scan",
            "--legacy-tls/--no-legacy-tls",
            help="Raw-handshake scan (SSLv3..TLS 1.3, weak ciphers) and STARTTLS injection test.",
        ),
    ] = True,
    json: JsonOpt = False,
) -> None:
    """Probe POP3 (110, 995), IMAP (143, 993) and SMTP (25, 465, 587) on HOST, at once."""
    from diag.commands.probe import run

    code = run(
        host,
        ports=port or [],
        protocols=protocol or [],
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        scan=scan,
        as_json=json,
        implicit_tls=implicit_tls,
        starttls=starttls,
    )
    raise typer.Exit(code)
