"""The rich view of a probe: one row per service, then certificates, then findings."""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from diag.model import (
    VERDICT_WORDS,
    CertificateInfo,
    Finding,
    ProbeReport,
    Reachability,
    ServiceResult,
    Severity,
    Stage,
)
from diag.render.layout import show_table
from diag.render.safe import sanitized

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
VERDICT_STYLE = {0: "bold green", 1: "bold yellow", 2: "bold red", 3: "bold magenta"}


def verdict_word(exit_code: int) -> tuple[str, str]:
    return VERDICT_WORDS[exit_code] + " ", VERDICT_STYLE[exit_code]


@sanitized
def render_probe(report: ProbeReport, console: Console) -> None:
    word, style = verdict_word(report.exit_code)
    addresses = ", ".join(report.dns.addresses) or "no address"
    console.print(
        Text.assemble(
            (word, style),
            (report.host, "bold"),
            f"  ({addresses})  {len(report.all_findings)} finding(s) in "
            f"{report.elapsed_ms / 1000:.2f} s",
        )
    )
    if report.services and report.dns.addresses:
        show_table(console, _services_table(report.services))
        for labels, service in _unique_certificates(report.services):
            _certificate(labels, service, console)
    print_findings(report.all_findings, console)


def _services_table(services: list[ServiceResult]) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False, pad_edge=False)
    for column in (
        "service",
        "status",
        "connect",
        "greeting",
        "TLS",
        "login before TLS",
        "login after TLS",
    ):
        table.add_column(column)
    for service in services:
        worst = max((f.severity.rank for f in service.findings), default=-1)
        style = {2: "red", 1: "yellow"}.get(worst, "green" if service.usable else "dim")
        table.add_row(
            Text(service.spec.label, style="bold"),
            Text(_status(service), style=style),
            f"{service.connect_ms:.0f} ms" if service.connect_ms is not None else "-",
            _greeting(service),
            _tls(service),
            _auth(service.before_tls),
            _auth(service.after_tls),
        )
    return table


def _status(service: ServiceResult) -> str:
    if service.reachability is not Reachability.CONNECTED:
        return service.reachability.value
    if any(f.severity is Severity.ERROR for f in service.findings):
        return "problem"
    if any(f.severity is Severity.WARNING for f in service.findings):
        return "warning"
    return "ok" if service.usable else "open"


def _greeting(service: ServiceResult) -> str:
    if service.greeting_timed_out:
        return "(silent)"
    if service.greeting_error:
        return "(invalid)"
    if service.greeting is None:
        return "-"
    # the text arrives cleaned (render/safe.py): its line breaks are escaped
    first = re.split(r"\\x0[ad]", service.greeting.text)[0]
    first = re.sub(r"\s*\[[^\]]*\]", "", first).strip()  # IMAP response codes are noise here
    return (first[:28] + "...") if len(first) > 28 else first


def _tls(service: ServiceResult) -> str:
    tls = service.tls
    if tls is None:
        if service.starttls is not None and not service.starttls.advertised:
            return "no STARTTLS"
        return "-"
    scan = service.scan
    old = [v for v, ok in tls.legacy.items() if ok]
    if scan is not None:
        old = [v for v in ("SSLv3", "TLSv1", "TLSv1.1") if scan.versions.get(v) or v in old]
    weak = list(scan.weak_accepted) if scan is not None else []
    notes = (
        ", ".join(old)
        + ("; " if old and weak else "")
        + ("weak: " + ", ".join(weak) if weak else "")
    )
    if not tls.ok:
        return f"failed (accepts {notes})" if notes else "failed"
    via = "STARTTLS " if service.starttls is not None else ""
    extra = f" (+{notes})" if notes else ""
    return f"{via}{tls.version}{extra}"


def _auth(stage: Stage | None) -> str:
    if stage is None:
        return "-"
    auth = stage.auth
    if auth.mechanisms:
        return " ".join(auth.mechanisms)
    if auth.plaintext_login:
        return "LOGIN/USER"
    return "none" if not auth.login_disabled else "disabled"


def _unique_certificates(services: list[ServiceResult]) -> list[tuple[list[str], ServiceResult]]:
    seen: dict[str, tuple[list[str], ServiceResult]] = {}
    for service in services:
        if service.tls and service.tls.chain:
            key = service.tls.chain[0].sha256
            seen.setdefault(key, ([], service))[0].append(service.spec.label)
    return list(seen.values())


def _certificate(labels: list[str], service: ServiceResult, console: Console) -> None:
    tls = service.tls
    assert tls is not None
    leaf: CertificateInfo = tls.chain[0]
    trust = tls.trust
    console.print(Text(f"Certificate of {', '.join(labels)}", style="bold"))
    key = f"{leaf.key_type} {leaf.key_bits}" + (f" {leaf.key_curve}" if leaf.key_curve else "")
    rows = [
        ("subject", leaf.subject),
        ("names", ", ".join(leaf.dns_names + leaf.ip_addresses) or "(none)"),
        ("issuer", leaf.issuer),
        ("valid", f"{leaf.not_before} to {leaf.not_after} ({leaf.days_left} days left)"),
        ("key", f"{key}, signed {leaf.signature_algorithm}"),
        ("serial", leaf.serial),
        ("sha256", leaf.sha256),
        ("chain", f"{len(tls.chain)} certificate(s) sent"),
    ]
    if trust is not None:
        verdict = "trusted" if trust.trusted else f"NOT trusted: {trust.error}"
        if trust.trusted and trust.nonconforming:
            verdict += " by mail clients; strict verifiers refuse it"
        rows.append(("trust", verdict))
        matches = "matches" if trust.hostname_matches else "does NOT match "
        rows.append(("name", matches + ("" if trust.hostname_matches else trust.hostname_checked)))
    grid = Table.grid(padding=(0, 2, 0, 0))  # no left padding: widths as rich counts them
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(f"  {label}", value)
    show_table(console, grid)


@sanitized
def print_findings(findings: list[Finding], console: Console) -> None:
    if not findings:
        console.print(Text("No problems found.", style="green"))
        return
    # The same problem on several services (one certificate on 993 and 995) is shown once.
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in sorted(findings, key=lambda f: -f.severity.rank):
        key = (f.code, f.message.split(": ", 1)[-1], f.fix)
        groups.setdefault(key, []).append(f)
    console.print(Text("Findings", style="bold underline"))
    for (code, message, fix), members in groups.items():
        severity = members[0].severity
        where = ", ".join(m.service for m in members if m.service) or "host"
        console.print(
            Text.assemble(
                (f"{severity.value.upper():8}", STYLE[severity]),
                (code, "bold"),
                f"  [{where}] {message}",
            )
        )
        evidence = dict.fromkeys(m.evidence for m in members if m.evidence)
        if len(evidence) == 1:
            console.print(Text(f"         evidence: {next(iter(evidence))}", style="dim"))
        else:
            for m in members:
                if m.evidence:
                    console.print(
                        Text(f"         evidence ({m.service}): {m.evidence}", style="dim")
                    )
        console.print(Text(f"         fix: {fix}"))
