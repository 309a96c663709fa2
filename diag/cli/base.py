"""The root command and the options several commands share."""

from pathlib import Path
from typing import Annotated

import typer

from diag import __version__

EXIT_UNKNOWN = 3  # monitoring-plugin "UNKNOWN": bad input, nothing could be checked

app = typer.Typer(
    name="maildiag",
    help="Diagnose mail servers (POP3, IMAP, SMTP, TLS) and mail-client settings.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's Markdown renderer costs ~110 ms a start
)

TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", help="Seconds allowed for each step (connect, greeting, command, handshake)."
    ),
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        help="Extra trusted CA certificates (PEM), e.g. a "
        "private CA; intermediates in it are used to spot missing ones.",
    ),
]
NameserverOpt = Annotated[
    str | None, typer.Option("--nameserver", help="DNS server to use, IP[:PORT] or [IPv6]:PORT.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON (see `maildiag docs json`).")
]
ProvidersDirOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--providers-dir",
        help="A folder of extra or overriding entries (*.toml); "
        "repeatable. Also: MAILDIAG_PROVIDERS_DIR.",
    ),
]

LangOpt = Annotated[str | None, typer.Option("--lang", help="en or fr (default: from the locale).")]

IspdbOpt = Annotated[
    str | None,
    typer.Option("--ispdb-url", help="An ISPDB-compatible server to ask as well (off when unset)."),
]
GuessOpt = Annotated[
    bool,
    typer.Option(
        "--guess/--no-guess",
        help="Guess usual host names when nothing is published for a protocol.",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"maildiag {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Exit codes: 0 all good, 1 warnings, 2 errors, 3 could not check."""
