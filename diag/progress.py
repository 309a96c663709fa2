"""What a long run is doing, as plain events (no rich here: views decide how to show it).

The core calls a `Progress` callback; commands pass one that draws a status line on a
terminal, or nothing. Events carry counts, never server text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    stage: str  # "resolving", "fetching", "probing", "checking-dns"
    subject: str = ""  # the host or domain concerned (validated, A-label)
    done: int = 0
    total: int = 0


Progress = Callable[[Event], None]


def silent(event: Event) -> None:
    """The default sink: nobody is watching."""


class Counter:
    """Counts finished steps of one stage and reports each change."""

    def __init__(self, progress: Progress, stage: str, subject: str = "") -> None:
        self._progress, self._stage, self._subject = progress, stage, subject
        self.done = self.total = 0

    def add(self, count: int = 1) -> None:
        self.total += count
        self._emit()

    def finish(self, count: int = 1) -> None:
        self.done += count
        self._emit()

    def _emit(self) -> None:
        self._progress(Event(self._stage, self._subject, self.done, self.total))
