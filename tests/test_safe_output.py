"""Outside text is data: no control character or markup reaches the terminal, JSON stays
exact and escaped, and nothing raises (docs: README "Safe output", docs/json.md)."""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.text import Text

from diag.render.console import make_console
from diag.render.jsonout import dumps
from diag.render.safe import clean, clean_tree, json_text
from tests.hostile_text import RAW, SGR, poison, probe_report, render_all

HOSTILE = [
    "[link=http://evil.example/]click[/link]",
    "[reverse]upside[/reverse]",
    "unbalanced [/x] close",
    "[bold red]",
    ":smile: :thumbs_up:",
    "\x1b]0;pwned title\x07",
    "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\",
    "\x1b[2J\x1b[H clear",
    "\x9b31m C1 CSI",
    "\x90 DCS \x9c",
    "NUL\x00hidden",
    "CN=good.example\nOK fake line",
    "carriage\rreturn",
    "bell\x07 backspace\x08",
    "\u202eevil\u202c \u2066isolate\u2069 \u200fmark",
    "line\u2028separator\u2029para",
    "surrogate \udcff byte",
    "DEL\x7f",
    "tab\there",
    "中文 ünïcödé ☃",
]

# Text with the characters that matter often enough for a few dozen examples to hit them.
SPECIAL = st.sampled_from(
    [
        *"\x00\x07\x08\t\n\r\x1b\x7f\x85\x9b\x9c\u061c\u200e\u202a\u202e\u2028\u2066\u2069",
        *["\udc80", "[", "]", "/", "[/", "[link=", "[reverse]", ":", ":smile:", "\\", " "],
    ]
)
HOSTILE_TEXT = st.lists(
    st.one_of(SPECIAL, st.text(st.characters(codec=None), max_size=5), st.sampled_from(HOSTILE)),
    max_size=12,
).map("".join)


def _check_outputs(text: str, outputs: dict[str, str]) -> None:
    for name, out in outputs.items():
        visible = SGR.sub("", out) if name.endswith("/terminal") else out
        assert not RAW.search(visible), f"{name}: raw control character in {visible!r}"
        assert "\x1b" not in visible, name
        if name.startswith("json/"):
            json.loads(out)  # parses, lone surrogates included
        elif name.endswith("/plain"):
            assert "\x1b" not in out, f"{name}: colour codes on a non-terminal"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT)
def test_every_renderer_escapes_arbitrary_text(text):
    """Rich view on a terminal, plain view, JSON: no raw control, nothing raises."""
    outputs = render_all(text)
    _check_outputs(text, outputs)
    # Markup is never interpreted: on a wide console the cleaned text appears as is.
    wide = render_all(text, width=4000, only=("probe", "provider", "discovery"))
    shown = clean(text).strip()
    if shown and "\t" not in text:
        for name in ("probe/plain", "provider/plain", "discovery/plain"):
            assert shown in wide[name], f"{name}: {shown!r} not shown as typed"
    data = json.loads(outputs["json/probe"])
    assert data["host"] == "mail.example.test" + text  # JSON keeps the exact data


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(codec=None)))
def test_clean_and_json_text_properties(text):
    cleaned = clean(text)
    assert not RAW.search(cleaned) and "\n" not in cleaned
    assert clean(cleaned) == cleaned  # idempotent: cleaning twice changes nothing
    encoded = json_text(json.dumps(text, ensure_ascii=False))
    assert json.loads(encoded) == text
    assert not RAW.search(encoded.replace("\n", ""))


def test_hostile_examples_through_every_renderer():
    for text in HOSTILE:
        _check_outputs(text, render_all(text))


def test_escapes_are_visible():
    assert clean("a\x1bb") == "a\\x1bb"
    assert clean("\u202e") == "\\u202e"
    assert clean("x\ny") == "x\\x0ay"
    assert clean("\x9b") == "\\x9b"
    assert clean("\udcff") == "\\udcff"
    assert clean("tab\tand ünï 中文") == "tab\tand ünï 中文"
    assert json_text(json.dumps("\x9b\u202e中", ensure_ascii=False)) == '"\\u009b\\u202e中"'


