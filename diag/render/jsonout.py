"""The JSON contract (docs/json.md): plain data from the result objects.

Field names follow the dataclasses; the `schema` value changes only when a field is
removed or changes meaning (adding fields is not a break).
"""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Any

from diag.model import ProbeReport, ServiceResult

PROBE_SCHEMA = "maildiag.probe/1"


def plain(value: Any) -> Any:
    """Dataclasses, enums, lists and dicts as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


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
        "summary": {
            severity: sum(1 for f in findings if f.severity.value == severity)
            for severity in ("error", "warning", "info")
        },
        "dns": plain(report.dns),
        "services": [service_data(s) for s in report.services],
        "findings": [plain(f) for f in findings],
    }


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
