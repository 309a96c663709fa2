"""`maildiag discover` and `maildiag check`: the helpdesk view."""

from pathlib import Path
from typing import Annotated

import typer

from diag.cli.base import (
    CaFileOpt,
    GuessOpt,
    IspdbOpt,
    JsonOpt,
    LangOpt,
    NameserverOpt,
    ProvidersDirOpt,
    TimeoutOpt,
    app,
)

ExportOpt = Annotated[
    str | None,
    typer.Option(
        "--export",
        help="Write the settings as thunderbird, autodiscover, "
        "mobileconfig or json instead of the report.",
    ),
]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Export to this file.")]


@app.command(short_help="Find published and guessable mail settings.")
def discover(
    address: Annotated[str, typer.Argument(metavar="ADDRESS_OR_DOMAIN")],
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    ispdb_url: IspdbOpt = None,
    guess: GuessOpt = True,
    export: ExportOpt = None,
    output: OutputOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Find every published or guessable mail setting (no server is probed)."""
    from diag.commands.check import options, run_discover

    opts = options(
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        ispdb_url=ispdb_url,
        providers_dirs=providers_dir or [],
        guess=guess,
    )
    raise typer.Exit(run_discover(address, opts, as_json=json, export=export, output=output))


@app.command(short_help="Discover, test and judge a domain's mail settings.")
def check(
    address: Annotated[str, typer.Argument(metavar="ADDRESS_OR_DOMAIN")],
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    ispdb_url: IspdbOpt = None,
    guess: GuessOpt = True,
    legacy_tls: Annotated[
        bool,
        typer.Option(
            "--legacy-tls/--no-legacy-tls",
            help="Also test TLS 1.0/1.1 on every server (more connections).",
        ),
    ] = False,
    export: ExportOpt = None,
    output: OutputOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Discover, test every setting against the real servers, and give the verdict.

    Exit codes: 0 all good, 1 warnings, 2 errors, 3 could not check.
    """
    from diag.commands.check import options, run_check

    opts = options(
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        ispdb_url=ispdb_url,
        providers_dirs=providers_dir or [],
        guess=guess,
    )
    raise typer.Exit(
        run_check(
            address,
            opts,
            legacy_tls=legacy_tls,
            as_json=json,
            export=export,
            output=output,
            lang=lang,
        )
    )
