"""POP3 (RFC 1939) with CAPA and STLS (RFC 2449, RFC 2595)."""

from __future__ import annotations

from diag.model import AuthOffer, Greeting
from diag.net.connection import Connection, ProtocolError
from diag.protocols.base import PLAINTEXT_SASL, Dialect, LineBudget, Reply, sasl_mechanisms
from diag.quoting import quoted


class Pop3(Dialect):
    name = "pop3"
    starttls_capability = "STLS"

    async def greeting(self, conn: Connection, deadline: float) -> Greeting:
        line = await conn.read_line(deadline)
        if line.startswith("+OK"):
            return Greeting(ok=True, status="+OK", text=line)
        if line.startswith("-ERR"):
            return Greeting(ok=False, status="-ERR", text=line)
        raise ProtocolError(f"not a POP3 greeting: {quoted(line, 120)}")

    async def _status(self, conn: Connection, command: str, deadline: float) -> Reply:
        await conn.send(command, deadline)
        line = await conn.read_line(deadline)
        if not line.startswith(("+OK", "-ERR")):
            raise ProtocolError(f"malformed POP3 reply to {command}: {quoted(line, 120)}")
        return Reply(ok=line.startswith("+OK"), lines=[line])

    async def capabilities(self, conn: Connection, deadline: float) -> Reply:
        status = await self._status(conn, "CAPA", deadline)
        if not status.ok:
            return status  # a pre-RFC 2449 server: no capability list
        budget = LineBudget()
        caps: list[str] = []
        while True:
            line = await conn.read_line(deadline)
            budget.take(line)
            if line == ".":
                return Reply(ok=True, lines=caps)
            caps.append(line[1:] if line.startswith("..") else line)

    async def starttls(self, conn: Connection, deadline: float) -> Reply:
        return await self._status(conn, "STLS", deadline)

    async def quit(self, conn: Connection, deadline: float) -> None:
        await self._status(conn, "QUIT", deadline)

    def auth_offer(self, capabilities: list[str]) -> AuthOffer:
        mechanisms: list[str] = []
        user = False
        for cap in capabilities:
            words = cap.split()
            if not words:
                continue
            keyword = words[0].upper()
            if keyword == "SASL":
                mechanisms = sasl_mechanisms(words[1:])
            elif keyword == "USER":
                user = True
        plaintext = user or bool(PLAINTEXT_SASL.intersection(mechanisms))
        return AuthOffer(mechanisms=mechanisms, plaintext_login=plaintext)
