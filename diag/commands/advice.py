"""`maildiag recommend` and `maildiag compare`."""

from __future__ import annotations

import sys

from diag.advice.decide import recommend
from diag.advice.i18n import Catalog, check_language
from diag.advice.model import BACKUPS, Answers
from diag.errors import BadInput

EXIT_CANCELLED = 130  # 128 + SIGINT, as shells report Ctrl-C


def validate(answers: Answers) -> Answers:
    if answers.devices is not None and not 1 <= answers.devices <= 50:
        raise BadInput(f"--devices must be from 1 to 50, not {answers.devices}")
    if answers.quota_mb is not None and answers.quota_mb < 0:
        raise BadInput(f"--quota-mb cannot be negative ({answers.quota_mb})")
    if answers.backups is not None and answers.backups not in BACKUPS:
        raise BadInput(f"--backups must be one of {', '.join(BACKUPS)}, not {answers.backups!r}")
    return answers


def run_recommend(
    answers: Answers,
    *,
    address: str | None,
    lang: str | None,
    interactive: bool | None,
    as_json: bool,
    providers_dirs: list,
) -> int:
    t = Catalog(check_language(lang))
    answers = validate(answers)
    provider = None
    if address:
        from diag.providers.database import load
        from diag.providers.lookup import lookup_offline, parse_query

        provider = lookup_offline(parse_query(address), load(providers_dirs)).provider
    from diag.render.console import make_console

    console = make_console(stderr=as_json)
    ask = interactive if interactive is not None else (sys.stdin.isatty() and not as_json)
    if ask and answers.missing():
        from diag.advice.questionnaire import Cancelled, ask_missing

        try:
            answers = ask_missing(answers, t, console)
        except Cancelled:
            # The cursor sits after a question: end that line first, then say so.
            console.file.write("\n")
            console.file.flush()
            print(t("prompt.cancelled"), file=sys.stderr)
            return EXIT_CANCELLED
    result = recommend(answers, provider)
    if as_json:
        from diag.advice.render import advice_data
        from diag.render.jsonout import dumps

        print(dumps(advice_data(result, t)))
    else:
        from diag.render.advice_view import render_advice

        render_advice(result, t, console, provider.name if provider else None)
    return 0


def run_compare(lang: str | None, as_json: bool) -> int:
    t = Catalog(check_language(lang))
    if as_json:
        from diag.advice.render import compare_data
        from diag.render.jsonout import dumps

        print(dumps(compare_data(t)))
    else:
        from diag.render.advice_view import render_compare
        from diag.render.console import make_console

        render_compare(t, make_console())
    return 0
