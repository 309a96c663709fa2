"""A TCP connection whose every read is bounded in bytes and in time.

Mail servers on the internet can be hostile or broken: silent, drip-feeding, sending
a megabyte without a newline, resetting mid-handshake. A `Connection` turns each of
those into a `ProtocolError` (or `StepTimeout`) the probe can record, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from diag.model import ConnectAttempt, Reachability

LINE_LIMIT = 8192  # longest line accepted (RFC 5321 allows 512, IMAP lines are short)
REPLY_LINE_LIMIT = 200  # most lines accepted in one multi-line reply
REPLY_BYTE_LIMIT = 64 * 1024  # most bytes accepted in one multi-line reply


class ProtocolError(Exception):
    """The peer said something a correct server never says, or hung up."""


class StepTimeout(Exception):
    """A protocol step did not complete before its deadline."""


@dataclass
class Budget:
    """Per-step time limit: each protocol step (connect, greeting, a command) gets it."""

    seconds: float

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.seconds


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.local_address: str = writer.get_extra_info("sockname")[0]

    @contextlib.asynccontextmanager
    async def _step(self, deadline: float, late: str) -> AsyncIterator[None]:
        """One bounded step: a deadline, and every way the peer can fail as one outcome."""
        try:
            async with asyncio.timeout_at(deadline):
                yield
        except TimeoutError:
            raise StepTimeout(late) from None
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            raise ProtocolError(f"connection lost: {describe_os_error(exc)}") from None

    async def read_line(self, deadline: float) -> str:
        """One CRLF- or LF-terminated line, decoded leniently, without its terminator."""
        try:
            async with self._step(deadline, "no complete line before the deadline"):
                raw = await self._reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError(f"line longer than {LINE_LIMIT} bytes") from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise ProtocolError(
                    f"connection closed in the middle of a line: {_show(exc.partial)}"
                ) from None
            raise ProtocolError("connection closed by the server") from None
        return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")

    async def read_exactly(self, size: int, deadline: float) -> bytes:
        try:
            async with self._step(deadline, "the rest of the reply did not come in time"):
                return await self._reader.readexactly(size)
        except asyncio.IncompleteReadError:
            raise ProtocolError("connection closed before the end of the reply") from None

    async def read_to_eof(self, limit: int, deadline: float) -> bytes:
        """Everything until the peer closes, refusing more than `limit` bytes."""
        chunks: list[bytes] = []
        size = 0
        async with self._step(deadline, "the rest of the reply did not come in time"):
            while chunk := await self._reader.read(65536):
                size += len(chunk)
                if size > limit:
                    raise ProtocolError(f"reply larger than {limit} bytes")
                chunks.append(chunk)
        return b"".join(chunks)

    async def send_bytes(self, data: bytes, deadline: float) -> None:
        async with self._step(deadline, "the server did not accept our data in time"):
            self._writer.write(data)
            await self._writer.drain()

    async def send(self, line: str, deadline: float) -> None:
        await self.send_bytes(line.encode("ascii") + b"\r\n", deadline)

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, deadline: float
    ) -> ssl.SSLObject:
        """Upgrade in place (STARTTLS, or implicit TLS right after connect)."""
        loop = asyncio.get_running_loop()
        timeout = max(deadline - loop.time(), 0.01)
        try:
            async with asyncio.timeout_at(deadline + 0.5):
                await self._writer.start_tls(
                    context, server_hostname=server_hostname, ssl_handshake_timeout=timeout
                )
        except TimeoutError:
            raise StepTimeout("TLS handshake did not complete in time") from None
        except ssl.SSLError as exc:
            raise ProtocolError(describe_ssl_error(exc)) from None
        except (ConnectionError, OSError) as exc:
            reason = describe_os_error(exc)
            raise ProtocolError(f"connection lost during handshake: {reason}") from None
        ssl_object = self._writer.get_extra_info("ssl_object")
        if ssl_object is None:  # pragma: no cover - asyncio always sets it after start_tls
            raise ProtocolError("TLS handshake finished without a TLS session")
        return ssl_object

    async def close(self) -> None:
        self._writer.close()
        try:
            async with asyncio.timeout(1):
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass


async def connect(
    addresses: list[str], port: int, timeout: float
) -> tuple[Connection | None, list[ConnectAttempt]]:
    """Try each address in turn; return the first connection and every attempt made."""
    attempts: list[ConnectAttempt] = []
    loop = asyncio.get_running_loop()
    for address in addresses:
        start = loop.time()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(address, port, limit=LINE_LIMIT)
        except TimeoutError:
            attempts.append(ConnectAttempt(address, Reachability.TIMEOUT, error="no answer"))
            continue
        except ConnectionRefusedError:
            ms = (loop.time() - start) * 1000
            attempts.append(ConnectAttempt(address, Reachability.REFUSED, round(ms, 1), "refused"))
            continue
        except OSError as exc:
            attempts.append(
                ConnectAttempt(address, Reachability.UNREACHABLE, error=describe_os_error(exc))
            )
            continue
        ms = round((loop.time() - start) * 1000, 1)
        attempts.append(ConnectAttempt(address, Reachability.CONNECTED, ms))
        return Connection(reader, writer), attempts
    return None, attempts


def overall_reachability(attempts: list[ConnectAttempt]) -> Reachability:
    """The most useful single word for a set of failed attempts."""
    outcomes = {a.outcome for a in attempts}
    for outcome in (Reachability.CONNECTED, Reachability.REFUSED, Reachability.TIMEOUT):
        if outcome in outcomes:
            return outcome
    return Reachability.UNREACHABLE


def describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return f"{exc.strerror or name} ({name})"
    return str(exc) or type(exc).__name__


def describe_ssl_error(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(exc, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
        return "the server closed the connection during the TLS handshake"
    if reason:
        return reason.lower().replace("_", " ")
    return str(exc)


def _show(data: bytes, limit: int = 60) -> str:
    text = data[:limit].decode("utf-8", errors="replace")
    return repr(text) + ("..." if len(data) > limit else "")


def is_ip_literal(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            continue
    return False


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
