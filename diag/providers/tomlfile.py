"""Write an entry as TOML. The schema is small and flat, so a writer of our own is
enough: strings are written as JSON strings, which are valid TOML basic strings once
DEL (legal in JSON, not in TOML) is escaped too."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from diag.providers.schema import Provider, to_mapping


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        if len(value) > 2 or sum(len(str(v)) for v in value) > 60:
            return "[\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dumps(provider: Provider) -> str:
    data = to_mapping(provider)
    lines: list[str] = []
    keys = ("enable", "requires", "origin", "incoming", "outgoing", "checks")
    tables = {k: data.pop(k) for k in keys if k in data}
    for key, value in data.items():
        lines.append(f"{key} = {_value(value)}")
    for key in ("enable", "requires", "origin"):
        if key in tables:
            lines += ["", f"[{key}]"]
            lines += [f"{k} = {_value(v)}" for k, v in tables[key].items()]
    for key in ("incoming", "outgoing", "checks"):
        for server in tables.get(key, []):
            lines += ["", f"[[{key}]]"]
            lines += [f"{k} = {_value(v)}" for k, v in server.items()]
    return "\n".join(lines) + "\n"


MAX_NAME_BYTES = 100  # file systems allow 255 bytes per name; stay well below


def filename(provider_id: str) -> str:
    """The entry's file name: its id, or for a very long id a shortened one with a hash
    of the whole id (the loader reads the id from the file, not from its name)."""
    if len(provider_id.encode("utf-8")) <= MAX_NAME_BYTES:
        return f"{provider_id}.toml"
    digest = hashlib.sha256(provider_id.encode("utf-8")).hexdigest()[:12]
    short = provider_id.encode("utf-8")[: MAX_NAME_BYTES - 13].decode("utf-8", "ignore")
    return f"{short}-{digest}.toml"
