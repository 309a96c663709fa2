"""`maildiag docs`: the documentation the help refers to, readable after `pip install`.

The wheel ships docs/ as diag/docs_data (pyproject.toml); a source checkout reads docs/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from diag.errors import BadInput


def docs_dir() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "docs_data", package.parent / "docs"):
        if candidate.is_dir():
            return candidate
    return package / "docs_data"


def topics() -> dict[str, Path]:
    return {p.stem: p for p in sorted(docs_dir().glob("*.md"))}


def run_docs(topic: str | None, path_only: bool) -> int:
    available = topics()
    if not available:
        raise BadInput(f"the documentation is not installed (looked in {docs_dir()})")
    if topic is None:
        for name, path in available.items():
            print(f"{name:<12} {path}")
        print("\n`maildiag docs NAME` prints one (Markdown).", file=sys.stderr)
        return 0
    path = available.get(topic.lower().removesuffix(".md"))
    if path is None:
        raise BadInput(f"no documentation named {topic!r}: choose {', '.join(available)}")
    if path_only:
        print(path)
    else:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0
