"""The run's summary: targets by verdict, the commonest findings, the slowest targets."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from diag.bulk.cache import CacheStats

VERDICTS = {0: "ok", 1: "warnings", 2: "errors", 3: "could_not_check"}
TOP_CODES = 10
SLOWEST = 10


@dataclass
class Summary:
    verdicts: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)  # bounded by the finding catalogue
    slowest: list[tuple[float, str]] = field(default_factory=list)  # a small heap
    targets: int = 0
    errors: int = 0  # records with an `error` object (bad line, crash, rate-limited)
    rate_limited: int = 0
    cache: CacheStats = field(default_factory=CacheStats)

    def add(self, record: dict[str, Any]) -> None:
        self.targets += 1
        error = record.get("error")
        if error:
            self.errors += 1
            self.rate_limited += error.get("kind") == "rate_limited"
            self.verdicts["could_not_check"] += 1
        else:
            self.verdicts[VERDICTS.get(record.get("exit_code", 3), "could_not_check")] += 1
        for finding in record.get("findings") or []:
            self.codes[finding["code"]] += 1
        entry = (float(record.get("duration_ms") or 0.0), str(record.get("target", "")))
        if len(self.slowest) < SLOWEST:
            heapq.heappush(self.slowest, entry)
        else:
            heapq.heappushpop(self.slowest, entry)

    def data(self, wall_seconds: float) -> dict[str, Any]:
        c = self.cache
        return {
            "schema": "maildiag.scan-summary/1",
            "targets": self.targets,
            "verdicts": {name: self.verdicts.get(name, 0) for name in VERDICTS.values()},
            "errors": self.errors,
            "rate_limited": self.rate_limited,
            "top_findings": [
                {"code": code, "count": n} for code, n in self.codes.most_common(TOP_CODES)
            ],
            "slowest": [
                {"target": t, "duration_ms": ms} for ms, t in sorted(self.slowest, reverse=True)
            ],
            "wall_seconds": round(wall_seconds, 3),
            "targets_per_second": round(self.targets / wall_seconds, 1) if wall_seconds else None,
            "cache": {
                "dns_hits": c.dns_hits,
                "dns_misses": c.dns_misses,
                "dns_hit_rate": CacheStats.rate(c.dns_hits, c.dns_misses),
                "probe_hits": c.probe_hits,
                "probe_misses": c.probe_misses,
                "probe_hit_rate": CacheStats.rate(c.probe_hits, c.probe_misses),
                "busy_retries": c.busy_retries,
            },
        }


def brief(record: dict[str, Any]) -> dict[str, Any]:
    """What `Summary.add` reads of a record: all a worker process sends beside the line."""
    error = record.get("error")
    return {
        "target": record.get("target"),
        "error": {"kind": error.get("kind")} if error else None,
        "exit_code": record.get("exit_code"),
        "duration_ms": record.get("duration_ms"),
        "findings": [{"code": f["code"]} for f in record.get("findings") or []],
    }
