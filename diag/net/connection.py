"""A TCP connection whose every read is bounded in bytes and in time.

Mail servers on the internet can be hostile or broken: silent, drip-feeding, sending
a megabyte without a newline, resetting mid-handshake. A `Connection` turns each of
those into a `ProtocolError` (or `StepTimeout`) the probe can record, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import socket
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from diag.model import ConnectAttempt, Reachability

LINE_LIMIT = 8192  # longest line accepted (RFC 5321 allows 512, IMAP lines are short)
REPLY_LINE_LIMIT = 200  # most lines accepted in one multi-line reply
REPLY_BYTE_LIMIT = 64 * 1024  # most bytes accepted in one multi-line reply

# Amplification limits: a hostile domain must not turn the tool into a flood.
MAX_CONNECTIONS_PER_ADDRESS = 8  # simultaneous connections to one IP address, all callers
MAX_ADDRESSES_PER_HOST = 10  # addresses of one host tried for one connection
CONNECT_STAGGER = 0.25  # seconds between racing attempts (RFC 8305 "Connection Attempt Delay")


# A caller running many checks at once (the bulk scanner) sets a gate that every new
# connection passes through: `await gate(address)` waits for a free slot for that address
# and returns the function that gives it back when the connection closes. Unset: no limit.
Gate = Callable[[str], Awaitable[Callable[[], None]]]
connection_gate: contextvars.ContextVar[Gate | None] = contextvars.ContextVar(
    "connection_gate", default=None
)


class ProtocolError(Exception):
    """The peer said something a correct server never says, or hung up."""


class StepTimeout(Exception):
    """A protocol step did not complete before its deadline."""


@dataclass
class Budget:
    """Time limits of one exchange: `seconds` per step (connect, greeting, a command),
    and, when `until` is set, a total deadline (event-loop time) no step can pass.

    The per-step limit alone is not enough: a peer that sends one line just before
    each step's deadline would keep the exchange alive for ever.
    """

    seconds: float
    until: float | None = None

    @classmethod
    def total(cls, seconds: float, steps: float) -> Budget:
        """Each step `seconds`; the whole exchange at most `steps` times that."""
        return cls(seconds, asyncio.get_running_loop().time() + seconds * steps)

    def deadline(self) -> float:
        step = asyncio.get_running_loop().time() + self.seconds
        return step if self.until is None else min(step, self.until)

    def remaining(self) -> float:
        return max(self.deadline() - asyncio.get_running_loop().time(), 0.0)


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        release: Callable[[], None] | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._release = release  # gives back the per-address slot, once
        self.local_address: str = writer.get_extra_info("sockname")[0]
        self.discarded = b""  # plaintext dropped by the last start_tls
        self._upgrade_failed = False  # a failed start_tls leaves nothing to wait for at close

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

    async def read_some(self, limit: int, deadline: float) -> bytes:
        """Whatever has arrived, at most `limit` bytes; b"" once the peer has closed."""
        async with self._step(deadline, "no answer before the deadline"):
            return await self._reader.read(max(limit, 1))

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

    def take_buffered(self) -> bytes:
        """Remove and return what the peer sent that no read has consumed yet.

        Called before a STARTTLS upgrade: anything already buffered arrived in
        plaintext and must never be read as if it came inside TLS (the client side of
        STARTTLS response injection, as in the 2021 "NO STARTTLS" study).
        """
        buffer = getattr(self._reader, "_buffer", None)
        if not buffer:
            return b""
        data = bytes(buffer)
        buffer.clear()
        return data

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, deadline: float
    ) -> ssl.SSLObject:
        """Upgrade in place (STARTTLS, or implicit TLS right after connect).

        Plaintext still buffered is dropped first (kept in `discarded` for the caller
        to report): whatever came before the handshake must never be read as if it
        had come inside TLS.
        """
        self.discarded = self.take_buffered()
        loop = asyncio.get_running_loop()
        timeout = max(deadline - loop.time(), 0.01)
        self._upgrade_failed = True  # until the handshake is known to have finished
        try:
            async with asyncio.timeout_at(deadline + 0.5):
                await self._writer.start_tls(
                    context, server_hostname=server_hostname, ssl_handshake_timeout=timeout
                )
            self._upgrade_failed = False
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
        self._ack_now()
        return ssl_object

    def _ack_now(self) -> None:
        """Acknowledge what has arrived at once, not after the kernel's delayed-ACK wait.

        A TLS 1.3 server writes its session tickets and, separately, its first words
        (the implicit-TLS greeting); with Nagle's algorithm on its side the second write
        waits for our ACK of the first, which Linux delays by 40 ms while we, waiting
        for the greeting, have nothing to send. TCP_QUICKACK sends the pending ACK now.
        """
        quickack = getattr(socket, "TCP_QUICKACK", None)
        sock = self._writer.get_extra_info("socket")
        if quickack is None or sock is None:
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)

    async def close(self) -> None:
        """Close and wait (at most 1 s) for the peer to see it.

        After a failed TLS upgrade asyncio has already dropped the socket, but the stream
        is never told (the TLS layer that replaced it saw the loss, not the stream):
        waiting would always take the whole second, so the socket is aborted instead.
        """
        if self._upgrade_failed:
            self._writer.transport.abort()
            wait = 0.0  # only to take the stream's own loss, when it did hear of it
        else:
            self._writer.close()
            wait = 1.0
        try:
            async with asyncio.timeout(wait):
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass
        finally:
            if self._release is not None:
                self._release()
                self._release = None


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _address_slots(address: str) -> asyncio.Semaphore:
    """The shared limit of simultaneous connections to one address, per event loop."""
    per_loop = _slots.setdefault(asyncio.get_running_loop(), {})
    if address not in per_loop:
        per_loop[address] = asyncio.Semaphore(MAX_CONNECTIONS_PER_ADDRESS)
    return per_loop[address]


async def _acquire(address: str) -> Callable[[], None]:
    """A slot for one connection to `address`: the caller's gate when one is set (the
    scanner's --per-host), else the shared MAX_CONNECTIONS_PER_ADDRESS limit."""
    gate = connection_gate.get()
    if gate is not None:
        return await gate(address)
    slots = _address_slots(address)
    await slots.acquire()
    return slots.release


