"""Ask the questions the flags did not answer, in the user's language.

Reads through `console.input`, so it works on a terminal and on any stdin; a bad answer
is explained and the question asked again; end of input stops with NoAnswer.
"""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console

from diag.advice.i18n import Catalog
from diag.advice.model import QUESTIONS, Answers
from diag.errors import BadInput

MAX_DEVICES = 50

Answer = int | bool | str  # a question's value, as Answers holds it


class NoAnswer(BadInput):
    pass


def ask_missing(answers: Answers, t: Catalog, console: Console) -> Answers:
    for name in QUESTIONS:
        if getattr(answers, name) is None:
            answers = replace(answers, **{name: _ask(name, t, console)})
    return answers


def _ask(name: str, t: Catalog, console: Console) -> Answer:
    hint = {
        "devices": f"1-{MAX_DEVICES}",
        "quota_mb": "MB",
        "backups": t("prompt.choices.backups"),
    }.get(name, t("prompt.yes_no_hint"))
    while True:
        try:
            raw = console.input(f"[bold]{t('question.' + name)}[/bold] [dim]({hint})[/dim] ")
        except EOFError:
            raise NoAnswer(t("prompt.no_answer")) from None
        value, error = parse_answer(name, raw, t)
        if error is None:
            return value
        console.print(f"[yellow]{error}[/yellow]")


def parse_answer(name: str, raw: str, t: Catalog) -> tuple[Answer | None, str | None]:
    """(value, None) or (None, message to show before asking again)."""
    text = raw.strip().lower()
    if name == "devices":
        if text.isdigit() and 1 <= int(text) <= MAX_DEVICES:
            return int(text), None
        return None, t("prompt.invalid_devices")
    if name == "quota_mb":
        if not text:
            return 0, None
        if text.isdigit():
            return int(text), None
        return None, t("prompt.invalid_quota")
    if name == "backups":
        for choice in ("self", "provider"):
            if text in t.words(f"prompt.choice.backups.{choice}"):
                return choice, None
        return None, t("prompt.invalid_choice", choices=t("prompt.choices.backups"))
    if text in t.words("prompt.yes_words"):
        return True, None
    if text in t.words("prompt.no_words"):
        return False, None
    return None, t("prompt.invalid_yes_no")
