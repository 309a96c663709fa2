"""IMAP4rev1/rev2 (RFC 3501, RFC 9051): greeting, CAPABILITY, STARTTLS, LOGOUT."""

from __future__ import annotations

import re

from diag.model import AuthOffer, Greeting
from diag.net.connection import Connection, ProtocolError
from diag.protocols.base import PLAINTEXT_SASL, Dialect, LineBudget, Reply
from diag.quoting import quoted

_GREETING = re.compile(r"^\* (OK|PREAUTH|BYE)\b ?(.*)$", re.IGNORECASE)
_CAPABILITY_CODE = re.compile(r"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)


class Imap(Dialect):
    name = "imap"
    starttls_capability = "STARTTLS"

    def __init__(self) -> None:
        self._tag = 0
        self.greeting_capabilities: list[str] = []

    def _next_tag(self) -> str:
        self._tag += 1
        return f"md{self._tag}"

    async def greeting(self, conn: Connection, deadline: float) -> Greeting:
        line = await conn.read_line(deadline)
        match = _GREETING.match(line)
        if not match:
            raise ProtocolError(f"not an IMAP greeting: {quoted(line, 120)}")
        status = match.group(1).upper()
        code = _CAPABILITY_CODE.search(line)
        if code:
            self.greeting_capabilities = code.group(1).split()
        return Greeting(ok=status != "BYE", status=status, text=line)

    async def _command(self, conn: Connection, command: str, deadline: float) -> Reply:
        """Send a tagged command; collect untagged lines until its tagged completion."""
        tag = self._next_tag()
        await conn.send(f"{tag} {command}", deadline)
        budget = LineBudget()
        lines: list[str] = []
        while True:
            line = await conn.read_line(deadline)
            budget.take(line)
            if line.startswith(f"{tag} "):
                status = line[len(tag) + 1 :].split(" ", 1)[0].upper()
                if status not in ("OK", "NO", "BAD"):
                    raise ProtocolError(f"malformed tagged reply: {quoted(line, 120)}")
                lines.append(line)
                return Reply(ok=status == "OK", lines=lines)
            if not line.startswith(("* ", "+")):
                raise ProtocolError(f"unexpected IMAP line: {quoted(line, 120)}")
            lines.append(line)

    async def capabilities(self, conn: Connection, deadline: float) -> Reply:
        reply = await self._command(conn, "CAPABILITY", deadline)
        caps: list[str] = []
        for line in reply.lines:
            if line.upper().startswith("* CAPABILITY "):
                caps.extend(line.split()[2:])
        if reply.ok and not caps:
            # Some servers only send the capabilities as a response code on the OK.
            code = _CAPABILITY_CODE.search(reply.lines[-1])
            caps = code.group(1).split() if code else []
        return Reply(ok=reply.ok, lines=caps if reply.ok else reply.lines)

    async def starttls(self, conn: Connection, deadline: float) -> Reply:
        return await self._command(conn, "STARTTLS", deadline)

    async def quit(self, conn: Connection, deadline: float) -> None:
        await self._command(conn, "LOGOUT", deadline)

    def auth_offer(self, capabilities: list[str]) -> AuthOffer:
        upper = [c.upper() for c in capabilities]
        mechanisms = [c.split("=", 1)[1] for c in upper if c.startswith("AUTH=")]
        login_disabled = "LOGINDISABLED" in upper
        plaintext = not login_disabled or bool(PLAINTEXT_SASL.intersection(mechanisms))
        return AuthOffer(
            mechanisms=mechanisms, plaintext_login=plaintext, login_disabled=login_disabled
        )
