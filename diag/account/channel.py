"""Open a channel fit for credentials: connected, greeted, encrypted, certificate checked.

Reuses the probe's steps (connect, greeting, capabilities, STARTTLS, handshake with
chain and name verdicts). The only decision made here is the one that matters: are
credentials allowed on this channel? Plain text never; an unverified certificate only
with --insecure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diag.account.model import LoginResult, Outcome, Target
from diag.findings.catalogue import finding
from diag.model import DnsResult, Security, Stage
from diag.net.connection import Budget, Connection, ProtocolError, StepTimeout, connect
from diag.probe import capability_stage, handshake, request_starttls
from diag.protocols import dialect_for
from diag.protocols.base import Dialect

if TYPE_CHECKING:
    from diag.tls.trust import TrustStore


@dataclass
class Channel:
    conn: Connection
    dialect: Dialect
    stage: Stage  # capabilities after TLS
    budget: Budget

    async def close(self) -> None:
        with contextlib.suppress(StepTimeout, ProtocolError):
            await self.dialect.quit(self.conn, self.budget.deadline())
        await self.conn.close()


@dataclass(frozen=True)
class ChannelOptions:
    timeout: float
    store: Callable[[], TrustStore]  # built when the first certificate needs judging
    insecure: bool = False


async def open_channel(
    target: Target, dns: DnsResult, result: LoginResult, options: ChannelOptions
) -> Channel | None:
    """A channel ready for credentials, or None with `result` saying why not."""
    budget = Budget(options.timeout)
    if not dns.addresses:
        result.outcome = Outcome.FAILED
        result.error = f"{target.host}: {dns.error or 'no address'}"
        return None
    conn, attempts = await connect(dns.addresses, target.port, options.timeout)
    if conn is None:
        result.outcome = Outcome.FAILED
        errors = "; ".join(f"{a.address}: {a.error or a.outcome.value}" for a in attempts)
        result.error = f"cannot connect to {target.host} port {target.port}: {errors}"
        return None
    result.address = attempts[-1].address
    ok = False
    try:
        channel = await _negotiate(conn, target, dns, result, options, budget)
        ok = channel is not None
        return channel
    except StepTimeout as exc:
        result.outcome, result.error = Outcome.FAILED, f"timed out: {exc}"
    except ProtocolError as exc:
        result.outcome, result.error = Outcome.FAILED, str(exc)
    finally:
        if not ok:
            await conn.close()
    return None


async def _negotiate(
    conn: Connection,
    target: Target,
    dns: DnsResult,
    result: LoginResult,
    options: ChannelOptions,
    budget: Budget,
) -> Channel | None:
    dialect = dialect_for(target.protocol)
    sni = None if dns.is_literal else target.host
    label = target.label
    if target.security is Security.TLS:
        result.tls = await handshake(conn, target.host, sni, budget, options.store)
        if not result.tls.ok:
            return _failed(result, f"TLS handshake failed: {result.tls.error}")
    greeting = await dialect.greeting(conn, budget.deadline())
    if not greeting.ok:
        return _failed(result, f"the server refused the session: {greeting.text[:200]}")
    stage = await capability_stage(dialect, conn, budget)
    if target.security is not Security.TLS:
        if target.security is Security.PLAIN or not dialect.advertises_starttls(stage.capabilities):
            _plaintext_refused(result, label, target, stage)
            await Channel(conn, dialect, stage, budget).close()
            return None
        starttls = await request_starttls(dialect, conn, stage, budget)
        if not starttls.ok:
            return _failed(result, starttls.error or "STARTTLS failed")
        result.tls = await handshake(conn, target.host, sni, budget, options.store)
        if not result.tls.ok:
            return _failed(result, f"TLS handshake failed: {result.tls.error}")
        stage = await capability_stage(dialect, conn, budget)
    trust = result.tls.trust if result.tls else None
    verified = bool(trust and trust.trusted and trust.hostname_matches)
    if not verified:
        reason = _trust_reason(result)
        if not options.insecure:
            result.outcome = Outcome.NOT_SENT
            result.findings.append(
                finding(
                    "auth.unverified_refused",
                    label,
                    f"credentials not sent: the certificate of {target.host} is not trusted for it",
                    reason,
                )
            )
            await Channel(conn, dialect, stage, budget).close()
            return None
        result.insecure = True
        result.findings.append(
            finding(
                "auth.insecure_channel",
                label,
                "--insecure: the password crossed a channel whose certificate did not verify",
                reason,
            )
        )
    result.offered = list(stage.auth.mechanisms)
    return Channel(conn, dialect, stage, budget)


def _failed(result: LoginResult, error: str) -> None:
    result.outcome = Outcome.FAILED
    result.error = error
    return None


def _plaintext_refused(result: LoginResult, label: str, target: Target, stage: Stage) -> None:
    result.outcome = Outcome.NOT_SENT
    why = (
        "the service is configured without encryption"
        if target.security is Security.PLAIN
        else "the server does not offer STARTTLS"
    )
    result.findings.append(
        finding(
            "auth.plaintext_refused",
            label,
            f"credentials not sent to {target.host}: {why}",
            "capabilities: " + (" ".join(stage.capabilities)[:300] or "(none)"),
        )
    )


def _trust_reason(result: LoginResult) -> str:
    trust = result.tls.trust if result.tls else None
    if trust is None:
        return "could not be checked"
    if not trust.trusted:
        return f"does not verify ({trust.error or 'untrusted'})"
    names = ", ".join(trust.valid_names[:5]) or "no names"
    return f"is not valid for {trust.hostname_checked} (valid for {names})"
