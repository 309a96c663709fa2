"""`maildiag providers ...` and `maildiag lookup`: load, query, render."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from diag.errors import BadInput
from diag.providers.database import ENV_DIRS, ProviderDatabase, load
from diag.providers.schema import Provider
from diag.render.safe import clean

EXIT_OK, EXIT_WARNING, EXIT_ERROR, EXIT_UNKNOWN = 0, 1, 2, 3


def open_database(extra_dirs: list[Path]) -> ProviderDatabase:
    database = load(extra_dirs)
    for error in database.errors:  # a broken user entry is named; the others still load
        print(f"maildiag: warning: skipped provider entry {clean(error)}", file=sys.stderr)
    return database


def _provider(database: ProviderDatabase, provider_id: str) -> Provider:
    provider = database.get(provider_id.strip().lower())
    if provider is None:
        raise BadInput(f"no provider with id {provider_id!r} (see `maildiag providers list`)")
    return provider


def list_command(extra_dirs: list[Path], as_json: bool) -> int:
    database = open_database(extra_dirs)
    if as_json:
        from diag.render.jsonout import dumps, providers_data

        print(dumps(providers_data(database)))
    else:
        from diag.render.console import make_console
        from diag.render.providers_view import render_list

        render_list(database, make_console())
    return EXIT_OK


def show_command(
    provider_id: str, extra_dirs: list[Path], as_json: bool, lang: str | None = None
) -> int:
    from diag.advice.i18n import Catalog, check_language
    from diag.providers.compare import compare

    t = Catalog(check_language(lang))
    database = open_database(extra_dirs)
    provider = _provider(database, provider_id)
    comparisons = [compare(provider, other) for other in database.rivals(provider)]
    if as_json:
        from diag.render.jsonout import dumps, provider_data

        print(dumps(provider_data(provider, comparisons, t)))
    else:
        from diag.render.console import make_console
        from diag.render.providers_view import render_provider

        render_provider(provider, None, make_console(), t, comparisons)
    return EXIT_OK


def export_command(provider_id: str, extra_dirs: list[Path], output: Path | None) -> int:
    from diag.providers.autoconfig import write

    text = write(_provider(open_database(extra_dirs), provider_id))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {clean(output)}", file=sys.stderr)
    return EXIT_OK


def import_command(source: Path, target: str | None) -> int:
    """Autoconfig XML file(s) -> TOML entries in the user's folder (or stdout with -)."""
    from diag.localfile import LocalFileError, read_local
    from diag.providers.autoconfig import MAX_XML_BYTES, AutoconfigError, read
    from diag.providers.tomlfile import dumps, filename

    files = _xml_files(source)
    destination = None if target == "-" else Path(target) if target else default_user_dir()
    imported = failed = 0
    for path in files:
        try:
            data = read_local(path, max_bytes=MAX_XML_BYTES)
            providers = read(data, str(path))
        except (LocalFileError, AutoconfigError) as exc:
            failed += 1
            print(f"maildiag: error: {clean(exc)}", file=sys.stderr)
            continue
        for provider in providers:
            imported += 1
            text = dumps(provider)
            if destination is None:
                sys.stdout.write(text + "\n")
                continue
            destination.mkdir(parents=True, exist_ok=True)
            out = destination / filename(provider.id)
            out.write_text(text, encoding="utf-8")
            print(f"imported {clean(provider.name)} -> {clean(out)}", file=sys.stderr)
    if not imported:
        return EXIT_UNKNOWN
    return EXIT_WARNING if failed else EXIT_OK


def _xml_files(source: Path) -> list[Path]:
    if source.is_dir():
        # ISPDB files are named after the domain, with or without .xml
        return sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    if not source.exists():
        raise BadInput(f"{source}: no such file or directory")
    return [source]


def default_user_dir() -> Path:
    configured = [p for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]
    if configured:
        return Path(configured[0])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "maildiag" / "providers"


def lookup_command(
    text: str,
    extra_dirs: list[Path],
    *,
    no_mx: bool,
    nameserver: str | None,
    timeout: float,
    as_json: bool,
    lang: str | None = None,
) -> int:
    from diag.advice.i18n import Catalog, check_language
    from diag.providers.lookup import lookup_offline, parse_query

    query = parse_query(text)  # bad input fails before any loading or network
    t = Catalog(check_language(lang))
    database = open_database(extra_dirs)
    match = lookup_offline(query, database)
    if match.provider is None and not no_mx:  # asyncio and dnspython only when needed
        import asyncio

        from diag.net.dns import Nameserver, make_resolver
        from diag.providers.lookup import lookup

        resolver = make_resolver(Nameserver.parse(nameserver) if nameserver else None, timeout)
        match = asyncio.run(lookup(text, database, resolver))
    if as_json:
        from diag.render.jsonout import dumps, lookup_data

        print(dumps(lookup_data(match, t)))
    else:
        from diag.render.console import make_console
        from diag.render.providers_view import render_lookup

        render_lookup(match, make_console(), t)
    if match.provider is not None:
        return EXIT_OK
    if match.domain_missing:  # the same code as probe and check for a missing domain
        return EXIT_ERROR
    return EXIT_UNKNOWN if match.mx_error else EXIT_WARNING