def test_json_escapes_c1_and_keeps_readable_text():
    out = dumps({"greeting": "\x9b31m \u202e\x7f café 中文 \x1b"})
    assert "\x9b" not in out and "\u202e" not in out and "\x7f" not in out
    assert "café 中文" in out
    assert "\\u009b" in out and "\\u202e" in out and "\\u007f" in out and "\\u001b" in out
    assert json.loads(out)["greeting"] == "\x9b31m \u202e\x7f café 中文 \x1b"


def test_console_safety_net_escapes_raw_text_a_view_forgot():
    """A view that printed outside text without cleaning it still cannot reach the tty."""
    out = io.StringIO()
    console = make_console(file=out, width=80, force_terminal=True, color_system="truecolor")
    console.print(Text("raw \x1b]0;title\x07 \x9b1m \u202e", style="bold"))
    console.print("[link=http://evil.example/]x[/link] [reverse]r[/reverse] [/x] :smile:")
    visible = SGR.sub("", out.getvalue())
    assert not RAW.search(visible)
    assert "\\x1b]0;title" in visible and "\\x9b1m" in visible and "\\u202e" in visible
    assert "[link=http://evil.example/]x[/link] [reverse]r[/reverse] [/x] :smile:" in visible
    assert "\x1b]8;" not in out.getvalue()  # no OSC 8 hyperlink


def test_clean_tree_copies_and_keeps_the_original():
    report = poison(probe_report(), "\x1b[2J")
    cleaned = clean_tree(report)
    assert "\x1b" in report.host and cleaned.host == "mail.example.test\\x1b[2J"
    tls = cleaned.services[0].tls
    assert tls is not None and tls.chain[0].dns_names == ["mail.example.test\\x1b[2J"]
    assert cleaned.exit_code == report.exit_code  # enums and numbers untouched


def test_every_public_view_is_sanitized():
    """A new render_* function must take its data through the sanitiser too."""
    from diag.render import advice_view, check_view, providers_view, terminal

    for module in (terminal, check_view, providers_view, advice_view):
        for name in dir(module):
            function = getattr(module, name)
            if name.startswith("render_") and callable(function):
                assert getattr(function, "sanitized", False), f"{module.__name__}.{name}"


SOURCE_CASES = [
    "[link=http://evil.example/]x[/link]",
    "[reverse]r",
    "[/x] unbalanced",
    "\x1b]0;title\x07\x1b[2J",
    "\x1b]8;;http://evil.example/\x1b\\",
    "NUL\x00hidden",
    "CN\nOK fake line",
]


def _one_source(report, case: str, where: str) -> None:
    from diag.render.check_view import render_check

    for terminal_mode in (True, False):
        options = {"force_terminal": True, "color_system": "truecolor"} if terminal_mode else {}
        out = io.StringIO()
        render_check(report, make_console(file=out, width=200, **options))
        visible = SGR.sub("", out.getvalue())
        assert not RAW.search(visible), (where, case, visible)
        assert clean(case) in visible, (where, case, visible)  # shown as sent, escaped
        assert "\x1b]8;" not in out.getvalue()
    from diag.render.jsonout import check_data

    out_json = dumps(check_data(report))
    assert not RAW.search(out_json.replace("\n", ""))
    assert any(case in text for text in _strings(json.loads(out_json)))  # exact data kept


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_spf_and_dmarc_records_are_shown_escaped():
    from tests.hostile_text import check_report

    for case in SOURCE_CASES:
        report = check_report()
        assert report.domain is not None
        report.domain.spf.records = [f"v=spf1 {case} -all"]
        report.domain.dmarc.records = [f"v=DMARC1; p=none; {case}"]
        _one_source(report, case, "SPF/DMARC")


def test_autodiscover_server_is_shown_escaped():
    import dataclasses

    from tests.hostile_text import check_report

    for case in SOURCE_CASES:
        report = check_report()
        source = report.discovery.sources[0]
        assert source.source == "autodiscover"
        source.candidates = [dataclasses.replace(source.candidates[0], host=f"imap.{case}")]
        source.status, source.detail = "error", f"unusable <Server> {case}"
        _one_source(report, case, "Autodiscover")
