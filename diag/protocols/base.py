"""The shape every mail protocol module shares.

A dialect knows how to read its greeting, ask for capabilities, request STARTTLS and
say goodbye, each reply read whole by the protocol's own framing. It sends nothing
else: no credentials, no mail, nothing but harmless session commands.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from diag.model import AuthOffer, Greeting
from diag.net.connection import REPLY_BYTE_LIMIT, REPLY_LINE_LIMIT, Connection, ProtocolError


@dataclass
class Reply:
    ok: bool
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Dialect(ABC):
    name: str
    starttls_capability: str  # how the capability list advertises the upgrade

    @abstractmethod
    async def greeting(self, conn: Connection, deadline: float) -> Greeting: ...

    @abstractmethod
    async def capabilities(self, conn: Connection, deadline: float) -> Reply:
        """Ask for the capability list; Reply.lines holds one capability per entry."""

    @abstractmethod
    async def starttls(self, conn: Connection, deadline: float) -> Reply: ...

    @abstractmethod
    async def quit(self, conn: Connection, deadline: float) -> None: ...

    @abstractmethod
    def auth_offer(self, capabilities: list[str]) -> AuthOffer: ...

    def advertises_starttls(self, capabilities: list[str]) -> bool:
        return any(c.upper() == self.starttls_capability for c in capabilities)


class LineBudget:
    """Counts the lines and bytes of one reply, so no reply can grow without bound."""

    def __init__(self) -> None:
        self.lines = 0
        self.size = 0

    def take(self, line: str) -> None:
        self.lines += 1
        self.size += len(line)
        if self.lines > REPLY_LINE_LIMIT or self.size > REPLY_BYTE_LIMIT:
            raise ProtocolError(
                f"reply longer than {REPLY_LINE_LIMIT} lines or {REPLY_BYTE_LIMIT} bytes"
            )


def sasl_mechanisms(words: list[str]) -> list[str]:
    return [w.upper() for w in words if w]


PLAINTEXT_SASL = frozenset({"PLAIN", "LOGIN"})
