"""SMTP (RFC 5321) with EHLO, STARTTLS (RFC 3207) and AUTH (RFC 4954)."""

from __future__ import annotations

import ipaddress

from diag.model import AuthOffer, Greeting
from diag.net.connection import Connection, ProtocolError
from diag.protocols.base import PLAINTEXT_SASL, Dialect, LineBudget, Reply, sasl_mechanisms
from diag.quoting import quoted


async def read_reply(conn: Connection, deadline: float) -> tuple[int, list[str]]:
    """A whole reply: `250-...` continuation lines up to the final `250 ...` line."""
    budget = LineBudget()
    code: str | None = None
    texts: list[str] = []
    while True:
        line = await conn.read_line(deadline)
        budget.take(line)
        if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
            raise ProtocolError(f"not an SMTP reply line: {quoted(line, 120)}")
        if code is not None and line[:3] != code:
            raise ProtocolError(f"reply code changed mid-reply: {code} then {line[:3]}")
        code = line[:3]
        texts.append(line[4:])
        if len(line) == 3 or line[3] == " ":
            return int(code), texts


class Smtp(Dialect):
    name = "smtp"
    starttls_capability = "STARTTLS"

    async def greeting(self, conn: Connection, deadline: float) -> Greeting:
        code, texts = await read_reply(conn, deadline)
        return Greeting(ok=code == 220, status=str(code), text="\n".join(texts))

    async def _command(self, conn: Connection, command: str, deadline: float) -> tuple[int, list]:
        await conn.send(command, deadline)
        return await read_reply(conn, deadline)

    async def capabilities(self, conn: Connection, deadline: float) -> Reply:
        code, texts = await self._command(conn, f"EHLO {_ehlo_name(conn)}", deadline)
        if code == 250:
            return Reply(ok=True, lines=texts[1:])  # the first line is the server's name
        # An RFC 821 server: HELO still works, but it advertises nothing.
        await self._command(conn, f"HELO {_ehlo_name(conn)}", deadline)
        return Reply(ok=False, lines=[f"EHLO refused: {code} {' '.join(texts)}"])

    async def starttls(self, conn: Connection, deadline: float) -> Reply:
        code, texts = await self._command(conn, "STARTTLS", deadline)
        return Reply(ok=code == 220, lines=[f"{code} {t}" for t in texts])

    async def quit(self, conn: Connection, deadline: float) -> None:
        await self._command(conn, "QUIT", deadline)

    def auth_offer(self, capabilities: list[str]) -> AuthOffer:
        mechanisms: list[str] = []
        for cap in capabilities:
            words = cap.split()
            if not words:
                continue
            keyword = words[0].upper()
            if keyword == "AUTH":
                mechanisms.extend(sasl_mechanisms(words[1:]))
            elif keyword.startswith("AUTH="):  # pre-RFC 4954 form some servers still send
                mechanisms.extend(sasl_mechanisms([keyword[5:], *words[1:]]))
        mechanisms = list(dict.fromkeys(mechanisms))
        return AuthOffer(
            mechanisms=mechanisms, plaintext_login=bool(PLAINTEXT_SASL.intersection(mechanisms))
        )


def _ehlo_name(conn: Connection) -> str:
    """An address literal of our own end (RFC 5321 4.1.3): we have no host name to claim."""
    try:
        address = ipaddress.ip_address(conn.local_address)
    except ValueError:
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"
