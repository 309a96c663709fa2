"""Text of a recommendation in one language, for the terminal and for JSON."""

from __future__ import annotations

from typing import Any

from diag.advice.i18n import Catalog
from diag.advice.model import Message, Recommendation

ADVICE_SCHEMA = "maildiag.advice/1"
COMPARE_SCHEMA = "maildiag.compare/1"
COMPARE_ROWS = (
    "storage",
    "devices",
    "offline",
    "folders",
    "flags",
    "space",
    "backups",
    "search",
    "bandwidth",
    "ports",
    "sending",
)


def text(message: Message, t: Catalog) -> str:
    return t(message.key, **message.params)


def headline(result: Recommendation, t: Catalog) -> str:
    return t(f"answer.{result.protocol}")


def advice_data(result: Recommendation, t: Catalog) -> dict[str, Any]:
    def item(message: Message) -> dict[str, Any]:
        return {"key": message.key, "params": message.params, "text": text(message, t)}

    return {
        "schema": ADVICE_SCHEMA,
        "lang": t.lang,
        "protocol": result.protocol,
        "confidence": result.confidence,
        "headline": headline(result, t),
        "score": result.score,
        "reasons": [
            {"answer": r.answer, "favours": r.favours, "weight": r.weight, **item(r.message)}
            for r in result.reasons
        ],
        "caveats": [item(m) for m in result.caveats],
        "settings": [item(m) for m in result.settings],
        "unanswered": result.unanswered,
        "provider": result.provider_id,
        "provider_notes": result.provider_notes,
    }


def compare_data(t: Catalog) -> dict[str, Any]:
    return {
        "schema": COMPARE_SCHEMA,
        "lang": t.lang,
        "rows": [
            {
                "aspect": row,
                "label": t(f"compare.{row}.label"),
                "pop3": t(f"compare.{row}.pop3"),
                "imap": t(f"compare.{row}.imap"),
            }
            for row in COMPARE_ROWS
        ],
    }
