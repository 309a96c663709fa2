"""`maildiag discover` and `maildiag check`: options in, report out, rendered."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from diag.commands.options import check_export, check_timeout
from diag.discovery.model import DiscoveryOptions
from diag.errors import BadInput
from diag.localfile import read_local
from diag.net.dns import Nameserver
from diag.render.safe import clean

if TYPE_CHECKING:
    from diag.check.model import Setting
    from diag.net.http import Credentials


def options(
    *,
    timeout: float,
    ca_file: Path | None,
    nameserver: str | None,
    ispdb_url: str | None,
    providers_dirs: list[Path],
    guess: bool,
) -> DiscoveryOptions:
    credentials = None
    if ispdb_url:
        ispdb_url, credentials = _ispdb(ispdb_url)
    if ca_file is not None:
        read_local(ca_file, what="--ca-file")  # a missing file, a FIFO, /dev/zero: exit 3 now
    return DiscoveryOptions(
        timeout=check_timeout(timeout),
        ca_file=ca_file,
        nameserver=Nameserver.parse(nameserver) if nameserver else None,
        ispdb_url=ispdb_url,
        ispdb_credentials=credentials,
        providers_dirs=tuple(providers_dirs),
        guess=guess,
    )


def _ispdb(url: str) -> tuple[str, Credentials | None]:
    """The URL without user:password@, and those credentials (HTTPS only)."""
    from diag.net.http import HttpError, parse_url, redact

    if not url.startswith(("https://", "http://")):
        raise BadInput(f"--ispdb-url must be an http(s) URL, not {redact(url)!r}")
    try:
        target = parse_url(url)
    except HttpError as exc:
        raise BadInput(f"--ispdb-url: {exc}") from None
    if target.credentials is not None and target.scheme != "https":
        raise BadInput(
            f"--ispdb-url {redact(url)}: refused to send a user name and password over plain "
            "HTTP; use https://"
        )
    return target.url, target.credentials


def run_discover(
    text: str, opts: DiscoveryOptions, *, as_json: bool, export: str | None, output: Path | None
) -> int:
    from diag.discovery.discover import discover
    from diag.providers.query import parse_query

    export = check_export(export, output, as_json)
    parse_query(text)
    from diag.render.status import live_status, wanted

    with live_status(wanted(as_json or export is not None)) as progress:
        report = asyncio.run(discover(text, opts, progress=progress))
    if export:
        from diag.check.model import Checked
        from diag.check.rank import rank

        unverified = [Checked(m, None) for m in report.merged()]
        settings = [
            s
            for p in ("imap", "pop3", "smtp")
            for s in rank(unverified, p, report.address, live=False)
        ]
        _export(export, report.domain, report.address, report.provider_name, settings, output)
        return 0  # _export refuses (exit 3) when there is nothing to export
    if as_json:
        from diag.render.jsonout import discovery_data, dumps

        print(dumps(discovery_data(report)))
    else:
        from diag.render.check_view import render_discovery
        from diag.render.console import make_console

        render_discovery(report, make_console())
    return 0 if report.dns_reachable else 3


def run_check(
    text: str,
    opts: DiscoveryOptions,
    *,
    legacy_tls: bool,
    as_json: bool,
    export: str | None,
    output: Path | None,
    lang: str | None = None,
) -> int:
    from diag.advice.i18n import Catalog, check_language
    from diag.check.run import check
    from diag.providers.query import parse_query

    export = check_export(export, output, as_json)
    parse_query(text)
    t = Catalog(check_language(lang))
    from diag.render.status import live_status, wanted

    with live_status(wanted(as_json or export is not None)) as progress:
        report = asyncio.run(check(text, opts, legacy_tls=legacy_tls, progress=progress))
    if export:
        _export(
            export,
            report.discovery.domain,
            report.discovery.address,
            report.discovery.provider_name,
            report.incoming + report.outgoing,
            output,
        )
    elif as_json:
        from diag.render.jsonout import check_data, dumps

        print(dumps(check_data(report, t)))
    else:
        from diag.render.check_view import render_check
        from diag.render.console import make_console

        render_check(report, make_console(), t)
    return report.exit_code


def _export(
    fmt: str,
    domain: str,
    address: str | None,
    name: str | None,
    settings: list[Setting],
    output: Path | None,
) -> None:
    from diag.check.rank import best_settings
    from diag.discovery.model import Candidate
    from diag.exports import ExportInput, export
    from diag.model import Security

    best = best_settings(settings)
    if not best:
        raise BadInput(f"nothing to export: no settings found for {domain}")
    candidates = tuple(
        Candidate(s.protocol, s.host, s.port, Security(s.security), s.username, tuple(s.auth))
        for s in best
    )
    text = export(fmt, ExportInput(domain, address, name or domain, candidates))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {clean(output)}", file=sys.stderr)
