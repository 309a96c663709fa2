"""Scripted servers for faults no real mail server produces on demand.

Garbage greetings, silence, drip-feeding, a megabyte without a newline, resets in
the middle of a TLS handshake, a STARTTLS that is advertised and then refused, and a
port that drops connection attempts. Each listens on its own loopback address and a
standard port, so the probe treats it exactly like a real host.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from contextlib import suppress

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\x00\x13hello, this is not a mail server\r\n")
    await writer.drain()
    await asyncio.sleep(5)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A megabyte with no newline."""
    chunk = b"A" * 65536
    with suppress(ConnectionError):
        for _ in range(16):
            writer.write(chunk)
            await writer.drain()
    await asyncio.sleep(5)


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A valid greeting, one byte every 200 ms, never finished."""
    with suppress(ConnectionError):
        for byte in b"* OK " + b"x" * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)


async def imap_reset_on_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """Advertises STARTTLS, says OK, then resets the connection mid-handshake."""
    await _imap_until_starttls(reader, writer, b"OK Begin TLS negotiation now")
    await reader.read(1)  # the first byte of the ClientHello
    _reset(writer)


async def imap_refuse_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    await _imap_until_starttls(reader, writer, b"NO [UNAVAILABLE] TLS is out of order")
    await asyncio.sleep(2)


async def reset_on_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Implicit-TLS port that resets as soon as the ClientHello arrives."""
    await reader.read(1)
    _reset(writer)


async def _imap_until_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes
) -> None:
    writer.write(b"* OK scripted IMAP ready\r\n")
    while True:
        line = await reader.readline()
        if not line:
            return
        tag, _, command = line.decode().strip().partition(" ")
        if command.upper() == "CAPABILITY":
            writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n")
            writer.write(tag.encode() + b" OK done\r\n")
        elif command.upper() == "STARTTLS":
            writer.write(tag.encode() + b" " + answer + b"\r\n")
            await writer.drain()
            return
        else:
            writer.write(tag.encode() + b" BAD unexpected\r\n")
        await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def fill_accept_queue(address: str, port: int) -> list[socket.socket]:
    """A port whose accept queue is full: new connection attempts go unanswered, as
    behind a firewall that drops packets. Close the sockets returned to end it."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(0)
    held = [listener]
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with suppress(BlockingIOError):
            filler.connect((address, port))
        held.append(filler)
    return held


class ScriptedServers:
    """Runs handlers on (address, port) pairs in a background event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._held: list[socket.socket] = []
        self._thread.start()

    def serve(
        self, address: str, port: int, handler: Handler, tls: ssl.SSLContext | None = None
    ) -> None:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(handler, address, port, ssl=tls, reuse_address=True)

        future = asyncio.run_coroutine_threadsafe(start(), self._loop)
        self._servers.append(future.result(5))

    def drop_connections(self, address: str, port: int) -> None:
        self._held += fill_accept_queue(address, port)

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
                with suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 1)

        with suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        for sock in self._held:
            sock.close()
