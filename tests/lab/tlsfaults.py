"""Scripted STARTTLS and TLS faults no real server produces on demand.

- servers that keep their read buffer across STARTTLS, so a command pipelined with
  STARTTLS is answered inside TLS (CVE-2011-0411 class): SMTP and IMAP;
- a server (or man in the middle) that sends extra plaintext after its go-ahead;
- busy servers (SMTP 421, IMAP BYE, POP3 -ERR [IN-USE]) and a slow greeting;
- a server briefly at its connection limit (as Exim is after a burst of refused
  handshakes): some connections turned away with a busy greeting, the rest served;
- canned ServerHello responders for the scanner: SSLv3 only, RC4 only.

Handlers are plain asyncio callbacks, served by tests/lab/scripted.ScriptedServers.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from contextlib import suppress
from pathlib import Path

from tests.lab import pki

ADDRESS = {  # tls-verdicts' loopback range
    "smtp_injectable": "127.0.4.20",
    "imap_injectable": "127.0.4.21",
    "smtp_pipelined": "127.0.4.22",
    "busy": "127.0.4.23",
    "slow": "127.0.4.24",
    "sslv3_only": "127.0.4.25",
    "rc4_only": "127.0.4.26",
    "blocked25": "127.0.4.27",
    "implicit": "127.0.4.28",
    "at_limit": "127.0.4.29",
}


def server_context(directory: Path, names: list[str]) -> ssl.SSLContext:
    """A TLS server context with a throw-away self-signed certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    pair = pki.write_pair(directory, "scripted", pki.make_leaf(names, None), [])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert_file, pair.key_file)
    return context


async def _lines(reader: asyncio.StreamReader):
    while line := await reader.readline():
        yield line.decode(errors="replace").strip()


def smtp_server(context: ssl.SSLContext, *, injectable: bool, pipelined: bytes = b""):
    """An SMTP server with STARTTLS; `injectable` keeps the plaintext buffer across TLS."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = False
        with suppress(ConnectionError, ssl.SSLError, OSError):
            writer.write(b"220 scripted ESMTP\r\n")
            async for line in _lines(reader):
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    caps = b"250 SIZE 1000\r\n" if tls else b"250 STARTTLS\r\n"
                    writer.write(b"250-scripted\r\n" + caps)
                elif verb == "STARTTLS" and not tls:
                    writer.write(b"220 2.0.0 go ahead\r\n" + pipelined)
                    await writer.drain()
                    if not injectable:
                        reader._buffer.clear()  # what a correct server does
                    await writer.start_tls(context)
                    tls = True
                elif verb == "NOOP":
                    writer.write(b"250 2.0.0 ok\r\n")
                elif verb == "QUIT":
                    writer.write(b"221 2.0.0 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"502 5.5.2 no\r\n")
                await writer.drain()
        writer.close()

    return handler


def imap_injectable(context: ssl.SSLContext):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = False
        with suppress(ConnectionError, ssl.SSLError, OSError):
            writer.write(b"* OK scripted IMAP ready\r\n")
            async for line in _lines(reader):
                tag, _, command = line.partition(" ")
                command = command.upper()
                if command == "CAPABILITY":
                    caps = b"IMAP4rev1 AUTH=PLAIN" if tls else b"IMAP4rev1 STARTTLS LOGINDISABLED"
                    writer.write(b"* CAPABILITY " + caps + b"\r\n" + tag.encode() + b" OK\r\n")
                elif command == "STARTTLS" and not tls:
                    writer.write(tag.encode() + b" OK begin TLS\r\n")
                    await writer.drain()
                    await writer.start_tls(context)  # keeps the buffer: injectable
                    tls = True
                elif command == "NOOP":
                    writer.write(tag.encode() + b" OK NOOP done\r\n")
                elif command == "LOGOUT":
                    writer.write(b"* BYE\r\n" + tag.encode() + b" OK bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(tag.encode() + b" BAD no\r\n")
                await writer.drain()
        writer.close()

    return handler


def busy(greeting: bytes, linger: float = 0.5):
    """A server at its limit: it says so in its greeting (and waits for QUIT, as RFC 5321
    asks of an SMTP server that greets with 554)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, OSError):
            writer.write(greeting)
            await writer.drain()
            with suppress(TimeoutError):
                async with asyncio.timeout(linger):
                    line = await reader.readline()
                    if line:
                        writer.write(b"221 bye\r\n" if line[:1].isalpha() else b"")
                        await writer.drain()
        writer.close()

    return handler


