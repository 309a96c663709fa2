"""The prebuilt index of the shipped layers: which entry files name which domain or MX
pattern, so a lookup reads one small JSON file and the few entries it needs, instead of
parsing ~280 TOML files on every run.

`providers/index.json` is written by `tools/sync-providers` (and by
`python -m diag.providers.index`); a test keeps it in step with the data. At run time a
cheap fingerprint (file names and sizes) tells whether the index still matches the files;
when it does not (an entry was edited and the index not rebuilt) the index is rebuilt in
memory, so an answer is never taken from a stale index.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

INDEX_FILE = "index.json"
VERSION = 1
# layer -> folder below the shipped providers/ folder; highest precedence first
SHIPPED_LAYERS = {"curated": "", "ispdb": "public/ispdb", "deltachat": "public/deltachat"}


def layer_files(root: Path) -> dict[str, list[Path]]:
    out = {}
    for layer, sub in SHIPPED_LAYERS.items():
        folder = root / sub if sub else root
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".toml"))
        except OSError:
            names = []
        out[layer] = [folder / n for n in names]
    return out


def fingerprint(root: Path) -> str:
    """Names and sizes of every layer file: one directory scan and stat each, no parsing.
    Kept as plain text (about 10 KB), so no hash module loads on the lookup path."""
    parts = []
    for layer, sub in SHIPPED_LAYERS.items():
        rows = []
        try:
            with os.scandir(os.path.join(root, sub) if sub else root) as entries:
                for entry in entries:
                    if entry.name.endswith(".toml"):
                        try:
                            size = entry.stat().st_size
                        except OSError:
                            size = -1
                        rows.append(f"{layer}/{entry.name}:{size}\n")
        except OSError:
            pass
        parts.append("".join(sorted(rows)))
    return "".join(parts)


def build(root: Path) -> tuple[dict[str, Any], list[Exception]]:
    """Parse every shipped entry; a broken file is left out and returned as an error."""
    from diag.providers.database import read_entry
    from diag.providers.schema import ProviderError

    files = layer_files(root)
    entries: dict[str, str] = {}
    domains: dict[str, list[str]] = {}
    mx: dict[str, list[str]] = {}
    errors: list[Exception] = []
    for layer, paths in files.items():
        for path in paths:
            try:
                provider = read_entry(path, layer)
            except ProviderError as exc:
                errors.append(exc)
                continue
            key = f"{layer}:{provider.id}"
            entries[key] = path.relative_to(root).as_posix()
            for domain in provider.domains:
                domains.setdefault(domain, []).append(key)
            for pattern in provider.mx:
                mx.setdefault(pattern, []).append(key)
    index = {
        "version": VERSION,
        "fingerprint": fingerprint(root),
        "entries": entries,
        "domains": domains,
        "mx": mx,
    }
    return index, errors


def load_index(root: Path) -> dict[str, Any] | None:
    """The shipped index if it matches the files, else None (the caller rebuilds)."""
    try:
        data = json.loads((root / INDEX_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    if data.get("fingerprint") != fingerprint(root):
        return None
    return data


def write(root: Path) -> list[Exception]:
    index, errors = build(root)
    text = json.dumps(index, indent=0, sort_keys=True, separators=(",", ":"))
    (root / INDEX_FILE).write_text(text + "\n", encoding="utf-8")
    return errors


if __name__ == "__main__":  # rebuild after editing entries: python -m diag.providers.index
    from diag.providers.database import shipped_dir

    problems = write(shipped_dir())
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"wrote {shipped_dir() / INDEX_FILE}")
    sys.exit(1 if problems else 0)
