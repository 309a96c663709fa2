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


def confidence(result: Recommendation, t: Catalog) -> str:
    """How sure: the provider's decision is not a judgement call."""
    if result.decided_by_provider:
        return t("confidence.provider")
    return t(f"confidence.{result.confidence}")


PROTOCOL_NAMES = {"imap": "IMAP", "pop3": "POP3"}


def group_titles(result: Recommendation, t: Catalog, provider_name: str | None) -> dict[str, str]:
    """The heading of each group of reasons, in the order they are shown."""
    chosen = PROTOCOL_NAMES.get(result.protocol, "")
    other = {"imap": "POP3", "pop3": "IMAP"}.get(result.protocol, "")
    against = "label.against_overruled" if result.decided_by_provider else "label.against"
    return {
        "provider": t("label.decided", name=provider_name or t("label.the_provider")),
        "for": t("label.for", protocol=chosen),
        "against": t(against, protocol=chosen, other=other),
        "moot": t("label.moot"),
    }


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
        "decided_by_provider": result.decided_by_provider,
        "reasons": [
            {
                "answer": r.answer,
                "favours": r.favours,
                "weight": r.weight,
                "group": result.group(r),
                **item(r.message),
            }
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
