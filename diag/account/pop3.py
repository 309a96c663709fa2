"""POP3 after the greeting: USER/PASS or AUTH (RFC 5034), UIDL, TOP, DELE."""

from __future__ import annotations

import asyncio

from diag.account.sasl import Mechanism, decode_challenge
from diag.account.secret import Secret
from diag.net.connection import Connection, ProtocolError

LIST_LINES = 100_000  # UIDL of a big maildrop
LIST_BYTES = 4 * 1024 * 1024
HEADER_LINES = 500
HEADER_BYTES = 64 * 1024


class Pop3Client:
    def __init__(self, conn: Connection, budget_seconds: float) -> None:
        self.conn = conn
        self.seconds = budget_seconds

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.seconds

    async def status(self, command: str, deadline: float | None = None) -> tuple[bool, str]:
        deadline = deadline or self.deadline()
        await self.conn.send(command, deadline)
        return await self._status_line(deadline)

    async def _status_line(self, deadline: float) -> tuple[bool, str]:
        line = await self.conn.read_line(deadline)
        if line.startswith("+OK"):
            return True, line
        if line.startswith("-ERR"):
            return False, line
        raise ProtocolError(f"malformed POP3 reply: {line[:120]!r}")

    async def multiline(self, command: str, lines: int, size: int) -> list[str] | None:
        deadline = self.deadline()
        ok, _ = await self.status(command, deadline)
        if not ok:
            return None
        out: list[str] = []
        total = 0
        while True:
            line = await self.conn.read_line(deadline)
            if line == ".":
                return out
            total += len(line)
            if len(out) >= lines or total > size:
                raise ProtocolError(f"POP3 reply to {command.split()[0]} too long")
            out.append(line[1:] if line.startswith("..") else line)

    async def user_pass(self, username: str, secret: Secret) -> tuple[bool, str]:
        ok, line = await self.status(f"USER {username}")
        if not ok:
            return False, line
        deadline = self.deadline()
        await self.conn.send_bytes(f"PASS {secret.reveal()}\r\n".encode(), deadline)
        return await self._status_line(deadline)

    async def authenticate(self, mechanism: Mechanism) -> tuple[bool, str]:
        deadline = self.deadline()
        initial = mechanism.initial() if mechanism.initial_response else None
        command = f"AUTH {mechanism.name}"
        if initial is not None:  # RFC 5034: the initial response may follow the name
            command += " " + (mechanism.encoded(initial) if initial else "=")
        await self.conn.send(command, deadline)
        for _ in range(6):
            line = await self.conn.read_line(deadline)
            if line.startswith(("+OK", "-ERR")):
                return line.startswith("+OK"), line
            if not line.startswith("+"):
                raise ProtocolError(f"malformed POP3 reply to AUTH: {line[:120]!r}")
            answer = mechanism.respond(decode_challenge(line[1:].strip()))
            if answer is None:
                await self.conn.send("*", deadline)
            else:
                await self.conn.send(mechanism.encoded(answer) if answer else "", deadline)
        raise ProtocolError("the AUTH exchange did not end")

    async def uidl(self) -> dict[str, int]:
        """UIDL -> message number."""
        lines = await self.multiline("UIDL", LIST_LINES, LIST_BYTES)
        if lines is None:
            raise ProtocolError("the server refused UIDL")
        out: dict[str, int] = {}
        for line in lines:
            number, _, uid = line.partition(" ")
            if number.isdigit() and uid:
                out[uid.strip()] = int(number)
        return out

    async def headers(self, number: int) -> list[str]:
        lines = await self.multiline(f"TOP {number} 0", HEADER_LINES, HEADER_BYTES)
        return lines or []
