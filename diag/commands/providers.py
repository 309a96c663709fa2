"""`maildiag providers ...` and `maildiag lookup`: load, query, render."""

from __future__ import annotations

import sys
from pathlib import Path

from diag.errors import BadInput
from diag.providers.database import ProviderDatabase, load, user_dir
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


def import_command(source: Path, target: str | None, force: bool = False) -> int:
    """Autoconfig XML file(s) -> TOML entries in the folder the loader reads by default
    ($XDG_CONFIG_HOME/maildiag/providers), or --to DIR, or stdout with `--to -`.

    An entry takes the id of the entry that already answers for its first domain (so it
    replaces that entry instead of competing with it), else the source's own id. An
    existing file is never overwritten without --force: a warning names it instead.
    """
    from diag.localfile import LocalFileError, read_local
    from diag.providers.autoconfig import MAX_XML_BYTES, AutoconfigError, read
    from diag.providers.tomlfile import dumps, filename

    files = _xml_files(source)
    destination = None if target == "-" else Path(target) if target else user_dir()
    database = load(default_user=destination is None or destination == user_dir())
    imported = failed = 0
    for path in files:
        try:
            providers = read(read_local(path, max_bytes=MAX_XML_BYTES), str(path))
        except (LocalFileError, AutoconfigError) as exc:
            failed += 1
            print(f"maildiag: error: {clean(exc)}", file=sys.stderr)
            continue
        for provider in providers:
            provider, mapped = _map_onto_existing(provider, database)
            text = dumps(provider)
            if destination is None:
                sys.stdout.write(text + "\n")
                imported += 1
                continue
            destination.mkdir(parents=True, exist_ok=True)
            out = destination / filename(provider.id)
            if out.exists() and not force:
                failed += 1
                print(
                    f"maildiag: warning: {clean(out)} exists; not overwritten "
                    "(--force replaces it)",
                    file=sys.stderr,
                )
                continue
            out.write_text(text, encoding="utf-8")
            imported += 1
            note = f" (replaces {clean(mapped)})" if mapped else ""
            print(f"imported {clean(provider.name)} -> {clean(out)}{note}", file=sys.stderr)
    if not imported:
        return EXIT_UNKNOWN
    return EXIT_WARNING if failed else EXIT_OK


def _map_onto_existing(provider: Provider, database: ProviderDatabase) -> tuple[Provider, str]:
    """The imported entry under the id of the entry now answering for its domains."""
    import dataclasses

    for domain in provider.domains:
        current = database.by_domain(domain)
        if current is not None:
            where = f"{current.layer} entry {current.id}"
            return dataclasses.replace(provider, id=current.id), where
    return provider, ""


def _xml_files(source: Path) -> list[Path]:
    if source.is_dir():
        # ISPDB files are named after the domain, with or without .xml
        return sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    if not source.exists():
        raise BadInput(f"{source}: no such file or directory")
    return [source]


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


def verify_command(
    provider_ids: list[str],
    extra_dirs: list[Path],
    *,
    every: bool,
    layer: str | None,
    concurrency: int,
    per_provider: int,
    timeout: float,
    nameserver: str | None,
    ca_file: Path | None,
    as_json: bool,
) -> int:
    """Probe the servers of the chosen entries; exit 0 all as described, 1 some stale."""
    import asyncio

    from diag.providers.schema import LAYERS

    if not provider_ids and not every:
        raise BadInput("name the entries to verify (IDs), or --all")
    if layer is not None and layer not in LAYERS:
        raise BadInput(f"unknown layer {layer!r}: choose from {', '.join(LAYERS)}")
    if not 1 <= concurrency <= 64 or not 1 <= per_provider <= 8:
        raise BadInput("--concurrency must be 1-64 and --per-provider 1-8")
    database = open_database(extra_dirs)
    if every:
        chosen = [p for p in database.providers.values() if layer in (None, p.layer)]
        chosen.sort(key=lambda p: p.id)
    else:
        chosen = [_provider(database, i) for i in provider_ids]
    from diag.net.dns import Nameserver, make_resolver
    from diag.probe import ProbeOptions, trust_store_loader
    from diag.providers.verify import VerifyOptions, verify

    probe = ProbeOptions(timeout=timeout, ca_file=ca_file, legacy_tls=False)
    resolver = make_resolver(Nameserver.parse(nameserver) if nameserver else None, timeout)
    options = VerifyOptions(probe, concurrency, per_provider)
    checks = asyncio.run(verify(chosen, options, resolver, trust_store_loader(ca_file)))
    if as_json:
        from diag.render.jsonout import dumps, verify_data

        print(dumps(verify_data(checks)))
    else:
        from diag.render.console import make_console
        from diag.render.providers_view import render_verify

        render_verify(checks, make_console())
    return EXIT_WARNING if any(c.stale for c in checks) else EXIT_OK
