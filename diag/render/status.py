"""A live status line on stderr while a long command works, cleared before the result.

Only on a terminal and never with --json: a pipe, a log file or a script sees nothing.
The core reports diag.progress events; this view turns them into one line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from diag.progress import Event, Progress, silent

if TYPE_CHECKING:
    from rich.status import Status


def wanted(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


def describe(events: dict[str, Event]) -> str:
    """The stages still under way, most recent last, as one short line."""
    parts = []
    for stage, event in events.items():
        if event.total and event.done >= event.total:
            continue  # finished: nothing to watch
        if stage == "resolving":
            if len(events) == 1:
                parts.append(f"resolving {event.subject}")
        elif stage == "fetching":
            parts.append(f"fetching autoconfig ({event.total} sources: {event.done} done)")
        elif stage == "probing":
            noun = "server" if event.total == 1 else "servers"
            parts.append(f"probing {event.total} {noun}: {event.done} done")
    return " · ".join(parts) or "judging the results"


class _Line:
    def __init__(self, status: Status) -> None:
        self._status = status
        self._events: dict[str, Event] = {}

    def __call__(self, event: Event) -> None:
        from rich.text import Text

        from diag.render.safe import clean  # only on a terminal: not before the first packet

        self._events[event.stage] = event
        self._status.update(Text(clean(describe(self._events))))  # names from DNS


@contextmanager
def live_status(enabled: bool) -> Iterator[Progress]:
    """A progress sink that draws on stderr when `enabled`; the line is gone on exit."""
    if not enabled:
        yield silent
        return
    from rich.text import Text

    from diag.render.console import make_console

    console = make_console(stderr=True)
    status = console.status(Text("starting"), spinner="dots")
    status.start()
    try:
        yield _Line(status)
    finally:
        status.stop()  # transient: the line is erased, the result starts on a clean line
