"""Answers in, recommendation out: plain values, with text as message keys.

The decision never holds prose: every reason, caveat and setting is a catalogue key and
its parameters, so the same result renders in English or French, and JSON carries both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BACKUPS = ("self", "provider")


@dataclass(frozen=True)
class Answers:
    devices: int | None = None  # computers, phones, tablets and webmail that read the box
    mobile: bool | None = None  # often away from the usual desk
    offline: bool | None = None  # needs mail without a connection
    quota_mb: int | None = None  # server space; 0 = unlimited or unknown
    backups: str | None = None  # "self" or "provider"
    shared: bool | None = None  # several people read the mailbox

    def missing(self) -> list[str]:
        return [name for name in QUESTIONS if getattr(self, name) is None]


QUESTIONS = ("devices", "mobile", "offline", "quota_mb", "backups", "shared")
TIGHT_QUOTA_MB = 2048  # below this, keeping every message on the server fills it up


@dataclass(frozen=True)
class Message:
    key: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    answer: str  # which answer it comes from ("devices", "provider", ...)
    favours: str  # "imap" or "pop3"
    weight: int
    message: Message


GROUPS = ("provider", "for", "against", "moot")


@dataclass
class Recommendation:
    protocol: str  # "imap", "pop3", or "none" (the provider offers neither)
    confidence: str  # "high", "medium", "low"
    score: dict[str, int]
    reasons: list[Reason]
    caveats: list[Message]
    settings: list[Message]
    unanswered: list[str]
    provider_id: str | None = None
    provider_notes: list[str] = field(default_factory=list)  # English text from the database

    @property
    def decided_by_provider(self) -> bool:
        """The provider offers one protocol (or none): the answers only inform."""
        return any(r.answer == "provider" for r in self.reasons)

    def group(self, reason: Reason) -> str:
        """Where a reason belongs: "provider" (it decided), "for" the recommended
        protocol, "against" it (it favours the other one), or "moot" (no protocol)."""
        if reason.answer == "provider":
            return "provider"
        if self.protocol == "none":
            return "moot"
        return "for" if reason.favours == self.protocol else "against"

    def grouped(self) -> dict[str, list[Reason]]:
        out: dict[str, list[Reason]] = {g: [] for g in GROUPS}
        for reason in self.reasons:
            out[self.group(reason)].append(reason)
        return out
