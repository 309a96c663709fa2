"""The JSON contract (docs/json.md): plain data from the result objects.

Field names follow the dataclasses; the `schema` value changes only when a field is
removed or changes meaning (adding fields is not a break).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from enum import Enum
from typing import TYPE_CHECKING, Any

from diag.model import ProbeReport, ServiceResult, severity_counts
from diag.render.safe import json_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from diag.advice.i18n import Catalog
    from diag.check.model import CheckReport
    from diag.discovery.model import DiscoveryReport
    from diag.providers.compare import Comparison
    from diag.providers.database import ProviderDatabase
    from diag.providers.lookup import ProviderMatch
    from diag.providers.schema import Provider
    from diag.providers.verify import ServerCheck

PROBE_SCHEMA = "maildiag.probe/1"
PROVIDERS_SCHEMA = "maildiag.providers/1"
PROVIDER_SCHEMA = "maildiag.provider/1"
LOOKUP_SCHEMA = "maildiag.lookup/1"
VERIFY_SCHEMA = "maildiag.providers-verify/1"
DISCOVERY_SCHEMA = "maildiag.discovery/1"
CHECK_SCHEMA = "maildiag.check/1"
ERROR_SCHEMA = "maildiag.error/1"


def plain(value: Any) -> Any:
    """Dataclasses, enums, lists and dicts as JSON-ready values."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _FIELDS.get(kind)
    if names is None:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return value
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
    return {name: plain(getattr(value, name)) for name in names}


# A scan turns thousands of results into JSON: each class's field names are read once.
_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...]] = {}


def service_data(service: ServiceResult) -> dict[str, Any]:
    data = plain(service)
    data.pop("findings")
    spec = data.pop("spec")
    return {"service": service.spec.label, **spec, "usable": service.usable, **data}


def probe_data(report: ProbeReport) -> dict[str, Any]:
    findings = report.all_findings
    return {
        "schema": PROBE_SCHEMA,
        "host": report.host,
        "started_at": report.started_at,
        "elapsed_ms": report.elapsed_ms,
        "checked": report.checked,
        "exit_code": report.exit_code,
        "summary": severity_counts(findings),
        "dns": plain(report.dns),
        "services": [service_data(s) for s in report.services],
        "findings": [plain(f) for f in findings],
    }


def dumps(data: Any) -> str:
    """JSON for stdout: readable non-ASCII kept, but C1, DEL, bidi and separator
    characters escaped (`\\u009b`), and all of it ASCII when stdout cannot encode it."""
    text = json_text(json.dumps(data, indent=2, ensure_ascii=False))
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return json.dumps(data, indent=2, ensure_ascii=True)
    return text


def error_data(message: str, exit_code: int) -> dict[str, Any]:
    """What --json prints when the command could not run (bad input, usage)."""
    return {
        "schema": ERROR_SCHEMA,
        "exit_code": exit_code,
        "error": {"message": message, "exit_code": exit_code},
    }


def _provider_mapping(
    provider: Provider, address: str | None = None, domain: str | None = None
) -> dict[str, Any]:
    from diag.providers.schema import to_mapping

    data = to_mapping(provider)
    data.setdefault("incoming", [])
    data.setdefault("outgoing", [])
    for key in ("mx", "limits", "retired", "help", "enable"):
        data.setdefault(key, {} if key == "enable" else [])
    data.setdefault("checked", "")
    data.setdefault("requires", {})
    data.setdefault("checks", [])
    data.setdefault("origin", None)
    data["layer"] = provider.layer
    data["source"] = provider.display_source()
    servers = [*provider.incoming, *provider.outgoing]
    for entry, server in zip([*data["incoming"], *data["outgoing"]], servers, strict=True):
        entry["host"] = server.host_for(domain)
        entry["username_value"] = server.username_for(address)
        entry.setdefault("notes", "")
    return data


def providers_data(database: ProviderDatabase) -> dict[str, Any]:
    return {
        "schema": PROVIDERS_SCHEMA,
        "providers": [
            _provider_mapping(p) for p in sorted(database.providers.values(), key=lambda p: p.id)
        ],
        "errors": [str(e) for e in database.errors],
    }


