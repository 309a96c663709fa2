"""Rich views of provider entries and lookups: what to type into a mail client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from diag.advice.i18n import Catalog
from diag.providers.compare import Comparison
from diag.providers.database import ProviderDatabase
from diag.providers.lookup import ProviderMatch
from diag.providers.requirements import age_days, requirement_messages
from diag.providers.schema import Provider, Server
from diag.render.layout import show_table
from diag.render.safe import sanitized

if TYPE_CHECKING:  # the probe engine loads only for `providers verify`
    from diag.providers.verify import ServerCheck

SOCKET = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": "none (plain text!)"}
AUTH = {"password": "normal password", "app-password": "app password", "oauth2": "OAuth2"}
PROTOCOL = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}


def render_list(database: ProviderDatabase, console: Console) -> None:
    # The database loads its entries lazily: the entries, not it, cross the sanitiser.
    _entries(sorted(database.providers.values(), key=lambda p: p.id), console)


render_list.sanitized = True  # type: ignore[attr-defined]  # through _entries


@sanitized
def _entries(providers: list[Provider], console: Console) -> None:
    table = Table(title=f"{len(providers)} providers", header_style="bold")
    for column in ("id", "layer", "name", "domains / MX", "protocols", "checked"):
        table.add_column(column)
    for provider in providers:
        names = list(provider.domains[:3]) + [f"MX {m}" for m in provider.mx[:2]]
        more = len(provider.domains) + len(provider.mx) - len(names)
        protocols = sorted({s.protocol for s in (*provider.incoming, *provider.outgoing)})
        table.add_row(
            provider.id,
            provider.layer,
            provider.name,
            ", ".join(names) + (f" (+{more})" if more > 0 else ""),
            " ".join(PROTOCOL[p] for p in protocols) or "none",
            provider.checked or "-",
        )
    show_table(console, table, one_line=True)


def provenance_line(provider: Provider, t: Catalog) -> str:
    layer = t(f"provenance.layer.{provider.layer or 'user'}")
    file = provider.display_source()
    if not provider.checked:
        return t("provenance.unchecked", layer=layer, file=file)
    days = age_days(provider.checked)
    if days is None:
        age = "?"
    else:
        age = {0: t("provenance.age_today"), 1: t("provenance.age_yesterday")}.get(days) or t(
            "provenance.age_days", days=days
        )
    key = "provenance.changed" if provider.layer == "ispdb" else "provenance.line"
    return t(key, layer=layer, file=file, date=provider.checked, age=age)


@sanitized
def render_provider(
    provider: Provider,
    match: ProviderMatch | None,
    console: Console,
    t: Catalog | None = None,
    comparisons: list[Comparison] | None = None,
) -> None:
    t = t or Catalog("en")
    address = match.query.address if match else None
    domain = match.query.domain if match else None
    console.print(Text(provider.name, style="bold"))
    console.print(Text(provenance_line(provider, t), style="dim"))
    if not provider.checked and provider.layer in ("curated", "user", ""):
        target = (match.query.address or match.query.domain) if match else "ADDRESS"
        console.print(Text(t("provenance.unchecked_warning", target=target), style="yellow"))
    for title, servers in (
        ("Incoming mail", provider.incoming),
        ("Outgoing mail", provider.outgoing),
    ):
        if not servers:
            continue
        table = Table(title=title, title_justify="left", header_style="bold")
        for column in ("protocol", "server", "port", "security", "username", "login"):
            table.add_column(column)
        for server in servers:
            table.add_row(*_server_row(server, address, domain))
        show_table(console, table)
    _section(
        console, t("require.title"), [t(m.key, **m.params) for m in requirement_messages(provider)]
    )
    _section(console, "Good to know", list(provider.limits))
    _section(console, "No longer offered", list(provider.retired), style="yellow")
    _section(console, "Provider help", list(provider.help))
    for server in (*provider.incoming, *provider.outgoing):
        if server.notes:
            console.print(
                Text(f"{PROTOCOL[server.protocol]} {server.port}: {server.notes}", style="dim")
            )
    _render_checks(provider, comparisons, console)


def _render_checks(
    provider: Provider, comparisons: list[Comparison] | None, console: Console
) -> None:
    """Recorded checks, and what the other layers say about the same domains now."""
    lines = [
        f"{c.date} {c.source}: {c.result}" + (f" ({c.about})" if c.about else "")
        for c in provider.checks
    ]
    _section(console, "Checked against", lines)
    if not comparisons:
        return
    rows = []
    for comparison in comparisons:
        other = comparison.other
        where = other.display_source()
        head = f"{other.layer} {other.id} ({where}): {comparison.result}"
        rows.append(head + "".join(f"\n      {d}" for d in comparison.differences))
    style = "yellow" if any(c.result != "confirms" for c in comparisons) else ""
    _section(console, "Other layers for the same domains", rows, style=style)


def _server_row(server: Server, address: str | None, domain: str | None) -> tuple[str, ...]:
    username = server.username_for(address) or {
        "address": "your full address",
        "localpart": "the part before @",
        "login": "the account's login",
        "localpart.domain": "the part before @, a dot, the domain",
    }.get(server.username, server.username)
    return (
        PROTOCOL[server.protocol],
        server.host_for(domain),
        str(server.port),
        SOCKET[server.socket],
        username,
        ", ".join(AUTH[a] for a in server.auth),
    )


def _section(console: Console, title: str, lines: list[str], style: str = "") -> None:
    if not lines:
        return
    console.print(Text(title, style="bold underline"))
    for line in lines:
        console.print(Text(f"  - {line}", style=style))


@sanitized
def render_lookup(match: ProviderMatch, console: Console, t: Catalog | None = None) -> None:
    query = match.query
    if match.provider is None:
        console.print(Text(f"{query.domain} is not in the provider database.", style="yellow"))
        if match.domain_missing:
            console.print(
                Text(f"{query.domain} does not exist (NXDOMAIN): check the spelling.", style="red")
            )
        elif match.mx_error:
            console.print(
                Text(f"Its MX records could not be looked up: {match.mx_error}", style="red")
            )
        elif match.mx_hosts:
            console.print(
                f"Its mail is received by: {', '.join(match.mx_hosts)} (no known provider)"
            )
        elif match.mx_checked:
            console.print("It has no MX record: it may not receive mail at all.")
        console.print(
            "Next steps: run `maildiag probe` on the mail host, ask the domain's "
            "administrator for the settings, or add an entry (`maildiag docs providers`)."
        )
        return
    via = (
        f"by its MX host {match.mx_host or match.mx_hosts[0]}"
        + (f", {match.mx_how}" if match.mx_how else "")
        if match.via == "mx" and match.mx_hosts
        else f"by the domain {query.domain}"
    )
    console.print(Text.assemble(("Provider: ", "bold"), match.provider.name, f" (matched {via})"))
    render_provider(match.provider, match, console, t)
    differing = [c for c in match.comparisons if c.result != "confirms"]
    if differing:
        names = ", ".join(f"{c.other.layer} ({c.result})" for c in differing)
        console.print(
            Text(
                f"Other sources differ: {names}; "
                f"`maildiag providers show {match.provider.id}` lists the differences.",
                style="yellow",
            )
        )


VERDICT = {
    "ok": ("as described", "green"),
    "no_such_host": ("host does not resolve", "red"),
    "dns_error": ("DNS did not answer", "yellow"),
    "no_answer": ("port does not answer", "red"),
    "wrong_security": ("wrong security", "red"),
    "wrong_name": ("certificate does not name the host", "red"),
    "tls_error": ("TLS problem", "yellow"),
    "no_greeting": ("no greeting", "red"),
    "skipped": ("skipped", "dim"),
}


@sanitized
def render_verify(checks: list[ServerCheck], console: Console) -> None:
    stale = sum(1 for c in checks if c.stale)
    table = Table(
        title=f"{len(checks)} servers, {stale} not as described",
        title_justify="left",
        header_style="bold",
    )
    for column in ("id", "protocol", "server", "port", "security", "verdict", "detail"):
        table.add_column(column)
    for c in checks:
        words, style = VERDICT[c.status]
        table.add_row(
            c.provider_id,
            PROTOCOL[c.protocol],
            c.host,
            str(c.port),
            SOCKET[c.socket],
            Text(words, style=style),
            Text(c.detail),
        )
    show_table(console, table)
