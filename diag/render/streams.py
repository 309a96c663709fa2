"""Standard output that cannot fail the command.

- A reader that goes away early (`| head -1`, `| head -c 100`) closes the pipe; the
  rest of the output is then dropped quietly, the command still finishes and exits with
  its own code, and Python prints no "Exception ignored" at exit.
- A stdout whose encoding cannot hold a character (latin-1, ASCII) gets a visible
  `\\u4e2d` escape instead of a UnicodeEncodeError.

Stdlib only: installed by the CLI before any command runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO


class QuietPipe:
    """Wraps a text stream: a closed pipe turns the remaining writes into no-ops."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.pipe_closed = False

    def write(self, text: str) -> int:
        if not self.pipe_closed:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.pipe_closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        """Point the file descriptor at /dev/null: what is still buffered, and the
        interpreter's last flush at exit, then go nowhere instead of failing."""
        self.pipe_closed = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_stdout() -> Callable[[], None]:
    """Install the guard on sys.stdout; returns the function that puts the original back."""
    original = sys.stdout
    if original is None or isinstance(original, QuietPipe):
        return lambda: None
    reconfigure = getattr(original, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")
    sys.stdout = QuietPipe(original)  # type: ignore[assignment]

    def restore() -> None:
        sys.stdout = original

    return restore
