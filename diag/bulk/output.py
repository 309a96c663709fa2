"""JSON Lines out, one flushed line per target, and what --resume reads back."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from diag.bulk.targets import digest
from diag.errors import BadInput


class JsonlWriter:
    """Each record is one line, written and flushed at once: a killed run loses only
    the targets in flight, and a reader can follow the file as it grows."""

    def __init__(self, path: Path | None, *, append: bool = False) -> None:
        self._path = path
        self._file: IO[str]
        if path is None:
            self._file = sys.stdout
        else:
            try:
                self._file = path.open("a" if append else "w", encoding="utf-8")
            except OSError as exc:
                raise BadInput(f"cannot write {path}: {exc.strerror}") from None

    def write(self, record: dict[str, Any]) -> None:
        self.write_line(dumps_line(record))

    def write_line(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._path is not None:
            self._file.close()


def dumps_line(record: dict[str, Any]) -> str:
    from diag.render.safe import json_text

    return json_text(json.dumps(record, ensure_ascii=False, separators=(",", ":")))


def done_targets(path: Path) -> set[bytes]:
    """The targets already in an output file (8-byte digests), for --resume.

    A line cut short by a kill is removed first, so the file stays valid JSON Lines
    and that target is scanned again.
    """
    done: set[bytes] = set()
    if not path.exists():
        return done
    try:
        _drop_partial_tail(path)
        with path.open("r", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    target = json.loads(line).get("target")
                except (ValueError, AttributeError):
                    continue
                if isinstance(target, str):
                    done.add(digest(target))
    except OSError as exc:
        raise BadInput(f"cannot read {path} to resume: {exc.strerror}") from None
    return done


def _drop_partial_tail(path: Path) -> None:
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        position = size
        while position > 0:  # back to the last newline, 64 KiB at a time
            step = min(65536, position)
            handle.seek(position - step)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                handle.truncate(position - step + cut + 1)
                return
            position -= step
        handle.truncate(0)
