"""A scripted DNS server (UDP and TCP) built on dnspython: any record, any bytes, any fault.

    zone = Zone()
    zone.add("mail.h.test", "A", "127.0.3.10")
    zone.add("h.test", "MX", "10 mx_1.h.test.")
    zone.add("h.test", "TXT", TXT(IN, TXT, [b"v=spf1 \\x1b[31m -all"]))   # raw bytes
    zone.fault("dead.h.test", "servfail")                              # or nxdomain, silence

A record is given as text (zone-file syntax) or as a dnspython Rdata object, which can
hold any bytes (names with control characters: dns.name.Name([b"mx\\x1b", b"h", b"test", b""])).
A name with no records is NXDOMAIN; a name with records of other types gets an empty
NOERROR answer. Answers too large for UDP are sent truncated (TC), so the client asks
again over TCP, as with a real server.
"""

from __future__ import annotations

import asyncio
import struct
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

FAULTS = ("nxdomain", "servfail", "silence", "refused")


@dataclass
class Zone:
    records: dict[tuple[dns.name.Name, int], list[dns.rdata.Rdata]] = field(default_factory=dict)
    faults: dict[dns.name.Name, str] = field(default_factory=dict)
    queries: Counter = field(default_factory=Counter)  # (name text, type text) -> count

    def add(self, name: str | dns.name.Name, rdtype: str, *values: str | dns.rdata.Rdata) -> None:
        owner = _name(name)
        kind = dns.rdatatype.from_text(rdtype)
        rdatas = self.records.setdefault((owner, kind), [])
        for value in values:
            if isinstance(value, str):
                value = dns.rdata.from_text(dns.rdataclass.IN, kind, value)
            rdatas.append(value)

    def fault(self, name: str | dns.name.Name, kind: str) -> None:
        """Answer every query for `name` with `kind`: nxdomain, servfail, refused, silence."""
        assert kind in FAULTS, kind
        self.faults[_name(name)] = kind

    def answer(self, wire: bytes, max_size: int | None) -> bytes | None:
        """The reply to one query in wire format, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        self.queries[(question.name.to_text(), dns.rdatatype.to_text(question.rdtype))] += 1
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        fault = self.faults.get(question.name)
        if fault == "silence":
            return None
        if fault is not None:
            response.set_rcode(
                {
                    "nxdomain": dns.rcode.NXDOMAIN,
                    "servfail": dns.rcode.SERVFAIL,
                    "refused": dns.rcode.REFUSED,
                }[fault]
            )
            return response.to_wire()
        rdatas = self.records.get((question.name, question.rdtype))
        if rdatas:
            rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)
            for rdata in rdatas:
                rrset.add(rdata, ttl=60)
            response.answer.append(rrset)
        elif not any(owner == question.name for owner, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        try:
            return response.to_wire(max_size=max_size or 65535)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            return truncated.to_wire()


def _name(name: str | dns.name.Name) -> dns.name.Name:
    return name if isinstance(name, dns.name.Name) else dns.name.from_text(name)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        reply = self.zone.answer(data, 1232)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def serve(zone: Zone, address: str, port: int) -> list:
    """Start UDP and TCP listeners on (address, port); returns what to close."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Udp(zone), local_addr=(address, port)
    )

    async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                reply = zone.answer(await reader.readexactly(size), None)
                if reply is None:
                    await asyncio.sleep(30)
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(tcp, address, port, reuse_address=True)
    return [transport, server]