def slow_smtp(delay: float, context: ssl.SSLContext):
    """Greets after `delay` seconds (as postscreen does), then behaves."""
    inner = smtp_server(context, injectable=False)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay)
        await inner(reader, writer)

    return handler


# --- canned ServerHellos ----------------------------------------------------------------------


def _client_hello(data: bytes) -> tuple[int, list[int]]:
    """(client_version, offered suites) of a ClientHello record; good enough for tests."""
    body = data[5 + 4 :]
    version = struct.unpack_from("!H", body, 0)[0]
    offset = 34
    offset += 1 + body[offset]
    (length,) = struct.unpack_from("!H", body, offset)
    offset += 2
    suites = [struct.unpack_from("!H", body, offset + i)[0] for i in range(0, length, 2)]
    return version, suites


def canned(max_version: int, allowed: set[int]):
    """Answers a ClientHello with a ServerHello at min(offered, max_version) choosing the
    first offered suite in `allowed`, or a handshake_failure alert."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(
            ConnectionError, OSError, TimeoutError, asyncio.IncompleteReadError, struct.error
        ):
            header = await reader.readexactly(5)
            (length,) = struct.unpack("!H", header[3:5])
            record = header + await reader.readexactly(length)
            version, suites = _client_hello(record)
            chosen = next((s for s in suites if s in allowed), None)
            if chosen is None:
                writer.write(b"\x15\x03\x01\x00\x02\x02\x28")  # fatal handshake_failure
            else:
                answer = min(version, max_version)
                body = struct.pack("!H", answer) + bytes(32) + b"\x00"
                body += struct.pack("!H", chosen) + b"\x00"
                message = b"\x02" + struct.pack("!I", len(body))[1:] + body
                writer.write(b"\x16" + struct.pack("!HH", answer, len(message)) + message)
            await writer.drain()
            async with asyncio.timeout(1):
                await reader.read(1)  # the scanner hangs up once it has its answer
        writer.close()

    return handler


def imap_implicit(context: ssl.SSLContext):
    """IMAP with implicit TLS, for a non-standard port (as Dovecot can be configured)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, ssl.SSLError, OSError, TimeoutError):
            async with asyncio.timeout(5):
                await writer.start_tls(context)
            writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] scripted ready\r\n")
            async for line in _lines(reader):
                tag, _, command = line.partition(" ")
                if command.upper() == "CAPABILITY":
                    writer.write(
                        b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag.encode() + b" OK\r\n"
                    )
                elif command.upper() == "LOGOUT":
                    writer.write(b"* BYE\r\n" + tag.encode() + b" OK\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(tag.encode() + b" BAD\r\n")
                await writer.drain()
        writer.close()

    return handler


def pop3_implicit(context: ssl.SSLContext):
    """POP3 with implicit TLS (995): greeting, CAPA, QUIT."""
    capa = {"CAPA": b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"}
    return _implicit(context, b"+OK scripted POP3 ready\r\n", capa, b"+OK bye\r\n", b"-ERR no\r\n")


def smtp_implicit(context: ssl.SSLContext):
    """SMTP with implicit TLS (465): greeting, EHLO, QUIT."""
    ehlo = {"EHLO": b"250-scripted\r\n250 AUTH PLAIN\r\n"}
    return _implicit(
        context, b"220 scripted ESMTP\r\n", ehlo, b"221 2.0.0 bye\r\n", b"502 5.5.2 no\r\n"
    )


def _implicit(
    context: ssl.SSLContext, greeting: bytes, replies: dict[str, bytes], bye: bytes, other: bytes
):
    """A dialect on an implicit-TLS port: `greeting` once the handshake is done, the
    reply to each known verb, `bye` on QUIT, `other` to anything else."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, ssl.SSLError, OSError, TimeoutError):
            async with asyncio.timeout(5):
                await writer.start_tls(context)
            writer.write(greeting)
            async for line in _lines(reader):
                verb = line.split(" ", 1)[0].upper()
                if verb == "QUIT":
                    writer.write(bye)
                    await writer.drain()
                    break
                writer.write(replies.get(verb, other))
                await writer.drain()
        writer.close()

    return handler


def at_limit(serve, refused: set[int], greeting: bytes, log: list[str]):
    """`serve`, except that the connections numbered in `refused` (1 is the first) get
    `greeting` in plaintext and are closed, as a server at its session limit does.
    `log` records "served" or "refused" per connection, in order."""
    count = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        if count not in refused:
            log.append("served")
            await serve(reader, writer)
            return
        log.append("refused")
        with suppress(ConnectionError, OSError):
            writer.write(greeting)
            await writer.drain()
        writer.close()

    return handler
