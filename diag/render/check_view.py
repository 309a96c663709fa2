"""Rich views of discovery and of the helpdesk check: verdict and settings first."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from diag.advice.i18n import Catalog
from diag.check.model import CheckReport, Setting
from diag.discovery.model import DiscoveryReport
from diag.render.layout import show_table
from diag.render.safe import sanitized
from diag.render.terminal import print_findings, verdict_word

SECURITY = {"tls": "SSL/TLS", "starttls": "STARTTLS", "plain": "none"}
AUTH = {"password": "normal password", "app-password": "app password", "oauth2": "OAuth2"}
STATUS_STYLE = {"found": "green", "not_found": "dim", "error": "red", "skipped": "dim"}


@sanitized
def verdict_line(report: CheckReport) -> Text:
    word, style = verdict_word(report.exit_code)
    return Text.assemble((word, style), (report.discovery.domain, "bold"), f": {report.summary}")


@sanitized
def render_check(report: CheckReport, console: Console, t: Catalog | None = None) -> None:
    console.print(verdict_line(report))
    _settings(report, console)
    _requirements(report, console, t or Catalog("en"))
    render_sources(report.discovery, console)
    if report.live:
        _services(report, console)
    if report.domain:
        _domain(report, console)
    if report.live or report.findings:
        print_findings(report.findings, console)
    console.print(Text(f"checked in {report.elapsed_ms / 1000:.2f} s", style="dim"))


def _requirements(report: CheckReport, console: Console, t: Catalog) -> None:
    """What the provider database says a client must know first (in the chosen language)."""
    messages = report.discovery.provider_requirements
    if not messages:
        return
    console.print(Text(t("require.title"), style="bold underline"))
    for message in messages:
        console.print(Text(f"  - {t(message.key, **message.params)}"))


def _settings(report: CheckReport, console: Console) -> None:
    table = Table(title="Recommended settings", title_justify="left", header_style="bold")
    for column in ("", "protocol", "server", "port", "security", "username", "login", "state"):
        table.add_column(column)
    rows = [("outgoing" if s.protocol == "smtp" else "incoming", s) for s in report.best]
    if not rows:
        console.print(Text("No working settings found.", style="bold red"))
        return
    for kind, setting in rows:
        table.add_row(
            kind,
            setting.protocol.upper(),
            setting.host,
            str(setting.port),
            SECURITY[setting.security],
            _username(setting),
            ", ".join(AUTH.get(a, a) for a in setting.auth) or "-",
            _state(setting),
        )
    show_table(console, table)


def _username(setting: Setting) -> str:
    if setting.username_value:
        return setting.username_value
    if setting.username == "login":
        return "the account's login (not this address)"
    return {"address": "full address", "localpart.domain": "part before @, a dot, the domain"}.get(
        setting.username, "part before @"
    )


def _state(setting: Setting) -> Text:
    if not setting.verified:
        return Text("unverified", style="yellow")
    if not setting.trusted:
        return Text("works, certificate problem", style="yellow")
    return Text("verified", style="green")


@sanitized
def render_sources(report: DiscoveryReport, console: Console) -> None:
    table = Table(title="Sources", title_justify="left", header_style="bold")
    for column in ("source", "location", "status", "says"):
        table.add_column(column)
    for source in report.sources:
        says = ", ".join(f"{c.protocol.upper()} {c.host}:{c.port}" for c in source.candidates[:4])
        if len(source.candidates) > 4:
            says += f" (+{len(source.candidates) - 4})"
        detail = source.detail if source.status != "found" or not says else says
        status = source.status + (" (HTTP!)" if source.insecure else "")
        table.add_row(
            source.source, source.location, Text(status, STATUS_STYLE[source.status]), detail
        )
    show_table(console, table)


@sanitized
def render_discovery(report: DiscoveryReport, console: Console) -> None:
    provider = f"{report.provider_name} (by {report.provider_via})" if report.provider_name else "-"
    console.print(
        Text.assemble(
            ("Discovery ", "bold"),
            report.domain,
            f"  provider: {provider}  MX: {', '.join(report.mx_hosts) or '-'}",
        )
    )
    render_sources(report, console)
    table = Table(title="Candidates", title_justify="left", header_style="bold")
    for column in ("protocol", "server", "port", "security", "username", "sources"):
        table.add_column(column)
    for entry in report.merged():
        c = entry.candidate
        table.add_row(
            c.protocol.upper(),
            c.host,
            str(c.port),
            SECURITY[c.security.value],
            c.username or "-",
            ", ".join(entry.sources),
        )
    show_table(console, table)


def _services(report: CheckReport, console: Console) -> None:
    table = Table(title="Servers tested", title_justify="left", header_style="bold")
    for column in ("service", "sources", "result", "TLS", "certificate", "login after TLS"):
        table.add_column(column)
    for c in report.checked:
        r = c.result
        if r is None:
            continue
        tls = r.tls
        cert = "-"
        if tls and tls.trust:
            cert = "trusted" if tls.trust.trusted else "untrusted"
            cert += "" if tls.trust.hostname_matches else ", wrong name"
        worst = max((f.severity.rank for f in r.findings), default=-1)
        result = "works" if c.usable else r.reachability.value if not r.greeting else "fails"
        style = "green" if c.usable and worst < 1 else "yellow" if c.usable else "red"
        auth = " ".join(r.after_tls.auth.mechanisms) if r.after_tls else "-"
        table.add_row(
            c.label,
            ", ".join(c.merged.sources),
            Text(result, style),
            tls.version if tls and tls.ok else "-",
            cert,
            auth or "-",
        )
    show_table(console, table)


def _domain(report: CheckReport, console: Console) -> None:
    d = report.domain
    lines = [f"MX: {', '.join(d.mx.hosts) or ('null MX' if d.mx.null else 'none')}"]
    for label, record in (("SPF", d.spf), ("DMARC", d.dmarc)):
        value = " | ".join(record.records) or ("(lookup failed)" if record.lookup_error else "none")
        lines.append(f"{label}: {value}")
    console.print(Text("Domain", style="bold underline"))
    for line in lines:
        console.print(Text(f"  {line}"))
