"""Readable anywhere: at 80 columns, narrower, on a terminal and in a pipe, host names,
usernames, ports and ids are never split, and piped prose is not hard-wrapped."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from diag.providers.database import ProviderDatabase
from diag.render import check_view, providers_view, terminal
from diag.render.console import make_console
from tests.hostile_text import SGR, check_report, probe_report, provider
from tests.test_cli_output import maildiag

HOST = "imap.a-rather-long-host-name.example-provider.example"
USER = "jane.doe-helpdesk@good.lab.example"


def long_names(report):
    """The check report with a long server name and username in every place."""
    setting = dataclasses.replace(report.incoming[0], host=HOST, username_value=USER)
    return dataclasses.replace(report, incoming=[setting])


def render(view, width: int, terminal_mode: bool) -> str:
    options = {"force_terminal": True, "color_system": "truecolor"} if terminal_mode else {}
    console = make_console(file=io.StringIO(), width=width, **options)
    view(console)
    return SGR.sub("", console.file.getvalue())


@pytest.mark.parametrize("terminal_mode", [True, False], ids=["terminal", "pipe"])
@pytest.mark.parametrize("width", [80, 60, 40])
def test_identifiers_are_never_split(width, terminal_mode):
    check = long_names(check_report())
    entry = dataclasses.replace(
        provider(), id="a-long-provider-id-users-type", incoming=(provider().incoming[0],)
    )
    entry = dataclasses.replace(
        entry, incoming=(dataclasses.replace(entry.incoming[0], host=HOST),)
    )
    database = ProviderDatabase(root=None, _user={entry.id: entry})
    views = {
        "check": (lambda c: check_view.render_check(check, c), [HOST, USER, "993"]),
        "probe": (
            lambda c: terminal.render_probe(probe_report(), c),
            ["mail.example.test", "smtp/587"],
        ),
        "provider": (lambda c: providers_view.render_provider(entry, None, c), [HOST, "993"]),
        "list": (lambda c: providers_view.render_list(database, c), [entry.id]),
    }
    for name, (view, identifiers) in views.items():
        out = render(view, width, terminal_mode)
        for identifier in identifiers:
            assert identifier in out, f"{name} at {width}: {identifier} split in\n{out}"
        for line in out.splitlines():
            if line[:1] in "┏┃┡│└╭":  # a table's lines fit the width; stacked ones are free
                assert len(line) <= width, f"{name} at {width}: {line!r}"


def test_certificate_heading_names_every_service():
    report = probe_report()
    service = report.services[0]
    others = [
        dataclasses.replace(service, spec=dataclasses.replace(service.spec, port=port))
        for port in (25, 465)
    ]
    report = dataclasses.replace(report, services=[service, *others])
    out = render(lambda c: terminal.render_probe(report, c), 80, True)
    assert "Certificate of smtp/587, smtp/25, smtp/465" in out


def test_piped_output_keeps_ids_hosts_and_prose_whole(tmp_path):
    long_note = "Switch on IMAP first: " + "Settings > Accounts > " * 6 + "IMAP access"
    (tmp_path / "longhost.toml").write_text(
        'id = "longhost"\nname = "Long Host Mail"\ndomains = ["longhost.example"]\n'
        f'limits = ["{long_note}"]\n\n[[incoming]]\nprotocol = "imap"\n'
        f'host = "{HOST}"\nport = 993\nsocket = "ssl"\n'
    )
    folder = ("--providers-dir", str(tmp_path))
    shown = maildiag("providers", "show", "longhost", *folder).stdout  # a pipe, 80 columns
    assert HOST in shown and long_note in shown  # prose on one line, host whole
    listed = maildiag("providers", "list", *folder)
    ids = [
        p["id"]
        for p in json.loads(maildiag("providers", "list", "--json", *folder).stdout)["providers"]
    ]
    words = set(listed.stdout.split())
    assert all(provider_id in words for provider_id in ids)


def test_terminal_at_80_columns_keeps_hosts_whole(tmp_path):
    (tmp_path / "longhost.toml").write_text(
        'id = "longhost"\nname = "Long Host Mail"\ndomains = ["longhost.example"]\n\n'
        f'[[incoming]]\nprotocol = "imap"\nhost = "{HOST}"\nport = 993\nsocket = "ssl"\n'
    )
    env = {"FORCE_COLOR": "1", "COLUMNS": "80"}
    result = maildiag(
        "lookup", f"{USER.split('@')[0]}@longhost.example", "--offline",
        "--providers-dir", str(tmp_path), env=env,
    )  # fmt: skip
    out = SGR.sub("", result.stdout)
    assert HOST in out and f"{USER.split('@')[0]}@longhost.example" in out
    assert all(len(line) <= 80 for line in out.splitlines() if line[:1] in "┏┃┡│└")
