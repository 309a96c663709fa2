"""What a client must know before the first login, as catalogue messages.

The entry holds typed facts (schema.Requirements, `enable`, the upstream status); this
turns them into message keys and parameters, so lookup, check and recommend render
the same facts in English or French (diag/advice/messages/*.toml).
"""

from __future__ import annotations

from datetime import date

from diag.advice.model import Message
from diag.providers.schema import Provider

PROTOCOL = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}
UPSTREAM = {"deltachat": "Delta Chat", "ispdb": "Thunderbird ISPDB"}


def requirement_messages(provider: Provider, protocol: str | None = None) -> list[Message]:
    """Every requirement of the entry; with `protocol`, only those that concern it
    (and SMTP, which every mailbox sends through)."""

    def concerns(name: str) -> bool:
        return protocol is None or name in (protocol, "smtp")

    req = provider.requires
    out: list[Message] = []
    if req.oauth2 is not None:
        out.append(Message("require.oauth2", {"issuer": req.oauth2.issuer}))
    if req.app_password:
        where = req.app_password_where
        key = "require.app_password_where" if where else "require.app_password"
        out.append(Message(key, {"where": where} if where else {}))
    for name, where in provider.enable.items():
        if concerns(name):
            key = "require.enable_where" if where else "require.enable"
            params = {"protocol": PROTOCOL[name]} | ({"where": where} if where else {})
            out.append(Message(key, params))
    if req.imap_id and concerns("imap"):
        out.append(Message("require.imap_id"))
    paid = [PROTOCOL[p] for p in req.paid_plan if concerns(p)]
    if paid:
        out.append(Message("require.paid_plan", {"protocols": ", ".join(paid)}))
    if req.provider_login:
        where = req.provider_login_where
        key = "require.provider_login_where" if where else "require.provider_login"
        out.append(Message(key, {"where": where} if where else {}))
    if req.pop_off_by_default and concerns("pop3"):
        out.append(Message("require.pop_off_by_default"))
    status = provider.origin.status if provider.origin else ""
    if status in ("preparation", "broken"):
        source = UPSTREAM.get(provider.layer, provider.layer)
        out.append(Message(f"require.upstream_{status}", {"source": source}))
    return out


def age_days(checked: str, today: date | None = None) -> int | None:
    """Days since a YYYY-MM-DD (or YYYY-MM, counted from the 1st) date; None if unknown."""
    parts = checked.split("-")
    try:
        year, month = int(parts[0]), int(parts[1])
        day = int(parts[2]) if len(parts) > 2 else 1
        then = date(year, month, day)
    except (ValueError, IndexError):
        return None
    return max(0, ((today or date.today()) - then).days)
