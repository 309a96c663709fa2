"""`maildiag providers ...` and `maildiag lookup`: the provider database."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from diag.cli.base import (
    CaFileOpt,
    JsonOpt,
    LangOpt,
    NameserverOpt,
    ProvidersDirOpt,
    TimeoutOpt,
    app,
)

providers_app = typer.Typer(
    help="The provider database: settings of the mail providers people use.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(providers_app, name="providers", short_help="The offline provider database.")


@providers_app.command("list")
def providers_list(providers_dir: ProvidersDirOpt = None, json: JsonOpt = False) -> None:
    """List the providers in the database."""
    from diag.commands.providers import list_command

    raise typer.Exit(list_command(providers_dir or [], json))


@providers_app.command("show")
def providers_show(
    provider_id: Annotated[str, typer.Argument(metavar="ID", help="Provider id, e.g. gmail.")],
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Show one provider's settings, where they come from, and what other sources say."""
    from diag.commands.providers import show_command

    raise typer.Exit(show_command(provider_id, providers_dir or [], json, lang))


@providers_app.command("export")
def providers_export(
    provider_id: Annotated[str, typer.Argument(metavar="ID")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
    providers_dir: ProvidersDirOpt = None,
) -> None:
    """Write one provider as Thunderbird autoconfig XML (config-v1.1.xml)."""
    from diag.commands.providers import export_command

    raise typer.Exit(export_command(provider_id, providers_dir or [], output))


@providers_app.command("import")
def providers_import(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="DIR_OR_FILE", help="Autoconfig XML file(s), e.g. an ISPDB checkout."
        ),
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Folder for the new entries (default: $XDG_CONFIG_HOME/maildiag/providers, "
            "which maildiag always reads); - prints them.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite entries already in the folder.")
    ] = False,
) -> None:
    """Turn Thunderbird autoconfig files into provider entries."""
    from diag.commands.providers import import_command

    raise typer.Exit(import_command(source, to, force))


@providers_app.command("verify")
def providers_verify(
    provider_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID...]", help="Entries to verify.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Verify every entry.")] = False,
    layer: Annotated[
        str | None,
        typer.Option("--layer", help="With --all: only user, curated, ispdb or deltachat."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Connections at once, in all (1-64).")
    ] = 8,
    per_provider: Annotated[
        int, typer.Option("--per-provider", help="Connections at once to one provider (1-8).")
    ] = 2,
    timeout: TimeoutOpt = 10.0,
    nameserver: NameserverOpt = None,
    ca_file: CaFileOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Probe the entries' servers and report stale data (needs the network).

    Reports a host that does not resolve, a port that does not answer, the wrong
    security, a certificate that does not name the host. Exit codes: 0 all as described,
    1 some not, 3 bad input.
    """
    from diag.commands.options import check_timeout
    from diag.commands.providers import verify_command

    raise typer.Exit(
        verify_command(
            provider_ids or [],
            providers_dir or [],
            every=every,
            layer=layer,
            concurrency=concurrency,
            per_provider=per_provider,
            timeout=check_timeout(timeout),
            nameserver=nameserver,
            ca_file=ca_file,
            as_json=json,
        )
    )


@app.command(short_help="Client settings for an address, from the database.")
def lookup(
    address: Annotated[str, typer.Argument(metavar="ADDRESS_OR_DOMAIN")],
    no_mx: Annotated[
        bool, typer.Option("--no-mx", help="Do not look up MX records (no network).")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", hidden=True, help="Old name of --no-mx.")
    ] = False,
    nameserver: NameserverOpt = None,
    timeout: TimeoutOpt = 5.0,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """What to type into a mail client for ADDRESS (by domain, else by MX records).

    Exit codes: 0 found, 1 not in the database, 2 the domain does not exist,
    3 bad input or DNS unreachable.
    """
    if offline:
        print("maildiag: note: `lookup --offline` is now `--no-mx`", file=sys.stderr)
    from diag.commands.options import check_timeout
    from diag.commands.providers import lookup_command

    raise typer.Exit(
        lookup_command(
            address,
            providers_dir or [],
            no_mx=no_mx or offline,
            nameserver=nameserver,
            timeout=check_timeout(timeout),
            as_json=json,
            lang=lang,
        )
    )
