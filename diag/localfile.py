"""Reading a local file the user named, bounded: regular files only, size capped.

A path given to the tool (`--ca-file`, a provider entry, a file to import) can be a
FIFO that never delivers, `/dev/zero` that never ends, or a huge file. Opening with
O_NONBLOCK keeps a FIFO from blocking the open itself; the file type is then checked
on the open descriptor (no race with a rename), and at most `max_bytes` + 1 bytes are
ever read, so nothing can hang or exhaust memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from diag.errors import BadInput

MAX_FILE_BYTES = 10 * 1024 * 1024  # the largest local file read unless a caller says less


class LocalFileError(BadInput):
    """The file cannot be read: missing, not a regular file, too large, unreadable."""


def read_local(path: Path | str, *, max_bytes: int = MAX_FILE_BYTES, what: str = "") -> bytes:
    """The bytes of a regular file of at most `max_bytes`; LocalFileError otherwise.

    `what` names the file in the message, e.g. "--ca-file".
    """
    label = f"{what} {path}" if what else str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise LocalFileError(f"{label}: no such file") from None
    except OSError as exc:
        raise LocalFileError(f"cannot read {label}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise LocalFileError(f"{label}: is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise LocalFileError(f"{label}: not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise LocalFileError(f"{label}: larger than {_size(max_bytes)}")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:  # grew while we read it
                raise LocalFileError(f"{label}: larger than {_size(max_bytes)}")
        return b"".join(chunks)
    except OSError as exc:
        raise LocalFileError(f"cannot read {label}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _size(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"
