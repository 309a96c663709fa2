"""The one rich Console every command prints through.

Outside text is data, never markup: markup, emoji codes and highlighting are off, so
`[link=...]`, `[reverse]` or `:smile:` in a certificate name print as typed and an
unbalanced `[/x]` cannot raise. Views get cleaned text (diag/render/safe.py); a render
hook escapes once more any control character still in the text about to be written, so a
field a view forgot to clean still cannot reach the terminal raw.

On a terminal, prose wraps at the terminal's width; anywhere else (pipe, file) it is not
hard-wrapped, so it pastes into a ticket as whole lines.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment

from diag.render.safe import UNSAFE_IN_LINE, escape_match


class _Escaped:
    """A renderable whose rendered text has its control characters escaped."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.inner, options):
            if segment.control or not UNSAFE_IN_LINE.search(segment.text):
                yield segment
            else:
                yield Segment(UNSAFE_IN_LINE.sub(escape_match, segment.text), segment.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.inner)


class _EscapeHook:
    """Console render hook: wraps everything printed in `_Escaped`."""

    def process_renderables(self, renderables: list[RenderableType]) -> list[RenderableType]:
        return [_Escaped(r) for r in renderables]


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console for outside data: no markup, no emoji, no highlighting, escaped output.

    `options` go to rich's Console (tests: file, width, force_terminal, color_system).
    """
    console = Console(stderr=stderr, markup=False, emoji=False, highlight=False, **options)
    if not console.is_terminal:
        console.soft_wrap = True  # prose as whole lines; tables still fit the width
    console.push_render_hook(_EscapeHook())  # type: ignore[arg-type]
    return console
