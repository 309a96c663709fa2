"""The decision: a pure function of the answers (and the provider, when known).

Each answer adds weight to one side; the weights encode the trade-offs helpdesks use:
several devices, a shared mailbox or a life on the move need server-side state (IMAP);
one offline computer, a tight quota and backups of one's own suit download-and-keep
(POP3). A provider that lacks one protocol settles it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from diag.advice.model import TIGHT_QUOTA_MB, Answers, Message, Reason, Recommendation

if TYPE_CHECKING:
    from diag.providers.schema import Provider

LEAVE_ON_SERVER_DAYS = 14


def recommend(answers: Answers, provider: Provider | None = None) -> Recommendation:
    reasons = _reasons(answers)
    forced = _provider_constraint(provider)
    if forced is not None:
        reasons.insert(0, forced)
    score = {
        "imap": sum(r.weight for r in reasons if r.favours == "imap"),
        "pop3": sum(r.weight for r in reasons if r.favours == "pop3"),
    }
    offers = _offers(provider)
    if not offers:
        protocol, confidence = "none", "high"
    elif forced is not None:
        protocol, confidence = forced.favours, "high"
    else:
        margin = score["imap"] - score["pop3"]
        protocol = "pop3" if margin < 0 else "imap"  # a tie goes to IMAP: nothing is lost
        confidence = "high" if abs(margin) >= 4 else "medium" if abs(margin) >= 2 else "low"
    return Recommendation(
        protocol=protocol,
        confidence=confidence,
        score=score,
        reasons=reasons,
        caveats=_caveats(protocol, answers),
        settings=_settings(protocol, answers, provider),
        unanswered=answers.missing(),
        provider_id=provider.id if provider else None,
        provider_notes=_provider_notes(protocol, provider),
    )


def _reasons(a: Answers) -> list[Reason]:
    out: list[Reason] = []
    if a.devices is not None:
        if a.devices >= 2:
            out.append(
                Reason("devices", "imap", 3, Message("reason.devices_many", {"n": a.devices}))
            )
        else:
            out.append(Reason("devices", "pop3", 1, Message("reason.devices_one")))
    if a.shared:
        out.append(Reason("shared", "imap", 6, Message("reason.shared")))  # POP3 cannot share
    if a.mobile:
        out.append(Reason("mobile", "imap", 2, Message("reason.mobile")))
    elif a.mobile is False:
        out.append(Reason("mobile", "pop3", 1, Message("reason.desk")))
    if a.offline:
        out.append(Reason("offline", "pop3", 2, Message("reason.offline")))
    if a.quota_mb:
        if a.quota_mb < TIGHT_QUOTA_MB:
            out.append(
                Reason("quota_mb", "pop3", 2, Message("reason.quota_tight", {"mb": a.quota_mb}))
            )
        else:
            out.append(
                Reason("quota_mb", "imap", 1, Message("reason.quota_ample", {"mb": a.quota_mb}))
            )
    if a.backups == "self":
        out.append(Reason("backups", "pop3", 1, Message("reason.backups_self")))
    elif a.backups == "provider":
        out.append(Reason("backups", "imap", 2, Message("reason.backups_provider")))
    return out


def _shared_by_devices(a: Answers) -> bool:
    """Another device (a phone, a second computer) reads the box too."""
    return (a.devices or 0) >= 2 or bool(a.mobile)


def _offers(provider: Provider | None) -> set[str]:
    if provider is None:
        return {"imap", "pop3"}
    return {s.protocol for s in provider.incoming}


def _provider_constraint(provider: Provider | None) -> Reason | None:
    if provider is None:
        return None
    offers = _offers(provider)
    name = {"name": provider.name}
    if not offers:
        return Reason("provider", "none", 0, Message("reason.provider_neither", name))
    if offers == {"imap"}:
        return Reason("provider", "imap", 0, Message("reason.provider_imap_only", name))
    if offers == {"pop3"}:
        return Reason("provider", "pop3", 0, Message("reason.provider_pop_only", name))
    return None


def _caveats(protocol: str, a: Answers) -> list[Message]:
    out: list[Message] = []
    if protocol == "pop3":
        if _shared_by_devices(a):
            out.append(Message("caveat.pop_leave_on_server", {"days": LEAVE_ON_SERVER_DAYS}))
        out.append(Message("caveat.pop_backup"))
        out.append(Message("caveat.pop_local_state"))
        if a.shared:
            out.append(Message("caveat.pop_shared"))
    elif protocol == "imap":
        if a.quota_mb:
            out.append(Message("caveat.imap_quota_known", {"mb": a.quota_mb}))
        else:
            out.append(Message("caveat.imap_quota"))
        if a.offline:
            out.append(Message("caveat.imap_offline"))
        out.append(Message("caveat.imap_large_folders"))
        if a.backups == "self":
            out.append(Message("caveat.imap_own_backup"))
    if protocol != "none":
        out.append(Message("caveat.smtp"))
    return out


def _settings(protocol: str, a: Answers, provider: Provider | None) -> list[Message]:
    if protocol == "none":
        return [Message("setting.none")]
    servers = [s for s in provider.incoming if s.protocol == protocol] if provider else []
    default_port = 993 if protocol == "imap" else 995
    if servers:
        params = {"host": servers[0].host, "port": servers[0].port, "socket": servers[0].socket}
        out = [Message(f"setting.{protocol}_server", params)]
    else:
        out = [Message(f"setting.{protocol}_generic", {"port": default_port, "socket": "ssl"})]
    if protocol == "pop3":
        if _shared_by_devices(a):
            out.append(Message("setting.pop_leave_days", {"days": LEAVE_ON_SERVER_DAYS}))
        else:
            out.append(Message("setting.pop_leave_until_deleted"))
    else:
        out.append(Message("setting.imap_offline" if a.offline else "setting.imap_headers"))
    if provider and provider.outgoing:
        smtp = provider.outgoing[0]
        params = {"host": smtp.host, "port": smtp.port, "socket": smtp.socket}
        out.append(Message("setting.smtp", params))
    else:
        out.append(Message("setting.smtp_generic"))
    if provider is not None:
        from diag.providers.requirements import requirement_messages

        out += requirement_messages(provider, protocol)
    return out


def _provider_notes(protocol: str, provider: Provider | None) -> list[str]:
    if provider is None or protocol == "none":
        return list(provider.retired) if provider else []
    notes = []  # `enable` and the other requirements are rendered from the catalogue
    for note in provider.limits:
        about_pop = note.lower().startswith("pop")
        if about_pop == (protocol == "pop3"):
            notes.append(note)
    return notes + list(provider.retired)
