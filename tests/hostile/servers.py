"""Scripted TCP servers (HTTP(S), mail, anything) that count their connections.

See tests/hostile/__init__.py for how to use them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from tests.hostile import dns as hostile_dns
from tests.lab.scripted import fill_accept_queue

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
# A script is bytes, or an iterable of bytes (sent in turn) and floats (pauses, seconds).
Script = bytes | Iterable[bytes | float]


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    head: bytes  # the raw request head, as received

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


@dataclass
class Stats:
    """Connections seen by the scripted servers: total and most at once, per address
    and per (address, port). Safe to read from the test thread."""

    total: Counter = field(default_factory=Counter)
    peak: Counter = field(default_factory=Counter)
    _open: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, address: str, port: int) -> None:
        with self._lock:
            for key in (address, (address, port)):
                self.total[key] += 1
                self._open[key] += 1
                self.peak[key] = max(self.peak[key], self._open[key])

    def closed(self, address: str, port: int) -> None:
        with self._lock:
            for key in (address, (address, port)):
                self._open[key] -= 1

    def reset(self) -> None:
        with self._lock:
            self.total.clear()
            self.peak.clear()

    def total_for(self, prefix: str) -> int:
        """Connections to every address starting with `prefix` (e.g. "127.0.3.1")."""
        with self._lock:
            return sum(
                n for k, n in self.total.items() if isinstance(k, str) and k.startswith(prefix)
            )


class Hostile:
    """Scripted DNS, HTTP(S) and mail servers in one background event loop."""

    def __init__(self, workdir: Path) -> None:
        self.stats = Stats()
        self.zone = hostile_dns.Zone()
        self.requests: list[Request] = []
        self.ca = trustme.CA()
        self.ca_file = workdir / "hostile-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._closers: list = []
        self._held: list[socket.socket] = []
        self._thread.start()

    # -- plumbing -------------------------------------------------------------------

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def tls(self, *names: str) -> ssl.SSLContext:
        """A server context with a certificate for `names`, issued by the fixture's CA
        (pass `ca_file` to the tool to trust it)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*names).configure_cert(context)
        return context

    def serve(
        self, address: str, port: int, handler: Handler, *, tls: ssl.SSLContext | None = None
    ) -> None:
        """Run `handler` for each connection to (address, port), counted in `stats`."""
        stats = self.stats

        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stats.opened(address, port)
            try:
                with suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                    await handler(reader, writer)
            except asyncio.CancelledError:
                pass  # stop() ends the handlers still running; nothing to report
            finally:
                stats.closed(address, port)
                with suppress(Exception):
                    writer.close()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(
                counted, address, port, ssl=tls, reuse_address=True, backlog=512
            )

        self._closers.append(self._run(start()))

    def dns(self, address: str, port: int = 53) -> None:
        """Serve `self.zone` on (address, port), UDP and TCP."""
        self._closers += self._run(hostile_dns.serve(self.zone, address, port))

    def drop(self, address: str, port: int) -> None:
        """A port whose SYNs go unanswered (its accept queue is kept full), as behind a
        firewall that drops packets."""
        self._held += fill_accept_queue(address, port)

    def stop(self) -> None:
        async def close() -> None:
            for closer in self._closers:
                closer.close()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            for closer in self._closers:
                if isinstance(closer, asyncio.Server):
                    with suppress(Exception):
                        await asyncio.wait_for(closer.wait_closed(), 1)

        with suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        for sock in self._held:
            sock.close()

    # -- HTTP -----------------------------------------------------------------------

    def http(
        self,
        address: str,
        port: int,
        respond: Callable[[Request], Script],
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """An HTTP/1.1 server: `respond(request)` returns the raw reply, a script of
        bytes and pauses, so status line, headers, chunking and timing are all free."""
        requests = self.requests

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, *_ = [*lines[0].split(" "), "", ""]
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(length) if length else b""
            request = Request(method, target, headers, body, head)
            requests.append(request)
            await play(writer, respond(request))

        self.serve(address, port, handler, tls=tls)

    # -- mail -----------------------------------------------------------------------

    def mail(
        self,
        address: str,
        port: int,
        greeting: Script,
        answers: dict[str, Script] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """A mail server that sends `greeting`, then answers each command by its verb
        (EHLO, CAPABILITY, CAPA, STARTTLS, QUIT...) from `answers`; `{tag}` in an answer
        becomes the IMAP tag of the command. Unknown verbs get "500 unknown"."""
        answers = {k.upper(): v for k, v in (answers or {}).items()}

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await play(writer, greeting)
            while line := await reader.readline():
                words = line.decode("latin-1").split()
                if not words:
                    continue
                tag, verb = ("", words[0]) if len(words) == 1 else (words[0], words[1])
                script = answers.get(words[0].upper())
                if script is None:
                    script = answers.get(verb.upper())
                if script is None:
                    await play(writer, b"500 unknown\r\n")
                    continue
                await play(writer, _tagged(script, tag))
                if words[0].upper() in ("QUIT",) or verb.upper() == "LOGOUT":
                    return

        self.serve(address, port, handler, tls=tls)


def _tagged(script: Script, tag: str) -> Script:
    if isinstance(script, bytes):
        return script.replace(b"{tag}", tag.encode())
    return [s.replace(b"{tag}", tag.encode()) if isinstance(s, bytes) else s for s in script]


async def play(writer: asyncio.StreamWriter, script: Script) -> None:
    """Send a script: bytes are written, floats are pauses."""
    for step in [script] if isinstance(script, bytes) else script:
        if isinstance(step, bytes):
            writer.write(step)
            await writer.drain()
        else:
            await asyncio.sleep(step)


def imap_ok(banner: bytes = b"* OK IMAP4rev1 ready\r\n") -> tuple[bytes, dict[str, Script]]:
    """A minimal well-behaved IMAP server on an implicit-TLS port: (greeting, answers)."""
    return banner, {
        "CAPABILITY": b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n",
        "LOGOUT": b"* BYE\r\n{tag} OK bye\r\n",
    }
