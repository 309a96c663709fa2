"""Ask the questions the flags did not answer, in the user's language.

Reads through `console.input`, so it works on a terminal and on any stdin; a bad answer
is explained and the question asked again; Enter skips a question (it stays
unanswered and is not taken into account); end of input stops with NoAnswer; Ctrl-C
with Cancelled.
"""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import threading
from dataclasses import replace

from rich.console import Console
from rich.text import Text

from diag.advice.i18n import Catalog
from diag.advice.model import QUESTIONS, Answers
from diag.errors import BadInput

MAX_DEVICES = 50

Answer = int | bool | str  # a question's value, as Answers holds it


class NoAnswer(BadInput):
    pass


class Cancelled(Exception):
    """The user pressed Ctrl-C during the questions."""


class _Skip:
    def __repr__(self) -> str:
        return "SKIP"


SKIP = _Skip()  # Enter on an empty line: leave the question unanswered


def ask_missing(answers: Answers, t: Catalog, console: Console) -> Answers:
    for name in QUESTIONS:
        if getattr(answers, name) is None:
            value = _ask(name, t, console)
            if value is not SKIP:
                answers = replace(answers, **{name: value})
    return answers


def _ask(name: str, t: Catalog, console: Console) -> Answer | _Skip:
    hint = {
        "devices": f"1-{MAX_DEVICES}",
        "quota_mb": t("prompt.quota_hint"),
        "backups": t("prompt.choices.backups"),
    }.get(name, t("prompt.yes_no_hint"))
    hint += ", " + t("prompt.skip_hint")
    prompt = Text.assemble((t("question." + name), "bold"), " ", (f"({hint})", "dim"), " ")
    while True:
        try:
            raw = _read_line(console, prompt)
        except EOFError:
            raise NoAnswer(t("prompt.no_answer")) from None
        except KeyboardInterrupt:
            raise Cancelled from None
        value, error = parse_answer(name, raw, t)
        if error is None:
            return value
        console.print(Text(error, style="yellow"))


def _read_line(console: Console, prompt: Text) -> str:
    """console.input, except on a terminal. There, a Ctrl-C pressed just before the read
    starts would be lost: Python's handler only notes the signal, and the blocking read it
    arrived before never returns (once in 60 tries under load). So the line is awaited
    in select() beside the signal wakeup pipe, which the signal makes readable whenever
    it comes; the tty's own line editing and echo are unchanged."""
    stdin = sys.stdin
    if (
        stdin is None
        or not stdin.isatty()
        or threading.current_thread() is not threading.main_thread()
    ):
        return console.input(prompt)
    console.print(prompt, end="")
    fd = stdin.fileno()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous = signal.set_wakeup_fd(wake_w)
    try:
        while True:
            ready, _, _ = select.select([fd, wake_r], [], [])
            if wake_r in ready:  # a signal: its Python handler runs right after this
                os.read(wake_r, 64)
                continue
            data = os.read(fd, 4096)  # a whole line: the terminal is in canonical mode
            if not data:
                raise EOFError
            return data.decode(stdin.encoding or "utf-8", errors="replace").rstrip("\r\n")
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake_r)
        os.close(wake_w)


def parse_answer(name: str, raw: str, t: Catalog) -> tuple[Answer | _Skip | None, str | None]:
    """(value, None), (SKIP, None) for an empty answer, or (None, message to show
    before asking again)."""
    text = raw.strip().lower()
    if not text:
        return SKIP, None
    if name == "devices":
        if text.isdigit() and 1 <= int(text) <= MAX_DEVICES:
            return int(text), None
        return None, t("prompt.invalid_devices")
    if name == "quota_mb":
        megabytes = parse_size(text, t)
        if megabytes is None:
            return None, t("prompt.invalid_quota")
        return megabytes, None
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


_SIZE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([a-zé]*)$")
_FACTORS = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}  # to MB, as quotas count


def parse_size(text: str, t: Catalog) -> int | None:
    """ "15 GB", "500 MB", "1,5 Go", "2T", "300" (MB) -> whole MB; None if not a size."""
    match = _SIZE.match(text.strip().lower())
    if not match:
        return None
    number, unit = float(match.group(1).replace(",", ".")), match.group(2)
    factor = 1.0 if not unit else None
    for entry in t("prompt.quota_units").split(";"):
        prefix, _, words = entry.partition(":")
        if unit in words.split(","):
            factor = _FACTORS[prefix]
    if factor is None:
        return None
    return round(number * factor)
