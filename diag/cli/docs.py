"""`maildiag docs`: the documentation installed with maildiag."""

from typing import Annotated

import typer

from diag.cli.base import app


@app.command("docs", short_help="Read the documentation (JSON contract, finding codes...).")
def docs_command(
    topic: Annotated[
        str | None,
        typer.Argument(metavar="[NAME]", help="json, findings, check, providers or advice."),
    ] = None,
    path: Annotated[bool, typer.Option("--path", help="Print the file's path only.")] = False,
) -> None:
    """The documentation installed with maildiag: list it, print one page, or its path."""
    from diag.commands.docs import run_docs

    raise typer.Exit(run_docs(topic, path))
