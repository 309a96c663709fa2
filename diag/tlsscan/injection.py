"""STARTTLS command injection (CVE-2011-0411 class), tested on a connection of its own.

STARTTLS and one harmless command go out in a single write. A correct server throws
away what followed STARTTLS in plaintext (or hangs up, as Dovecot does); a vulnerable
one answers the command inside TLS, so a man in the middle could inject commands into
the encrypted session.
"""

from __future__ import annotations

import asyncio

from diag.model import TlsInfo
from diag.net.connection import Budget, Connection, ProtocolError, StepTimeout, connect
from diag.protocols import dialect_for
from diag.protocols.base import LineBudget
from diag.protocols.smtp import read_reply
from diag.tls.context import probe_context
from diag.tlsscan.scan import while_busy

# What each protocol sends: STARTTLS and the injected command, then (inside TLS) goodbye.
_PIPELINE = {
    "smtp": b"STARTTLS\r\nNOOP\r\n",
    "imap": b"s1 STARTTLS\r\nx NOOP\r\n",
    "pop3": b"STLS\r\nNOOP\r\n",
}
_GOODBYE = {"smtp": "QUIT", "imap": "y LOGOUT", "pop3": "QUIT"}
_MAX_REPLIES = 8


_BUSY = "busy"  # the server turned the session away: asked again, as the scanner does


async def injection_test(
    address: str,
    port: int,
    protocol: str,
    sni: str | None,
    budget: Budget,
    main: asyncio.Future[TlsInfo | None] | None = None,
) -> bool | None:
    """True: injectable; False: not (or hung up, correctly); None: could not test.

    A refusal greeting is tried again as the scanner's hellos are (while_busy), only
    when the main session (`main`) got its TLS session."""
    outcome, _ = await while_busy(
        lambda: _once(address, port, protocol, sni, budget),
        lambda outcome: outcome == _BUSY,
        budget,
        main,
    )
    return None if outcome == _BUSY else outcome  # type: ignore[return-value]


async def _once(
    address: str, port: int, protocol: str, sni: str | None, budget: Budget
) -> bool | str | None:
    conn, _ = await connect([address], port, budget.seconds, deadline=budget.until)
    if conn is None:
        return None
    try:
        return await _test(conn, protocol, sni, budget)
    except (StepTimeout, ProtocolError):
        return None
    finally:
        await conn.close()


async def _test(
    conn: Connection, protocol: str, sni: str | None, budget: Budget
) -> bool | str | None:
    dialect = dialect_for(protocol)
    greeting = await dialect.greeting(conn, budget.deadline())
    if not greeting.ok:
        return _BUSY
    if protocol == "smtp":
        await dialect.capabilities(conn, budget.deadline())
    await conn.send_bytes(_PIPELINE[protocol], budget.deadline())
    if not await _go_ahead(conn, protocol, budget):
        return None
    conn.take_buffered()  # a plaintext answer to our own NOOP proves nothing
    try:
        await conn.start_tls(probe_context(), sni, budget.deadline())
    except (StepTimeout, ProtocolError):
        return False  # hanging up on pipelined data is the correct behaviour
    await conn.send(_GOODBYE[protocol], budget.deadline())
    return await _answered_injected(conn, protocol, budget)


async def _go_ahead(conn: Connection, protocol: str, budget: Budget) -> bool:
    if protocol == "smtp":
        code, _ = await read_reply(conn, budget.deadline())
        return code == 220
    if protocol == "pop3":
        return (await conn.read_line(budget.deadline())).startswith("+OK")
    lines = LineBudget()
    while True:
        line = await conn.read_line(budget.deadline())
        lines.take(line)
        if line.startswith("s1 "):
            return line[3:].upper().startswith("OK")


async def _answered_injected(conn: Connection, protocol: str, budget: Budget) -> bool:
    """Read what comes inside TLS up to the goodbye: was the injected command answered?"""
    replies = 0
    try:
        for _ in range(_MAX_REPLIES):
            if protocol == "smtp":
                code, _ = await read_reply(conn, budget.deadline())
                if code == 221 and replies == 0:
                    return False
                replies += 1
                if code == 221:
                    return True
                continue
            line = await conn.read_line(budget.deadline())
            if protocol == "imap":
                if line.startswith("x "):
                    return True
                if line.startswith("y "):
                    return False
            elif line.startswith(("+OK", "-ERR")):
                replies += 1
                if replies > 1:
                    return True
    except (StepTimeout, ProtocolError):
        pass  # the server closed after the goodbye: judge on what came
    return replies > 1
