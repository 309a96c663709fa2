"""One authenticated session per target: channel, mechanism, login, refusal explained.

`log_in` returns the LoginResult and, when asked, the open session, so `roundtrip`
can keep using the connection it proved works.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from diag.account import refusals
from diag.account.channel import Channel, ChannelOptions, open_channel
from diag.account.imap import ImapClient, gather_facts
from diag.account.model import LoginResult, Outcome, SmtpFacts, Target
from diag.account.pop3 import Pop3Client
from diag.account.sasl import choose, make
from diag.account.secret import Secret
from diag.account.smtp import SmtpClient, size_limit
from diag.findings.catalogue import CATALOGUE, finding
from diag.model import DnsResult, Finding
from diag.net.connection import ProtocolError, StepTimeout, elapsed_ms

Client = ImapClient | Pop3Client | SmtpClient


@dataclass
class Credentials:
    secret: Secret
    oauth: bool = False  # the secret is a bearer token (--oauth-token-env)


@dataclass
class Session:
    channel: Channel
    client: Client

    async def close(self) -> None:
        await self.channel.close()


async def log_in(
    target: Target,
    dns: DnsResult,
    credentials: Credentials,
    options: ChannelOptions,
    *,
    keep_open: bool = False,
    facts: bool = False,
    sender: str | None = None,
) -> tuple[LoginResult, Session | None]:
    """Log in to one target; every failure is recorded on the result, none escapes."""
    clock = time.perf_counter()
    result = LoginResult(target, Outcome.FAILED)
    session: Session | None = None
    channel = await open_channel(target, dns, result, options)
    if channel is not None:
        try:
            session = await _authenticate(channel, target, credentials, result, options.timeout)
            if session is not None and facts:
                await _facts(session, result, sender or target.username)
        except StepTimeout as exc:
            result.outcome = Outcome.FAILED
            result.error = f"timed out during the login: {exc}"
        except ProtocolError as exc:
            result.outcome = Outcome.FAILED
            result.error = f"the login did not complete: {exc}"
        if session is None or not keep_open:
            await channel.close()
            session = None
    if result.outcome is Outcome.FAILED:
        result.findings.append(
            finding(
                "auth.connection_failed",
                target.label,
                f"the login to {target.host} could not be tested",
                result.error or "",
            )
        )
    scrub(result, credentials.secret)
    result.elapsed_ms = elapsed_ms(clock)
    return result, session if result.outcome is Outcome.OK else None


def scrub(result: LoginResult, secret: Secret) -> None:
    """Every piece of server text on the result, with the secret's forms replaced by ***."""
    result.error = secret.redact(result.error) if result.error else result.error
    result.reply = secret.redact(result.reply) if result.reply else result.reply
    if result.imap is not None:
        result.imap.errors = [secret.redact(e) for e in result.imap.errors]
    if result.smtp is not None and result.smtp.sender_reply:
        result.smtp.sender_reply = secret.redact(result.smtp.sender_reply)
    result.findings = scrub_findings(result.findings, secret)


def scrub_findings(findings: list[Finding], secret: Secret) -> list[Finding]:
    return [
        dataclasses.replace(f, message=secret.redact(f.message), evidence=secret.redact(f.evidence))
        for f in findings
    ]


