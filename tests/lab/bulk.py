"""The scan lab: thousands of generated domains on 127.0.6.0/24, a few mail hosts.

    127.0.6.2   mx1.scan.test       IMAP 993/143, POP3 995/110, SMTP 465/587/25, good cert
    127.0.6.3   mx2.scan.test       the same; also every "own name" domain's mail.DOMAIN
    127.0.6.4   badcert.scan.test   certificate for other.test (wrong name)
    127.0.6.5   busy.scan.test      every greeting says "busy" (421, * BYE, -ERR [SYS/TEMP])
    127.0.6.53:5353 and :53         DNS for scan.test (authoritative, generated zone)
    127.0.6.254:8080                counters: "stats" or "reset" -> JSON (see Counters)

Domain dNNNNN.scan.test, by NNNNN % 20: 0 NXDOMAIN, 1 silent (its DNS never answers),
2 MX at badcert, 3 MX at busy, 4 its own mail.DOMAIN at mx2 (a name the certificate
does not cover, so nothing is shared but the address), 5 SRV records too; the rest MX
at mx1 or mx2 (most with SPF and DMARC, some with a broken SPF record).

The mail servers are scripted (asyncio, correct framing, real TLS) and count the
connections open at once per address, so the per-host cap can be checked; the DNS
server is a small authoritative responder built on dnspython (dnsmasq cannot answer
NXDOMAIN for some names and stay silent for others). Run it as its own process:

    python -m tests.lab.bulk ROOT COUNT     # writes ROOT/ca.pem, ROOT/domains.txt, ROOT/ready
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import ssl
import sys
from collections import Counter
from contextlib import suppress
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ZONE = "scan.test"
DNS = ("127.0.6.53", 5353)
STATS = ("127.0.6.254", 8080)
HOSTS = {
    "mx1": "127.0.6.2",
    "mx2": "127.0.6.3",
    "badcert": "127.0.6.4",
    "busy": "127.0.6.5",
}
PORTS = {
    993: ("imap", True),
    143: ("imap", False),
    995: ("pop3", True),
    110: ("pop3", False),
    465: ("smtp", True),
    587: ("smtp", False),
    25: ("smtp", False),
}
KINDS = {0: "nxdomain", 1: "silent", 2: "badcert", 3: "busy", 4: "ownname", 5: "srv"}


def domain(index: int) -> str:
    return f"d{index:05d}.{ZONE}"


def kind(index: int) -> str:
    return KINDS.get(index % 20, "good")


def domains(count: int) -> list[str]:
    return [domain(i) for i in range(count)]


def zone(count: int) -> tuple[dict[tuple[str, str], list[str]], set[str], set[str]]:
    """(records by (name, type), names that exist, silent suffixes)."""
    records: dict[tuple[str, str], list[str]] = {}
    silent: set[str] = set()

    def add(name: str, rdtype: str, value: str) -> None:
        records.setdefault((name, rdtype), []).append(value)

    for name, address in HOSTS.items():
        add(f"{name}.{ZONE}", "A", address)
    for i in range(count):
        d, k = domain(i), kind(i)
        if k == "nxdomain":
            continue
        if k == "silent":
            silent.add(d)
            continue
        mx = {"badcert": "badcert", "busy": "busy"}.get(k, "mx1" if i % 2 else "mx2")
        if k == "ownname":
            add(f"mail.{d}", "A", HOSTS["mx2"])
            add(d, "MX", f"10 mail.{d}.")
        else:
            add(d, "MX", f"10 {mx}.{ZONE}.")
        if k == "srv":
            add(f"_imaps._tcp.{d}", "SRV", f"0 1 993 {mx}.{ZONE}.")
            add(f"_submission._tcp.{d}", "SRV", f"0 1 587 {mx}.{ZONE}.")
        if i % 3:
            add(d, "TXT", '"v=spf1 mx -all"' if i % 7 else '"v=spf1 mx include: -all"')
            add(f"_dmarc.{d}", "TXT", '"v=DMARC1; p=quarantine"')
    names = {name for name, _ in records}
    for name in list(names):  # the empty non-terminals (_tcp.DOMAIN) exist too
        labels = name.split(".")
        for cut in range(1, len(labels) - 2):
            names.add(".".join(labels[cut:]))
    return records, names, silent


TYPES = {dns.rdatatype.from_text(t) for t in ("A", "AAAA", "MX", "TXT", "SRV")}


class DnsServer(asyncio.DatagramProtocol):
    """Authoritative answers from the generated zone, each built once and then copied
    with the query's id and question (the lab must not be what bounds a benchmark)."""

    def __init__(self, count: int) -> None:
        self.records, self.names, self.silent = zone(count)
        # Built before the server says it is ready: answering must cost next to nothing.
        self.templates: dict[tuple[str, int], bytes] = {
            (name, dns.rdatatype.from_text(rdtype)): self._answer(
                name, dns.rdatatype.from_text(rdtype)
            )
            for name, rdtype in self.records
        }
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = self.reply(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def reply(self, data: bytes) -> bytes | None:
        parsed = _question(data)
        if parsed is None:
            return None
        name, rdtype, end = parsed
        if ".".join(name.split(".")[-3:]) in self.silent:
            return None  # silent: the query is dropped
        type_text = dns.rdatatype.to_text(rdtype) if rdtype in TYPES else ""
        if name not in self.names or (name, type_text) not in self.records:
            # NXDOMAIN or no data: the header and the query's own question, nothing to build.
            rcode = 3 if name not in self.names else 0
            flags = 0x8400 | (data[2] & 0x01) << 8 | rcode  # QR, AA, the query's RD
            reply = data[:2] + flags.to_bytes(2, "big") + b"\x00\x01" + bytes(6) + data[12:end]
        else:
            template = self.templates[(name, rdtype)]
            reply = data[:2] + template[2:12] + data[12:end] + template[end:]
        return reply

    def _answer(self, name: str, rdtype: int) -> bytes:
        query = dns.message.make_query(name, rdtype)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        type_text = dns.rdatatype.to_text(rdtype)
        if name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif (name, type_text) in self.records:
            response.answer.append(
                dns.rrset.from_text_list(
                    name + ".", 300, "IN", type_text, self.records[(name, type_text)]
                )
            )
        return response.to_wire()


def _question(data: bytes) -> tuple[str, int, int] | None:
    """The query's name (lower case), type, and where its question ends."""
    if len(data) < 17:
        return None
    labels, offset = [], 12
    while offset < len(data):
        size = data[offset]
        if size == 0:
            offset += 1
            break
        if size > 63:
            return None
        labels.append(data[offset + 1 : offset + 1 + size].decode("ascii", "replace").lower())
        offset += 1 + size
    if offset + 4 > len(data):
        return None
    rdtype = int.from_bytes(data[offset : offset + 2], "big")
    return ".".join(labels), rdtype, offset + 4


class _DnsPort(asyncio.DatagramProtocol):
    """One more listening socket for the same zone."""

    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = self.server.reply(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class Counters:
    """Connections open at once, per address: the current value and the highest seen."""

    def __init__(self) -> None:
        self.now: Counter = Counter()
        self.peak: Counter = Counter()
        self.total: Counter = Counter()

    def enter(self, address: str) -> None:
        self.now[address] += 1
        self.total[address] += 1
        self.peak[address] = max(self.peak[address], self.now[address])

    def leave(self, address: str) -> None:
        self.now[address] -= 1

    def data(self) -> dict:
        return {"peak": dict(self.peak), "total": dict(self.total), "now": dict(+self.now)}

    def reset(self) -> None:
        self.peak = Counter(+self.now)
        self.total = Counter()


def _tls(root: Path, name: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(root / f"{name}.crt", root / f"{name}.key")
    return context


async def mail_session(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    protocol: str,
    implicit: bool,
    context: ssl.SSLContext,
    busy: bool,
    counters: Counters,
) -> None:
    address = writer.get_extra_info("sockname")[0]
    counters.enter(address)
    try:
        async with asyncio.timeout(30):
            await _converse(reader, writer, protocol, implicit, context, busy)
    except (TimeoutError, ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        counters.leave(address)
        writer.close()


GREETING = {"imap": b"* OK scan lab IMAP ready", "pop3": b"+OK scan lab POP3 ready"}
BUSY = {
    "imap": b"* BYE too many connections, try later",
    "pop3": b"-ERR [SYS/TEMP] too many connections, try later",
    "smtp": b"421 4.7.0 busy.scan.test too many connections, try later",
}


async def _converse(reader, writer, protocol, implicit, context, busy) -> None:
    secure = False
    if implicit:
        await writer.start_tls(context)
        secure = True
    if busy:
        writer.write(BUSY[protocol] + b"\r\n")
        await writer.drain()
        return
    writer.write(GREETING.get(protocol, b"220 scan.test ESMTP scan lab") + b"\r\n")
    await writer.drain()
    while True:
        line = await reader.readline()
        if not line:
            return
        text = line.decode("ascii", "replace").strip()
        reply, upgrade, done = _reply(protocol, text, secure)
        writer.write(reply)
        await writer.drain()
        if done:
            return
        if upgrade:
            await writer.start_tls(context)
            secure = True


def _reply(protocol: str, text: str, secure: bool) -> tuple[bytes, bool, bool]:
    """(reply bytes, start TLS now, close now) for one command."""
    if protocol == "imap":
        tag, _, command = text.partition(" ")
        tag_b, command = tag.encode(), command.upper()
        if command == "CAPABILITY":
            caps = "IMAP4rev1 AUTH=PLAIN" if secure else "IMAP4rev1 STARTTLS LOGINDISABLED"
            return f"* CAPABILITY {caps}\r\n".encode() + tag_b + b" OK done\r\n", False, False
        if command == "STARTTLS" and not secure:
            return tag_b + b" OK Begin TLS negotiation now\r\n", True, False
        if command == "LOGOUT":
            return b"* BYE logging out\r\n" + tag_b + b" OK done\r\n", False, True
        return tag_b + b" BAD unknown command\r\n", False, False
    if protocol == "pop3":
        command = text.upper()
        if command == "CAPA":
            caps = ["TOP", "UIDL", "USER", "SASL PLAIN"] if secure else ["TOP", "UIDL", "STLS"]
            return ("+OK\r\n" + "".join(c + "\r\n" for c in caps) + ".\r\n").encode(), False, False
        if command == "STLS" and not secure:
            return b"+OK Begin TLS\r\n", True, False
        if command == "QUIT":
            return b"+OK bye\r\n", False, True
        return b"-ERR unknown command\r\n", False, False
    command = text.upper()
    if command.startswith(("EHLO", "HELO")):
        extensions = ["PIPELINING", "8BITMIME"] + (["AUTH PLAIN LOGIN"] if secure else ["STARTTLS"])
        lines = ["scan.test hello", *extensions]
        body = "".join(
            f"250{'-' if i < len(lines) - 1 else ' '}{x}\r\n" for i, x in enumerate(lines)
        )
        return body.encode(), False, False
    if command == "STARTTLS" and not secure:
        return b"220 2.0.0 ready to start TLS\r\n", True, False
    if command == "QUIT":
        return b"221 2.0.0 bye\r\n", False, True
    return b"502 5.5.2 unknown command\r\n", False, False


async def stats_session(reader, writer, counters: Counters) -> None:
    with suppress(Exception):
        line = (await asyncio.wait_for(reader.readline(), 5)).strip()
        if line == b"reset":
            counters.reset()
        writer.write(json.dumps(counters.data()).encode() + b"\n")
        await writer.drain()
    writer.close()


def make_pki(root: Path) -> None:
    from tests.lab import pki

    ca = pki.make_ca("maildiag scan lab root")
    (root / "ca.pem").write_bytes(pki.pem(ca.cert))
    for name in HOSTS:
        identity = "other.test" if name == "badcert" else f"{name}.{ZONE}"
        pki.write_pair(root, name, pki.make_leaf([identity], ca), [])


async def serve(root: Path, count: int) -> None:
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # clients reset: that is normal
    make_pki(root)
    (root / "domains.txt").write_text("\n".join(domains(count)) + "\n")
    loop = asyncio.get_running_loop()
    counters = Counters()
    dns_server = DnsServer(count)
    # Port 53 as well, for tools that cannot be told another port (checkdmarc, benchmark).
    for port in (DNS[1], 53):
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _DnsPort(dns_server), local_addr=(DNS[0], port)
        )
        with suppress(OSError):  # room for bursts of queries (SO_RCVBUFFORCE: root only)
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
    servers = [
        await asyncio.start_server(
            lambda r, w: stats_session(r, w, counters), *STATS, reuse_address=True
        )
    ]
    for name, address in HOSTS.items():
        context = _tls(root, name)
        for port, (protocol, implicit) in PORTS.items():

            def handler(r, w, protocol=protocol, implicit=implicit, context=context, name=name):
                return mail_session(r, w, protocol, implicit, context, name == "busy", counters)

            servers.append(
                await asyncio.start_server(handler, address, port, reuse_address=True, backlog=512)
            )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    (root / "ready").write_text("ready\n")
    await stop.wait()


def stats(reset: bool = False) -> dict:
    """The counters, from a test (optionally resetting the peaks first)."""
    import socket

    with socket.create_connection(STATS, timeout=5) as sock:
        sock.sendall(b"reset\n" if reset else b"stats\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return json.loads(data)


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))
