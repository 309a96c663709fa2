"""Quoting what a peer sent inside a message: in quotes and cut short, not as a Python repr.

The text is left as it came: every view escapes control characters on the way out
(diag/render/safe.py), and JSON escapes them too, so quoting never has to.
"""

from __future__ import annotations

LIMIT = 120


def quoted(text: str, limit: int = LIMIT) -> str:
    """`“text”`, cut at `limit` characters with an ellipsis."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return f"“{cut}”"