def race_order(addresses: list[str]) -> list[str]:
    """IPv6 and IPv4 interleaved, IPv6 first (RFC 8305 section 4), at most
    MAX_ADDRESSES_PER_HOST of them."""
    v6 = [a for a in addresses if ":" in a]
    v4 = [a for a in addresses if ":" not in a]
    mixed = [a for pair in zip(v6, v4, strict=False) for a in pair]
    rest = v6[len(v4) :] if len(v6) > len(v4) else v4[len(v6) :]
    return list(dict.fromkeys(mixed + rest))[:MAX_ADDRESSES_PER_HOST]


async def connect(
    addresses: list[str], port: int, timeout: float, *, deadline: float | None = None
) -> tuple[Connection | None, list[ConnectAttempt]]:
    """Race the host's addresses (happy eyeballs, RFC 8305); the first to connect wins.

    A new attempt starts every CONNECT_STAGGER seconds, or at once when the previous one
    fails; the others are cancelled as soon as one succeeds. The race ends within
    `timeout` of the first attempt getting a free slot (MAX_CONNECTIONS_PER_ADDRESS), and
    always by `deadline` (event-loop time) when given, however many addresses the host
    has and whether their packets are answered or dropped. Waiting for a slot does not
    eat the connect timeout, only the caller's total deadline.
    """
    loop = asyncio.get_running_loop()
    hard = loop.time() + timeout if deadline is None else deadline
    race: dict[str, float] = {}  # "until": the race's end, set when the first slot is free
    ordered = race_order(addresses)
    results: dict[int, ConnectAttempt] = {}

    async def attempt(index: int, address: str) -> Connection | None:
        start = loop.time()
        release: Callable[[], None] | None = None
        try:
            async with asyncio.timeout_at(race.get("until", hard)):
                release = await _acquire(address)
            start = loop.time()
            race.setdefault("until", min(hard, start + timeout))
            async with asyncio.timeout_at(race["until"]):
                reader, writer = await asyncio.open_connection(address, port, limit=LINE_LIMIT)
        except TimeoutError:
            outcome = ConnectAttempt(address, Reachability.TIMEOUT, error="no answer")
        except ConnectionRefusedError:
            ms = round((loop.time() - start) * 1000, 1)
            outcome = ConnectAttempt(address, Reachability.REFUSED, ms, "refused")
        except OSError as exc:
            outcome = ConnectAttempt(
                address, Reachability.UNREACHABLE, error=describe_os_error(exc)
            )
        except asyncio.CancelledError:
            if release is not None:
                release()
            raise
        else:
            ms = round((loop.time() - start) * 1000, 1)
            results[index] = ConnectAttempt(address, Reachability.CONNECTED, ms)
            return Connection(reader, writer, release)
        if release is not None:
            release()
        results[index] = outcome
        return None

    pending: dict[asyncio.Task[Connection | None], int] = {}
    winner: Connection | None = None
    won: int | None = None
    started = 0
    try:
        while winner is None:
            if started < len(ordered):
                task = asyncio.ensure_future(attempt(started, ordered[started]))
                pending[task] = started
                started += 1
            if not pending:
                break
            left = race.get("until", hard) - loop.time()
            if left <= 0:
                break
            wait = min(CONNECT_STAGGER, left) if started < len(ordered) else left
            done, _ = await asyncio.wait(pending, timeout=wait, return_when="FIRST_COMPLETED")
            for task in done:
                index = pending.pop(task)
                conn = task.result()
                if conn is None:
                    continue
                if winner is None:
                    winner, won = conn, index
                else:
                    await conn.close()  # two won at once: keep the first
    finally:
        for task in pending:
            task.cancel()
        for task, index in pending.items():
            with contextlib.suppress(asyncio.CancelledError):
                late = await task
                if late is not None:  # connected just as it was cancelled
                    await late.close()
            if index not in results:
                results[index] = ConnectAttempt(
                    ordered[index], Reachability.TIMEOUT, error="no answer"
                )
    attempts = [results[i] for i in sorted(results) if winner is None or i != won]
    if winner is not None:  # lost races are not failures; the winner comes last
        attempts = [a for a in attempts if a.outcome is not Reachability.TIMEOUT]
        attempts.append(results[won])
    return winner, attempts


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
    if not host or not (host[0].isdigit() or ":" in host):
        return False  # a name (an address starts with a digit or holds a colon): no OSError
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            continue
    return False


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
