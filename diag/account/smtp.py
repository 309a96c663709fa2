"""SMTP submission after EHLO: AUTH (RFC 4954), sender check, one small message."""

from __future__ import annotations

import asyncio
import re

from diag.account.sasl import Mechanism, decode_challenge
from diag.net.connection import Connection, ProtocolError
from diag.protocols.smtp import read_reply

# "250 2.0.0 Ok: queued as 4Xyz" (Postfix), "250 OK id=1abc-0002-xy" (Exim),
# "250 2.0.0 <id> Queued mail for delivery" (Exchange), "250 2.0.0 OK  1700000000 x1-abc - gsmtp"
_QUEUE_ID = (
    re.compile(r"queued as ([A-Za-z0-9._-]+)", re.IGNORECASE),
    re.compile(r"\bid=([A-Za-z0-9._-]+)", re.IGNORECASE),
    re.compile(r"<([^>\s]{1,200})>\s+queued", re.IGNORECASE),
    re.compile(r"OK\s+\d{9,}\s+([A-Za-z0-9._-]+)", re.IGNORECASE),
)


class SmtpClient:
    def __init__(self, conn: Connection, budget_seconds: float) -> None:
        self.conn = conn
        self.seconds = budget_seconds

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.seconds

    async def command(self, command: str) -> tuple[int, str]:
        deadline = self.deadline()
        await self.conn.send(command, deadline)
        code, texts = await read_reply(self.conn, deadline)
        return code, "\n".join(f"{code} {t}" for t in texts)

    async def authenticate(self, mechanism: Mechanism) -> tuple[int, str]:
        deadline = self.deadline()
        initial = mechanism.initial() if mechanism.initial_response else None
        command = f"AUTH {mechanism.name}"
        if initial is not None:
            command += " " + (mechanism.encoded(initial) if initial else "=")
        await self.conn.send(command, deadline)
        for _ in range(6):
            code, texts = await read_reply(self.conn, deadline)
            if code != 334:
                return code, "\n".join(f"{code} {t}" for t in texts)
            answer = mechanism.respond(decode_challenge(texts[0] if texts else ""))
            if answer is None:
                await self.conn.send("*", deadline)
            else:
                await self.conn.send(mechanism.encoded(answer) if answer else "", deadline)
        raise ProtocolError("the AUTH exchange did not end")

    async def send_message(
        self, sender: str, recipient: str, message: bytes
    ) -> tuple[bool, str, str | None]:
        """(accepted, final reply, queue id). The message is already dot-stuffed, CRLF."""
        code, text = await self.command(f"MAIL FROM:<{sender}>")
        if code != 250:
            return False, text, None
        code, text = await self.command(f"RCPT TO:<{recipient}>")
        if code not in (250, 251):
            await self.command("RSET")
            return False, text, None
        code, text = await self.command("DATA")
        if code != 354:
            return False, text, None
        deadline = self.deadline()
        await self.conn.send_bytes(message + b".\r\n", deadline)
        code, texts = await read_reply(self.conn, deadline)
        text = "\n".join(f"{code} {t}" for t in texts)
        return code == 250, text, queue_id(text) if code == 250 else None


def queue_id(reply: str) -> str | None:
    for pattern in _QUEUE_ID:
        match = pattern.search(reply)
        if match:
            return match.group(1)
    return None


def size_limit(capabilities: list[str]) -> int | None:
    for cap in capabilities:
        words = cap.split()
        if words and words[0].upper() == "SIZE":
            if len(words) > 1 and words[1].isdigit():
                return int(words[1])
            return 0  # advertised without a number: no fixed limit
    return None