async def _authenticate(
    channel: Channel, target: Target, credentials: Credentials, result: LoginResult, seconds: float
) -> Session | None:
    label = target.label
    if target.oauth_only and not credentials.oauth:
        _refuse(
            result,
            "auth.oauth_required",
            label,
            "the provider accepts only OAuth2 logins",
            "provider database: OAuth2 only",
        )
        return None
    protocol = target.protocol
    caps = channel.stage.capabilities
    upper = [c.upper() for c in caps]
    offer = channel.stage.auth
    if protocol == "imap":
        legacy = not offer.login_disabled
    elif protocol == "pop3":
        legacy = offer.plaintext_login or not caps  # no CAPA: USER/PASS is the RFC 1939 way
    else:
        legacy = False
    choice = choose(
        offer.mechanisms,
        oauth=credentials.oauth,
        legacy_login=legacy and not credentials.oauth,
        legacy_name="IMAP-LOGIN" if protocol == "imap" else "USER",
    )
    if choice.mechanism is None:
        mechanisms = " ".join(offer.mechanisms) or "none"
        if choice.oauth_only:
            _refuse(
                result,
                "auth.oauth_required",
                label,
                "the server offers only OAuth2 logins (XOAUTH2/OAUTHBEARER)",
                f"mechanisms offered: {mechanisms}",
            )
        else:
            wanted = "an OAuth2 mechanism" if credentials.oauth else "a password mechanism"
            _refuse(
                result,
                "auth.mechanism_unsupported",
                label,
                f"the server offers no {wanted} maildiag can use",
                f"mechanisms offered: {mechanisms}"
                + ("; LOGINDISABLED" if "LOGINDISABLED" in upper else ""),
            )
        result.outcome = Outcome.NOT_SENT
        return None
    result.mechanism = choice.mechanism
    username = target.username
    secret = credentials.secret
    mechanism = (
        make(choice.mechanism, username, secret, target.host, target.port)
        if choice.mechanism not in ("IMAP-LOGIN", "USER")
        else None
    )
    if protocol == "imap":
        client: Client = ImapClient(channel.conn, seconds)
        client.capabilities = list(caps)
        if mechanism is None:
            response = await client.login(username, secret)
        else:
            response = await client.authenticate(mechanism, "SASL-IR" in upper)
        ok, text, status = response.status == "OK", response.text, response.status
    elif protocol == "pop3":
        client = Pop3Client(channel.conn, seconds)
        if mechanism is None:
            ok, text = await client.user_pass(username, secret)
        else:
            ok, text = await client.authenticate(mechanism)
        status = "+OK" if ok else "-ERR"
    else:
        client = SmtpClient(channel.conn, seconds)
        code, text = await client.authenticate(mechanism)  # type: ignore[arg-type]
        ok, status = code == 235, code
    result.reply = secret.redact(text)[:1000]
    if ok:
        result.outcome = Outcome.OK
        return Session(channel, client)
    code = refusals.classify(protocol, result.reply, status)
    _refuse(result, code, label, CATALOGUE[code].title, result.reply)
    result.outcome = Outcome.REFUSED
    return None


def _refuse(result: LoginResult, code: str, label: str, message: str, evidence: str) -> None:
    result.outcome = Outcome.NOT_SENT
    result.findings.append(finding(code, label, message, evidence))


async def _facts(session: Session, result: LoginResult, sender: str) -> None:
    """IMAP: mailboxes, count, quota, capabilities. SMTP: SIZE, and MAIL FROM then RSET."""
    client = session.client
    label = result.target.label
    if isinstance(client, ImapClient):
        result.imap = await gather_facts(client)
        for quota in result.imap.quota:
            if quota.limit and quota.percent >= 90:
                result.findings.append(
                    finding(
                        "imap.quota_nearly_full",
                        label,
                        f"the mailbox is {quota.percent:.0f}% full ({quota.resource})",
                        f"{quota.root}: {quota.resource} {quota.usage} of {quota.limit}",
                    )
                )
    elif isinstance(client, SmtpClient):
        facts = SmtpFacts(size_limit=size_limit(session.channel.stage.capabilities), sender=sender)
        code, text = await client.command(f"MAIL FROM:<{sender}>")
        facts.sender_accepted = code == 250
        facts.sender_reply = text[:500]
        await client.command("RSET")
        result.smtp = facts
        if not facts.sender_accepted:
            result.findings.append(
                finding(
                    "smtp.sender_refused",
                    label,
                    f"the server does not accept {sender} as sender",
                    text[:500],
                )
            )
