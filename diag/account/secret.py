"""The password (or OAuth token), held so that it cannot leak by accident.

`Secret` never shows its value in str/repr, and `redact` scrubs it, and every form
it takes on the wire (base64 SASL blobs), from server text before that text is kept
as evidence: a server that echoes a bad command line must not make us print it.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Callable
from pathlib import Path

from diag.errors import BadInput

PASSWORD_ENV = "MAILDIAG_PASSWORD"
MAX_SECRET_BYTES = 16 * 1024  # a password file bigger than this is not a password file


class Secret:
    __slots__ = ("_forms", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._forms: set[str] = {value, b64(value)}  # LOGIN sends the bare value in base64

    def reveal(self) -> str:
        return self._value

    def remember(self, wire_form: str) -> None:
        """Note an encoding of the secret that went on the wire, to scrub it too."""
        if wire_form:
            self._forms.add(wire_form)

    def redact(self, text: str) -> str:
        for form in sorted(self._forms, key=len, reverse=True):
            if form:
                text = text.replace(form, "***")
        return text

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __reduce__(self):  # pragma: no cover - never pickled, never copied to a worker
        raise TypeError("a Secret cannot be pickled")


def b64(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def read_password(
    *,
    password_file: Path | None,
    password_stdin: bool,
    prompt: Callable[[str], str] | None,
    label: str = "Password",
) -> Secret:
    """The password from exactly one source, in order: file, stdin, environment, prompt."""
    if password_file is not None and password_stdin:
        raise BadInput("give either --password-file or --password-stdin, not both")
    if password_file is not None:
        value = _read_file(password_file)
    elif password_stdin:
        value = _first_line(sys.stdin.buffer.read(MAX_SECRET_BYTES + 1), "standard input")
    elif os.environ.get(PASSWORD_ENV) is not None:
        value = os.environ[PASSWORD_ENV]
    elif prompt is not None and sys.stdin.isatty():
        try:
            value = prompt(f"{label}: ")
        except (EOFError, KeyboardInterrupt):
            raise BadInput("no password given") from None
    else:
        raise BadInput(
            f"no password: set {PASSWORD_ENV}, or use --password-file or --password-stdin "
            "(the prompt needs a terminal)"
        )
    if not value:
        raise BadInput("the password is empty")
    if "\r" in value or "\n" in value or "\x00" in value:
        raise BadInput("the password contains a line break or NUL character")
    return Secret(value)


def read_token(env_name: str) -> Secret:
    value = os.environ.get(env_name)
    if not value:
        raise BadInput(f"--oauth-token-env {env_name}: the variable is unset or empty")
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
        raise BadInput(f"--oauth-token-env {env_name}: a bearer token is printable ASCII")
    return Secret(value)


def _read_file(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(f"--password-file {path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"--password-file {path}: is a directory") from None
    except PermissionError:
        raise BadInput(f"--password-file {path}: permission denied") from None
    except OSError as exc:
        raise BadInput(f"--password-file {path}: cannot read ({exc.strerror})") from None
    return _first_line(data, f"--password-file {path}")


def _first_line(data: bytes, where: str) -> str:
    if len(data) > MAX_SECRET_BYTES:
        raise BadInput(f"{where}: more than {MAX_SECRET_BYTES} bytes, not a password")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{where}: not UTF-8 text") from None
    return text.split("\n", 1)[0].rstrip("\r")
