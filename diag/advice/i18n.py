"""Message catalogues (messages/<lang>.toml) and the choice of language."""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path

from diag.errors import BadInput

LANGUAGES = ("en", "fr")
_DIR = Path(__file__).resolve().parent / "messages"


def default_language(environ: dict | None = None) -> str:
    """From the locale (LC_ALL, LC_MESSAGES, LANG, as gettext reads them), else English."""
    env = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "")
        if value:
            code = value.split(".")[0].split("_")[0].lower()
            return code if code in LANGUAGES else "en"
    return "en"


def check_language(lang: str | None) -> str:
    if lang is None:
        return default_language()
    code = lang.strip().lower()
    if code not in LANGUAGES:
        raise BadInput(f"unknown language {lang!r}: choose {' or '.join(LANGUAGES)}")
    return code


class Catalog:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._messages = _load(lang)

    def __call__(self, key: str, **params: object) -> str:
        text = self._messages[key]
        if "socket" in params:
            params["socket"] = self._messages.get(f"socket.{params['socket']}", params["socket"])
        return text.format(**params) if params else text

    def words(self, key: str) -> set[str]:
        return {w.strip().lower() for w in self._messages[key].split(",") if w.strip()}


@functools.cache
def _load(lang: str) -> dict[str, str]:
    from diag.localfile import read_local

    return tomllib.loads(read_local(_DIR / f"{lang}.toml", max_bytes=1024 * 1024).decode("utf-8"))
