"""`maildiag recommend` and `maildiag compare`: POP3 or IMAP."""

from typing import Annotated

import typer

from diag.cli.base import JsonOpt, LangOpt, ProvidersDirOpt, app


@app.command("recommend", short_help="POP3 or IMAP? Advice from a few questions.")
def recommend_command(
    devices: Annotated[
        int | None,
        typer.Option(
            "--devices", help="Devices that read the mailbox (computers, phones, webmail)."
        ),
    ] = None,
    mobile: Annotated[
        bool | None,
        typer.Option("--mobile/--desk", help="Often away from the usual desk, or always at it."),
    ] = None,
    offline: Annotated[
        bool | None,
        typer.Option("--offline/--online", help="Needs mail without a connection, or not."),
    ] = None,
    quota_mb: Annotated[
        int | None, typer.Option("--quota-mb", help="Server space in MB (0: unknown or unlimited).")
    ] = None,
    backups: Annotated[
        str | None, typer.Option("--backups", help="Who keeps backups: self or provider.")
    ] = None,
    shared: Annotated[
        bool | None,
        typer.Option(
            "--shared/--personal", help="Several people share the mailbox, or one person."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="The mailbox's address: the provider's rules are used."),
    ] = None,
    lang: LangOpt = None,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--interactive/--no-interactive",
            help="Ask the unanswered questions (default: only on a terminal).",
        ),
    ] = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """POP3 or IMAP? A recommendation from a few questions, with its reasons."""
    from diag.advice.model import Answers
    from diag.commands.advice import run_recommend

    answers = Answers(
        devices, mobile, offline, quota_mb, backups.lower() if backups else None, shared
    )
    raise typer.Exit(
        run_recommend(
            answers,
            address=address,
            lang=lang,
            interactive=interactive,
            as_json=json,
            providers_dirs=providers_dir or [],
        )
    )


@app.command("compare", short_help="POP3 and IMAP side by side.")
def compare_command(lang: LangOpt = None, json: JsonOpt = False) -> None:
    """POP3 and IMAP side by side."""
    from diag.commands.advice import run_compare

    raise typer.Exit(run_compare(lang, json))
