"""POP3 or IMAP: the decision table, both languages, the questionnaire, bad answers."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import string
import sys
import time
import tomllib
from pathlib import Path

import pytest

from diag.advice.decide import recommend
from diag.advice.i18n import LANGUAGES, Catalog, default_language
from diag.advice.model import Answers
from diag.advice.questionnaire import SKIP, parse_answer, parse_size
from diag.advice.render import advice_data, compare_data
from diag.providers.database import load
from tests.clirun import maildiag as run_cli

MESSAGES = Path(__file__).resolve().parents[1] / "diag" / "advice" / "messages"


def maildiag(*args: str, stdin: str | None = None, env: dict | None = None):
    return run_cli(
        *args, stdin=stdin, timeout=60, env={**os.environ, "COLUMNS": "200", **(env or {})}
    )


PROFILES = [
    # (name, answers, protocol, the answers that must appear among the reasons)
    (
        "one desktop, offline",
        Answers(1, False, True, 0, "self", False),
        "pop3",
        {"devices", "offline", "backups"},
    ),
    ("laptop and phone", Answers(2, True, False, 0, None, False), "imap", {"devices", "mobile"}),
    (
        "traveller with webmail",
        Answers(3, True, False, 15000, "provider", False),
        "imap",
        {"devices", "mobile", "backups"},
    ),
    ("shared mailbox", Answers(1, False, False, 0, "self", True), "imap", {"shared"}),
    (
        "single PC, tiny quota, own backups",
        Answers(1, False, False, 300, "self", False),
        "pop3",
        {"quota_mb", "backups"},
    ),
]


@pytest.mark.parametrize(
    ("name", "answers", "protocol", "because"), PROFILES, ids=[p[0] for p in PROFILES]
)
def test_profiles(name, answers, protocol, because):
    result = recommend(answers)
    assert result.protocol == protocol
    assert because <= {r.answer for r in result.reasons if r.favours == protocol}
    assert result.confidence in ("high", "medium")


def test_pop_caveats_for_the_tiny_quota_profile():
    result = recommend(Answers(1, False, False, 300, "self", False))
    keys = [m.key for m in result.caveats]
    assert "caveat.pop_backup" in keys and "caveat.pop_local_state" in keys
    assert "caveat.pop_leave_on_server" not in keys  # nothing else reads the box


def test_pop_with_a_phone_too_gets_leave_on_server():
    result = recommend(Answers(2, False, True, 200, "self", False))
    assert result.protocol == "pop3"
    leave = next(m for m in result.caveats if m.key == "caveat.pop_leave_on_server")
    assert leave.params == {"days": 14}


def test_imap_caveat_watches_the_quota():
    result = recommend(Answers(3, True, False, 4000, "provider", False))
    assert any(
        m.key == "caveat.imap_quota_known" and m.params["mb"] == 4000 for m in result.caveats
    )


def test_no_answers_defaults_to_imap_with_low_confidence():
    result = recommend(Answers())
    assert (result.protocol, result.confidence) == ("imap", "low")
    assert result.unanswered == ["devices", "mobile", "offline", "quota_mb", "backups", "shared"]


def test_provider_rules():
    database = load()
    icloud = database.by_domain("icloud.com")
    result = recommend(Answers(1, False, True, 100, "self", False), icloud)
    assert (
        result.protocol == "imap" and result.reasons[0].message.key == "reason.provider_imap_only"
    )
    tuta = database.by_domain("tuta.com")
    assert recommend(Answers(1), tuta).protocol == "none"
    gmail = database.by_domain("gmail.com")
    pop = recommend(Answers(1, False, True, 100, "self", False), gmail)
    assert pop.protocol == "pop3"
    enable = [m for m in pop.settings if m.key == "require.enable_where"]  # must be enabled
    assert enable and "Forwarding and POP/IMAP" in enable[0].params["where"]
    assert any("keeps, archives or deletes" in n for n in pop.provider_notes)  # POP deletion
    assert pop.settings[0].params["host"] == "pop.gmail.com"


def test_catalogues_have_the_same_keys_and_placeholders():
    catalogues = {
        lang: tomllib.loads((MESSAGES / f"{lang}.toml").read_text()) for lang in LANGUAGES
    }
    english = catalogues["en"]
    fields = string.Formatter()
    for lang, messages in catalogues.items():
        assert set(messages) == set(english), lang
        for key, text in messages.items():
            ours = {f for _, f, _, _ in fields.parse(text) if f}
            theirs = {f for _, f, _, _ in fields.parse(english[key]) if f}
            assert ours == theirs, f"{lang}:{key}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_used_renders(lang):
    t = Catalog(lang)
    for answers, _, _, _ in [(p[1], 0, 0, 0) for p in PROFILES]:
        data = advice_data(recommend(answers), t)
        assert all(item["text"] for item in data["reasons"] + data["caveats"] + data["settings"])
    assert len(compare_data(t)["rows"]) == 11


def test_default_language_from_the_locale():
    assert default_language({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert default_language({"LC_ALL": "fr_CA", "LANG": "en_US"}) == "fr"
    assert default_language({"LANG": "de_DE.UTF-8"}) == "en"
    assert default_language({}) == "en"


@pytest.mark.parametrize(
    ("name", "raw", "lang", "value"),
    [
        ("devices", "3", "en", 3),
        ("devices", "0", "en", None),
        ("devices", "-2", "en", None),
        ("devices", "lots", "en", None),
        ("mobile", "oui", "fr", True),
        ("mobile", "N", "fr", False),
        ("mobile", "maybe", "en", None),
        ("quota_mb", "", "en", SKIP),
        ("quota_mb", "15 GB", "en", 15 * 1024),
        ("quota_mb", "500 MB", "en", 500),
        ("quota_mb", "1,5 Go", "fr", 1536),
        ("quota_mb", "300", "en", 300),
        ("quota_mb", "lots", "en", None),
        ("quota_mb", "15 parsecs", "en", None),
        ("devices", "", "en", SKIP),
        ("mobile", "", "fr", SKIP),
        ("backups", "  ", "en", SKIP),
        ("quota_mb", "-5", "en", None),
        ("backups", "fournisseur", "fr", "provider"),
        ("backups", "me", "en", "self"),
        ("backups", "nobody", "en", None),
    ],
)
def test_parse_answers(name, raw, lang, value):
    parsed, error = parse_answer(name, raw, Catalog(lang))
    assert parsed == value and (error is None) == (value is not None)


def test_cli_all_flags_asks_nothing_and_gives_json():
    result = maildiag(
        "recommend",
        "--devices",
        "1",
        "--desk",
        "--offline",
        "--quota-mb",
        "300",
        "--backups",
        "self",
        "--personal",
        "--lang",
        "fr",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "maildiag.advice/1" and data["lang"] == "fr"
    assert data["protocol"] == "pop3" and data["headline"] == "Choisissez POP3"
    assert data["unanswered"] == []


def test_cli_interactive_through_stdin_with_a_bad_answer_asked_again():
    answers = "-1\n2\nyes\nno\n\nprovider\nno\n"  # -1 devices is refused, then 2
    result = maildiag("recommend", "--interactive", "--lang", "en", stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "Please give a whole number of devices" in result.stdout
    assert "Use IMAP" in result.stdout
    assert result.stdout.count("How many devices") == 2


def test_cli_interactive_in_french_with_address():
    answers = "1\nnon\noui\n200\nmoi\nnon\n"
    result = maildiag(
        "recommend", "--interactive", "--lang", "fr", "--address", "a@gmail.com", stdin=answers
    )
    assert "Choisissez POP3" in result.stdout and "pop.gmail.com" in result.stdout
    assert "Forwarding and POP/IMAP" in result.stdout  # the provider's note, as published


def test_cli_questionnaire_ends_cleanly_at_end_of_input():
    result = maildiag("recommend", "--interactive", stdin="2\n")
    assert result.returncode == 3 and "No answer" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_without_terminal_asks_nothing():
    result = maildiag("recommend", "--devices", "2", stdin="")
    assert result.returncode == 0 and "How many" not in result.stdout
    assert "Not answered" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--devices", "-3"],
        ["--devices", "0"],
        ["--quota-mb", "-1"],
        ["--backups", "nobody"],
        ["--lang", "de"],
        ["--address", "not an address"],
    ],
)
def test_cli_bad_flags_exit_3(args):
    result = maildiag("recommend", *args, "--no-interactive")
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.startswith("maildiag: error:")


def test_cli_compare_both_languages():
    english = maildiag("compare", "--lang", "en")
    french = maildiag("compare", "--lang", "fr", "--json")
    assert "POP3 and IMAP side by side" in english.stdout
    data = json.loads(french.stdout)
    assert data["rows"][0]["label"] == "Où le courrier est gardé"


def test_cli_interactive_on_a_real_terminal():
    """On a terminal, the questions are asked without --interactive (a pty, not a pipe)."""
    answers = [a.encode() + b"\r" for a in ("1", "n", "y", "300", "me", "n")]
    code, text = _pty_run(["recommend", "--lang", "en"], answers, columns=120)
    assert code == 0, text
    assert "Use POP3" in text


def _pty_run(args: list[str], answers: list[bytes], columns: int = 200) -> tuple[int, str]:
    """maildiag on a pseudo-terminal; each answer is typed when a question ends.

    A question may reach us in several reads, so the text since the last answer is
    what is looked at. At the deadline the child is killed: a test never hangs.
    """
    pid, fd = pty.fork()
    if pid == 0:
        # Ctrl-C must reach maildiag whatever the runner did: a job started in the
        # background inherits SIGINT ignored, and Python then never raises for it.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execvpe(
            sys.executable,
            [sys.executable, "-m", "diag", *args],
            {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"},
        )
    output = since_answer = b""
    pending = iter(answers)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            since_answer += chunk
            if re.search(rb"\)\s*$", since_answer):  # a question ends with its hint
                answer = next(pending, None)
                if answer is not None:  # at once: a Ctrl-C right at the prompt must count
                    os.write(fd, answer)
                    since_answer = b""
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_quota_sizes_in_both_languages():
    en, fr = Catalog("en"), Catalog("fr")
    assert parse_size("15 GB", en) == parse_size("15 Go", fr) == parse_size("15g", en) == 15360
    assert parse_size("500 MB", en) == parse_size("500 Mo", fr) == 500
    assert parse_size("2 TB", en) == 2 * 1024 * 1024
    assert parse_size("15 GB", fr) == 15360  # the English unit is understood in French too
    assert parse_size("-5 GB", en) is None and parse_size("GB", en) is None


def test_enter_skips_every_question():
    result = maildiag("recommend", "--interactive", "--lang", "en", stdin="\n" * 6)
    assert result.returncode == 0, result.stderr
    assert "Enter: skip" in result.stdout
    assert "Not answered (not taken into account): devices, on the move" in result.stdout


def test_interactive_quota_with_units_and_a_skip():
    answers = "1\n\nyes\n500 MB\nme\nno\n"  # the desk question is skipped
    result = maildiag("recommend", "--interactive", "--lang", "en", "--json", stdin=answers)
    data = json.loads(result.stdout)
    assert data["unanswered"] == ["mobile"]
    assert any("500 MB" in r["text"] for r in data["reasons"])


def test_ctrl_c_cancels_on_a_fresh_line_with_130():
    code, text = _pty_run(["recommend", "--lang", "en"], [b"2\r", b"\x03"])
    assert code == 130, text
    lines = text.replace("\r", "").splitlines()
    assert lines[-1] == "cancelled", text
    assert "Traceback" not in text and "interrupted" not in text
    code, text = _pty_run(["recommend", "--lang", "fr"], [b"\x03"])
    assert code == 130 and text.replace("\r", "").splitlines()[-1] == "annulé", text


def test_reasons_grouped_for_against_and_decided_by_the_provider():
    args = ["--devices", "1", "--desk", "--offline", "--quota-mb", "100"]
    args += ["--backups", "self", "--personal", "--address", "jane@icloud.com"]
    data = json.loads(maildiag("recommend", *args, "--json").stdout)
    assert data["protocol"] == "imap" and data["decided_by_provider"] is True
    groups = {r["key"]: r["group"] for r in data["reasons"]}
    assert groups["reason.provider_imap_only"] == "provider"
    assert groups["reason.backups_self"] == "against"  # a POP3 reason, never under IMAP
    assert all(r["group"] == "against" for r in data["reasons"] if r["favours"] == "pop3")
    text = maildiag("recommend", *args).stdout
    assert "(decided by the provider)" in text and "clear choice" not in text
    decided = text.index("Decided by the provider (iCloud Mail)")
    overruled = text.index("Your answers that favour POP3 (the provider does not offer it)")
    assert decided < overruled < text.index("You keep backups yourself")
    assert "For IMAP" not in text  # no answer here favours IMAP: no such heading
    french = maildiag("recommend", *args, "--lang", "fr").stdout
    assert "Décidé par le fournisseur (iCloud Mail)" in french
    assert "Vos réponses qui penchent pour POP3" in french


@pytest.mark.parametrize(
    ("name", "answers", "protocol", "because"), PROFILES, ids=[p[0] for p in PROFILES]
)
def test_a_reason_is_listed_under_the_protocol_it_favours(name, answers, protocol, because):
    result = recommend(answers)
    grouped = result.grouped()
    assert all(r.favours == result.protocol for r in grouped["for"])
    assert all(r.favours != result.protocol for r in grouped["against"])
    text = maildiag(*_flags(answers), "--lang", "en").stdout
    if grouped["against"]:
        assert text.index("Against") > text.index("For ")


def _flags(a: Answers) -> list[str]:
    out = ["recommend", "--no-interactive", "--devices", str(a.devices)]
    out += ["--mobile" if a.mobile else "--desk", "--offline" if a.offline else "--online"]
    out += ["--quota-mb", str(a.quota_mb)] + (["--backups", a.backups] if a.backups else [])
    return [*out, "--shared" if a.shared else "--personal"]


DANGLING = re.compile(
    r"same (tab|page|menu|screen|place)|older notes|see above|as above|\(older", re.IGNORECASE
)


def test_provider_notes_stand_alone():
    """A note is shown on its own (only the protocol's notes are): it may not lean on
    another note for its meaning."""
    database = load()
    for provider in database.providers.values():
        if provider.layer != "curated":
            continue
        notes = [*provider.enable.values(), *provider.limits, *provider.retired]
        for note in notes:
            assert not DANGLING.search(note), f"{provider.id}: {note}"
        for name, where in provider.enable.items():
            assert not where.lower().startswith("always on"), f"{provider.id}.enable.{name}"
    gmail = maildiag("recommend", "--no-interactive", "--devices", "3", "--address", "j@gmail.com")
    assert "older notes" not in gmail.stdout
    assert "IMAP is always on since January 2025" in gmail.stdout
