"""Rich views of the advice and of the POP3/IMAP comparison."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from diag.advice.i18n import Catalog
from diag.advice.model import Recommendation
from diag.advice.render import compare_data, confidence, group_titles, headline, text
from diag.render.layout import show_table
from diag.render.safe import sanitized

COLOUR = {"imap": "bold green", "pop3": "bold cyan", "none": "bold yellow"}


@sanitized
def render_advice(
    result: Recommendation, t: Catalog, console: Console, provider_name: str | None = None
) -> None:
    console.print(
        Text.assemble(
            (headline(result, t), COLOUR[result.protocol]),
            f"  ({confidence(result, t)})",
        )
    )
    titles = group_titles(result, t, provider_name)
    for group, reasons in result.grouped().items():
        _list(console, titles[group], [text(r.message, t) for r in reasons])
    _list(console, t("label.caveats"), [text(m, t) for m in result.caveats])
    _list(console, t("label.settings"), [text(m, t) for m in result.settings])
    if result.provider_notes and provider_name:
        _list(console, t("label.provider", name=provider_name), result.provider_notes)
    if result.unanswered:
        names = ", ".join(t(f"name.{n}") for n in result.unanswered)
        console.print(Text(t("label.unanswered", names=names), style="dim"))


def _list(console: Console, title: str, lines: list[str]) -> None:
    if not lines:
        return
    console.print(Text(title, style="bold underline"))
    for line in lines:
        console.print(Text(f"  - {line}"))


@sanitized
def render_compare(t: Catalog, console: Console) -> None:
    data = compare_data(t)
    table = Table(title=t("compare.title"), header_style="bold", show_lines=True)
    table.add_column(t("compare.aspect"), style="bold")
    table.add_column("POP3")
    table.add_column("IMAP")
    for row in data["rows"]:
        table.add_row(row["label"], row["pop3"], row["imap"])
    show_table(console, table)
