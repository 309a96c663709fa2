"""A tiny authoritative DNS server on loopback, built on dnspython, for the answers
dnsmasq will not give on demand: NXDOMAIN for chosen names (or for every name, as a
filtering resolver does), and records pointing at scripted hosts.

Runs in a thread of its own (UDP only; answers are small). A name with no record at
all is NXDOMAIN; a name with records of other types gets an empty NOERROR answer.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsStub:
    """Serve `records` {(name, type): [rdata text]}; everything else is NXDOMAIN."""

    def __init__(
        self,
        address: str,
        port: int,
        records: dict[tuple[str, str], list[str]],
        *,
        deny_all: bool = False,
    ) -> None:
        self.address, self.port = address, port
        self.records = {(n.lower().rstrip("."), t.upper()): v for (n, t), v in records.items()}
        self.names = {n for n, _ in self.records}
        self.deny_all = deny_all
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((address, port))
        self._sock.settimeout(0.2)
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    def answer(self, wire: bytes) -> bytes:
        request = dns.message.from_wire(wire)
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        question = request.question[0]
        name = question.name.to_text().lower().rstrip(".")
        rdtype = dns.rdatatype.to_text(question.rdtype)
        if self.deny_all or name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            values = self.records.get((name, rdtype), [])
            if values:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, "IN", rdtype, values)
                )
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stopping:
            try:
                wire, peer = self._sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            with suppress(Exception):  # a malformed query gets no answer
                self._sock.sendto(self.answer(wire), peer)

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(2)
        self._sock.close()
