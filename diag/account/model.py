"""Typed results of `login` and `roundtrip`; nothing here does I/O.

No field ever holds the password or token: evidence is redacted before it gets here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from diag.model import (
    VERDICT_WORDS,
    Finding,
    Security,
    TlsInfo,
    exit_code_for,
    severity_counts,
)


class Outcome(StrEnum):
    OK = "ok"  # logged in
    REFUSED = "refused"  # the server said no (see the finding's code for why)
    NOT_SENT = "not_sent"  # we kept the credentials back (no TLS, bad certificate, no mechanism)
    FAILED = "failed"  # could not get as far as an answer (connection, TLS, protocol error)


@dataclass(frozen=True)
class Target:
    """One server to log in to, from check's recommendation or from --imap/--pop3/--smtp."""

    protocol: str  # imap, pop3, smtp
    host: str
    port: int
    security: Security
    username: str
    source: str  # "check" (discovered and verified) or "option"
    oauth_only: bool = False  # the provider database lists OAuth2 as its only login

    @property
    def label(self) -> str:
        return f"{self.protocol}/{self.port}"


@dataclass
class Mailbox:
    name: str
    role: str | None  # sent, drafts, junk, trash, archive, all, flagged (RFC 6154), or None
    attributes: list[str] = field(default_factory=list)


@dataclass
class Quota:
    root: str
    resource: str  # STORAGE (KiB), MESSAGE, ...
    usage: int
    limit: int

    @property
    def percent(self) -> float:
        return round(100 * self.usage / self.limit, 1) if self.limit else 0.0


@dataclass
class ImapFacts:
    """What a helpdesk asks next, once IMAP login works."""

    capabilities: list[str] = field(default_factory=list)
    mailboxes: list[Mailbox] = field(default_factory=list)
    mailboxes_truncated: bool = False
    inbox_messages: int | None = None
    quota: list[Quota] = field(default_factory=list)
    idle: bool = False
    condstore: bool = False
    move: bool = False
    uidplus: bool = False
    errors: list[str] = field(default_factory=list)

    def role(self, role: str) -> str | None:
        return next((m.name for m in self.mailboxes if m.role == role), None)


@dataclass
class SmtpFacts:
    size_limit: int | None = None  # bytes, from EHLO SIZE; None: not advertised
    sender: str | None = None
    sender_accepted: bool | None = None  # None: not tried
    sender_reply: str | None = None


@dataclass
class LoginResult:
    target: Target
    outcome: Outcome
    mechanism: str | None = None  # PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, IMAP-LOGIN, USER
    address: str | None = None
    tls: TlsInfo | None = None
    offered: list[str] = field(default_factory=list)  # mechanisms after TLS
    reply: str | None = None  # the server's final answer to the login, redacted
    error: str | None = None  # why nothing could be checked (outcome FAILED)
    insecure: bool = False  # credentials crossed a channel whose certificate did not verify
    imap: ImapFacts | None = None
    smtp: SmtpFacts | None = None
    elapsed_ms: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def checked(self) -> bool:
        return self.outcome is not Outcome.FAILED


@dataclass
class LoginReport:
    address: str
    username: str
    results: list[LoginResult]
    findings: list[Finding]  # not tied to one service (e.g. nothing to log in to)
    started_at: str
    elapsed_ms: float = 0.0

    @property
    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for result in self.results:
            out.extend(result.findings)
        return out

    @property
    def checked(self) -> bool:
        return bool(self.results) and all(r.checked for r in self.results)

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.all_findings, checked=self.checked)

    @property
    def summary(self) -> dict[str, int]:
        return severity_counts(self.all_findings)

    @property
    def verdict(self) -> str:
        ok = sum(r.outcome is Outcome.OK for r in self.results)
        word = VERDICT_WORDS[self.exit_code]
        return f"{word} {self.address}: {ok} of {len(self.results)} login(s) work"


@dataclass
class Submission:
    target: Target
    accepted: bool = False
    reply: str | None = None  # the final reply to DATA (or the first refusal), redacted
    queue_id: str | None = None
    elapsed_ms: float = 0.0


@dataclass
class Arrival:
    folder: str | None = None  # where it landed; None: it never did
    role: str | None = None  # the folder's SPECIAL-USE role (junk, ...)
    seconds: float | None = None  # from the end of DATA to the moment we saw it
    method: str | None = None  # idle, poll, uidl
    uid: str | None = None  # IMAP UID or POP3 UIDL


@dataclass
class Cleanup:
    attempted: bool = False
    deleted: bool = False
    method: str | None = None  # "UID EXPUNGE", "EXPUNGE (only ours was deleted)", "DELE"
    note: str | None = None


@dataclass
class RoundtripReport:
    address: str
    sender: str
    recipient: str
    token: str
    message_id: str
    login: list[LoginResult]  # the logins the round trip needed
    submission: Submission | None
    watch: Target | None
    arrival: Arrival
    cleanup: Cleanup
    findings: list[Finding]
    started_at: str
    wait_seconds: float
    elapsed_ms: float = 0.0

    @property
    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for result in self.login:
            out.extend(result.findings)
        return out

    @property
    def checked(self) -> bool:
        return all(r.checked for r in self.login) and self.watch is not None

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.all_findings, checked=self.checked)

    @property
    def summary(self) -> dict[str, int]:
        return severity_counts(self.all_findings)

    @property
    def verdict(self) -> str:
        word = VERDICT_WORDS[self.exit_code]
        if self.arrival.folder is not None:
            where = self.arrival.folder
            return f"{word} {self.address}: arrived in {where} after {self.arrival.seconds:.2f} s"
        return f"{word} {self.address}: the test message did not arrive"
