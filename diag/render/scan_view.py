"""The terminal side of `scan`: a progress bar on stderr, and the closing summary."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from diag.render.safe import sanitized


class ScanProgress:
    """done/total, rate, ETA, errors so far and cache hits; only ever on a terminal."""

    def __init__(self, console: Console, total: int | None) -> None:
        self._progress = Progress(
            TextColumn("scan"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("errors {task.fields[errors]}  cache hits {task.fields[hits]}"),
            console=console,
            transient=False,
            refresh_per_second=4,
        )
        self._task = self._progress.add_task("scan", total=total, rate="0", errors=0, hits="-")

    def __enter__(self) -> ScanProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, done: int, errors: int, elapsed: float, hit_rate: float | None) -> None:
        rate = f"{done / elapsed:.0f}" if elapsed > 0 else "0"
        hits = f"{hit_rate:.0%}" if hit_rate is not None else "-"
        self._progress.update(self._task, completed=done, rate=rate, errors=errors, hits=hits)


@sanitized  # targets come from the input file: data, not terminal commands
def render_summary(data: dict[str, Any], console: Console) -> None:
    v = data["verdicts"]
    rate = data["targets_per_second"]
    console.print(
        Text(
            f"scanned {data['targets']} target(s) in {data['wall_seconds']:.1f} s"
            + (f" ({rate}/s)" if rate else "")
            + f": {v['ok']} ok, {v['warnings']} with warnings, {v['errors']} with errors, "
            f"{v['could_not_check']} could not be checked"
            + (f" ({data['rate_limited']} rate-limited)" if data["rate_limited"] else ""),
            style="bold",
        )
    )
    cache = data["cache"]
    parts = []
    for kind in ("dns", "probe"):
        hit_rate = cache[f"{kind}_hit_rate"]
        if hit_rate is not None:
            asked = cache[f"{kind}_hits"] + cache[f"{kind}_misses"]
            parts.append(f"{kind} {hit_rate:.0%} of {asked}")
    if parts:
        console.print(Text("cache hits: " + ", ".join(parts)))
    if data["top_findings"]:
        console.print(Text("most common findings:", style="bold"))
        for entry in data["top_findings"]:
            console.print(Text(f"  {entry['count']:>7}  {entry['code']}"))
    if data["slowest"]:
        console.print(Text("slowest targets:", style="bold"))
        for entry in data["slowest"][:5]:
            ms = entry["duration_ms"]
            console.print(Text(f"  {ms / 1000:>7.2f} s  {entry['target'][:120]}"))
