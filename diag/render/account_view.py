"""Views of `login` and `roundtrip`: rich tables and the JSON contract (docs/json.md).

Server text reaches the terminal only through `safe`, and only inside rich Text
objects, so no control character or markup from a server is ever interpreted.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from diag.account.model import LoginReport, LoginResult, Outcome, RoundtripReport
from diag.model import Finding
from diag.render.jsonout import plain
from diag.render.layout import show_table
from diag.render.safe import clean
from diag.render.terminal import print_findings, verdict_word

LOGIN_SCHEMA = "maildiag.login/1"
ROUNDTRIP_SCHEMA = "maildiag.roundtrip/1"

_RESPONSE_CODE = re.compile(r"\[[^\]]*\]")
OUTCOME_STYLE = {
    Outcome.OK: "green",
    Outcome.REFUSED: "red",
    Outcome.NOT_SENT: "yellow",
    Outcome.FAILED: "magenta",
}


def safe(text: str | None, limit: int = 300) -> str:
    if not text:
        return ""
    # multi-line replies joined with " / "; every other control escaped (render/safe.py)
    cleaned = clean(text.replace("\r\n", " / ").replace("\n", " / "))
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


def login_data(report: LoginReport) -> dict[str, Any]:
    return {
        "schema": LOGIN_SCHEMA,
        "address": report.address,
        "username": report.username,
        "started_at": report.started_at,
        "elapsed_ms": report.elapsed_ms,
        "checked": report.checked,
        "exit_code": report.exit_code,
        "summary": report.summary,
        "services": [_result_data(r) for r in report.results],
        "findings": [plain(f) for f in report.all_findings],
    }


def _result_data(result: LoginResult) -> dict[str, Any]:
    data = plain(result)
    data.pop("findings")
    target = data.pop("target")
    return {"service": result.target.label, **target, **data}


def roundtrip_data(report: RoundtripReport) -> dict[str, Any]:
    return {
        "schema": ROUNDTRIP_SCHEMA,
        "address": report.address,
        "sender": report.sender,
        "recipient": report.recipient,
        "token": report.token,
        "message_id": report.message_id,
        "started_at": report.started_at,
        "elapsed_ms": report.elapsed_ms,
        "wait_seconds": report.wait_seconds,
        "checked": report.checked,
        "exit_code": report.exit_code,
        "summary": report.summary,
        "logins": [_result_data(r) for r in report.login],
        "submission": plain(report.submission),
        "watch": plain(report.watch),
        "arrival": plain(report.arrival),
        "cleanup": plain(report.cleanup),
        "findings": [plain(f) for f in report.all_findings],
    }


def render_login(report: LoginReport, console: Console) -> None:
    word, style = verdict_word(report.exit_code)
    console.print(
        Text.assemble(
            (word, style),
            (safe(report.address), "bold"),
            f"  as {safe(report.username)}  ({report.elapsed_ms / 1000:.2f} s)",
        )
    )
    show_table(console, _logins_table(report.results))
    for result in report.results:
        if result.imap is not None:
            _imap_facts(result, console)
        if result.smtp is not None:
            _smtp_facts(result, console)
    _print_findings(report.all_findings, console)


def _logins_table(results: list[LoginResult]) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False, pad_edge=False)
    for column in ("service", "server", "login", "method", "TLS", "answer", "time"):
        table.add_column(column)
    for r in results:
        tls = r.tls
        tls_text = "-"
        if tls is not None and tls.ok:
            verified = tls.trust and tls.trust.trusted and tls.trust.hostname_matches
            tls_text = f"{tls.version}" + ("" if verified else " (unverified)")
        answer = r.reply if r.reply else r.error
        if r.outcome is Outcome.OK and answer:
            answer = _RESPONSE_CODE.sub("", answer).strip()  # [CAPABILITY ...] is noise here
        table.add_row(
            Text(r.target.label, style="bold"),
            Text(safe(f"{r.target.host} ({r.target.security.value})")),
            Text(r.outcome.value, style=OUTCOME_STYLE[r.outcome]),
            Text(r.mechanism or "-"),
            Text(tls_text),
            Text(safe(answer, 120)),
            f"{r.elapsed_ms:.0f} ms",
        )
    return table


def _imap_facts(result: LoginResult, console: Console) -> None:
    facts = result.imap
    assert facts is not None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    roles = ", ".join(
        f"{m.role}: {m.name}" for m in facts.mailboxes if m.role and m.role != "inbox"
    )
    more = " (list truncated)" if facts.mailboxes_truncated else ""
    grid.add_row("mailboxes", Text(f"{len(facts.mailboxes)}{more}"))
    grid.add_row("special folders", Text(safe(roles) or "none marked (no SPECIAL-USE)"))
    count = "unknown" if facts.inbox_messages is None else str(facts.inbox_messages)
    grid.add_row("INBOX messages", count)
    quota = "; ".join(
        f"{q.resource} {q.usage} of {q.limit} ({q.percent:.0f}%)" for q in facts.quota
    )
    grid.add_row("quota", Text(safe(quota) or "not offered"))
    flags = {"IDLE": facts.idle, "CONDSTORE": facts.condstore, "MOVE": facts.move}
    grid.add_row("push and sync", " ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items()))
    for error in facts.errors:
        grid.add_row("error", Text(safe(error)))
    console.print(Text(f"After login ({result.target.label})", style="bold underline"))
    show_table(console, grid)


def _smtp_facts(result: LoginResult, console: Console) -> None:
    facts = result.smtp
    assert facts is not None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    if facts.size_limit is None:
        size = "not advertised"
    elif facts.size_limit == 0:
        size = "advertised without a limit"
    else:
        size = f"{facts.size_limit / 1_000_000:.1f} MB ({facts.size_limit} bytes)"
    grid.add_row("largest message", size)
    accepted = {True: "accepted", False: "REFUSED", None: "not tried"}[facts.sender_accepted]
    grid.add_row("sender", Text(safe(f"{facts.sender}: {accepted}")))
    console.print(Text(f"After login ({result.target.label})", style="bold underline"))
    show_table(console, grid)


def render_roundtrip(report: RoundtripReport, console: Console) -> None:
    word, style = verdict_word(report.exit_code)
    console.print(Text.assemble((word, style), safe(report.verdict.split(" ", 1)[1])))
    show_table(console, _logins_table(report.login))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("from / to", Text(safe(f"{report.sender} -> {report.recipient}")))
    grid.add_row("subject", Text(f"maildiag round trip {report.token}"))
    grid.add_row("Message-ID", Text(safe(report.message_id)))
    sub = report.submission
    if sub is not None:
        grid.add_row("submission", Text(safe(sub.reply, 200)))
        grid.add_row("queue ID", Text(safe(sub.queue_id) or "not given"))
    arrival = report.arrival
    if arrival.folder is not None:
        grid.add_row(
            "arrived",
            Text(
                safe(
                    f"in {arrival.folder} after {arrival.seconds:.2f} s (seen by {arrival.method})"
                )
            ),
        )
    elif sub is not None and sub.accepted:
        grid.add_row("arrived", Text(f"not within {report.wait_seconds:g} s"))
    cleanup = report.cleanup
    if cleanup.attempted:
        state = f"deleted ({cleanup.method})" if cleanup.deleted else "NOT deleted"
        grid.add_row("cleanup", Text(safe(state + (f": {cleanup.note}" if cleanup.note else ""))))
    elif cleanup.note:
        grid.add_row("cleanup", Text(safe(cleanup.note)))
    show_table(console, grid)
    _print_findings(report.all_findings, console)


def _print_findings(findings: list[Finding], console: Console) -> None:
    cleaned = [
        dataclasses.replace(f, message=safe(f.message, 500), evidence=safe(f.evidence, 500))
        for f in findings
    ]
    print_findings(cleaned, console)