def _messages(provider: Provider, t: Catalog | None) -> list[dict[str, Any]]:
    from diag.providers.requirements import requirement_messages

    return [
        {"key": m.key, "params": m.params, **({"text": t(m.key, **m.params)} if t else {})}
        for m in requirement_messages(provider)
    ]


def _comparison(comparison: Comparison) -> dict[str, Any]:
    other = comparison.other
    return {
        "id": other.id,
        "layer": other.layer,
        "source": other.display_source(),
        "checked": other.checked,
        "result": comparison.result,
        "shared_domains": list(comparison.shared_domains),
        "differences": list(comparison.differences),
    }


def _provenance(provider: Provider) -> dict[str, Any]:
    from diag.providers.requirements import age_days

    return {
        "layer": provider.layer,
        "file": provider.display_source(),
        "checked": provider.checked,
        "age_days": age_days(provider.checked),
    }


def provider_data(
    provider: Provider, comparisons: list[Comparison] | None = None, t: Catalog | None = None
) -> dict[str, Any]:
    return {
        "schema": PROVIDER_SCHEMA,
        "provider": _provider_mapping(provider),
        "provenance": _provenance(provider),
        "requirements": _messages(provider, t),
        "comparisons": [_comparison(c) for c in comparisons or []],
    }


def verify_data(checks: list[ServerCheck]) -> dict[str, Any]:
    return {
        "schema": VERIFY_SCHEMA,
        "servers": [plain(c) for c in checks],
        "stale": sum(1 for c in checks if c.stale),
    }


def lookup_data(match: ProviderMatch, t: Catalog | None = None) -> dict[str, Any]:
    query = match.query
    provider = match.provider
    return {
        "schema": LOOKUP_SCHEMA,
        "query": {"text": query.text, "domain": query.domain, "address": query.address},
        "found": match.provider is not None,
        "via": match.via,
        "mx_checked": match.mx_checked,
        "mx_hosts": match.mx_hosts,
        "mx_error": match.mx_error,
        "mx_host": match.mx_host,
        "mx_how": match.mx_how,
        "domain_exists": not match.domain_missing if match.mx_checked else None,
        "provider": (
            _provider_mapping(match.provider, query.address, query.domain)
            if match.provider
            else None
        ),
        "provenance": _provenance(provider) if provider else None,
        "requirements": _messages(provider, t) if provider else [],
        "comparisons": [_comparison(c) for c in match.comparisons],
    }


def discovery_data(report: DiscoveryReport) -> dict[str, Any]:
    data = plain(report)
    data.pop("text")
    sources = data.pop("sources")
    return {
        "schema": DISCOVERY_SCHEMA,
        "query": report.text,
        **data,
        "sources": sources,
        "candidates": [
            {**plain(m.candidate), "sources": m.sources, "published": m.published}
            for m in report.merged()
        ],
    }


def check_data(
    report: CheckReport,
    t: Catalog | None = None,
    service: Callable[[ServiceResult], dict[str, Any]] = service_data,
) -> dict[str, Any]:
    """`service` lets the bulk scan turn each shared probe result into data only once."""
    findings = report.findings
    requirements = [
        {"key": m.key, "params": m.params, **({"text": t(m.key, **m.params)} if t else {})}
        for m in report.discovery.provider_requirements
    ]
    return {
        "schema": CHECK_SCHEMA,
        "domain": report.discovery.domain,
        "address": report.discovery.address,
        "checked": report.live,
        "exit_code": report.exit_code,
        "verdict": report.verdict,
        "cause": report.cause.kind if report.cause else None,
        "elapsed_ms": report.elapsed_ms,
        "summary": severity_counts(findings),
        "recommended": {
            "incoming": [plain(s) for s in report.incoming],
            "outgoing": [plain(s) for s in report.outgoing],
        },
        "discovery": discovery_data(report.discovery),
        "provider_requirements": requirements,
        "services": [
            {
                "candidate": plain(c.merged.candidate),
                "sources": c.merged.sources,
                "usable": c.usable,
                "probe": service(c.result) if c.result else None,
            }
            for c in report.checked
        ],
        "dns": plain(report.domain) if report.domain else None,
        "findings": [plain(f) for f in findings],
    }
