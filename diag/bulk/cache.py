"""One run's shared memory: DNS answers and probe results, each asked for once.

Ten thousand domains hosted by one provider point at the same few mail hosts: their
addresses are resolved once and each of their services probed once, by (addresses,
port, SNI name, protocol, security). Concurrent askers join the question in flight.
Both caches are bounded (least recently used out), so memory does not grow with the
input; an entry in use is never lost, only forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import re
import socket
import struct
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from diag.bulk.limits import is_busy
from diag.model import ServiceResult
from diag.net.dns import LookupFailed, failed

DNS_ENTRIES = 10_000  # records or a failure: well under a KB each
# Queries in flight at once: a burst of thousands of UDP queries overflows a DNS
# server's receive buffer (measured on the lab's: 1,000 of 1,500 lost), and a lost
# query costs a whole timeout.
DNS_IN_FLIGHT = 128
# ... but a question the server never answers (a silent domain's) holds its place only
# a little longer than answers take (a retransmission timer's estimate, RFC 6298:
# smoothed round trip + 4 x its variation), between these bounds. A question the server
# has not answered by then has left its receive buffer. Otherwise a hundred silent
# domains, 25 questions each, fill every place: the other domains' questions queue
# behind them (measured: with a fixed 0.5 s, that queue bounded the whole scan), and
# their answers come to depend on what else the run had in flight.
DNS_SLOT_HOLD = 0.5  # until the first answer, and at most
DNS_SLOT_HOLD_MIN = 0.02
# dnspython opens a socket per query (measured here: ~170 queries/s at most, the run's
# bound). The scan keeps a few UDP sockets open and matches answers by id and question;
# several sockets with random ids keep an off-path forger guessing port and id.
DNS_SOCKETS = 8
PROBE_ENTRIES = 5_000


@dataclass
class CacheStats:
    dns_hits: int = 0
    dns_misses: int = 0
    probe_hits: int = 0
    probe_misses: int = 0
    busy_retries: int = 0

    def add(self, other: CacheStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @staticmethod
    def rate(hits: int, misses: int) -> float | None:
        return round(hits / (hits + misses), 3) if hits + misses else None


class Lru(OrderedDict):
    """A bounded mapping: past `size` entries, the least recently remembered goes."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class CachingResolver(dns.asyncresolver.Resolver):
    """dnspython's resolver, asked at most once per (name, type) while the answer lasts.

    Works through `diag.net.dns.make_resolver(..., cls=CachingResolver)`; every lookup
    the core makes goes through `diag.net.dns.query`, which uses `records` below. The
    questions go over a few shared UDP sockets (`_Exchange`); dnspython's own
    `resolve` is kept for what UDP cannot carry (a truncated answer).
    """

    stats: CacheStats
    _outcomes: Lru

    def use(
        self, stats: CacheStats, size: int = DNS_ENTRIES, in_flight: int = DNS_IN_FLIGHT
    ) -> CachingResolver:
        self.stats = stats
        self._outcomes = Lru(size)
        self._in_flight = in_flight
        self._exchange: _Exchange | None = None
        return self

    async def records(self, name: str, rdtype: str) -> list:
        """As `diag.net.dns.query`: the records, [] for none, or LookupFailed; within
        the resolver's lifetime, waiting for a free place included."""
        key = (name.lower().rstrip("."), rdtype.upper())
        outcome = self._outcomes.get(key)
        if outcome is None:
            self.stats.dns_misses += 1
            if self._exchange is None:
                self._exchange = _Exchange(self, self._in_flight)
            outcome = self._exchange.ask(name, rdtype)
            outcome.add_done_callback(lambda f, key=key: self._settled(key, f))
            self._outcomes.remember(key, outcome)
        else:
            self.stats.dns_hits += 1
            self._outcomes.move_to_end(key)
        if not outcome.done():
            # A waiter of its own (a leaner shield): one asker giving up must not
            # cancel the question for every other asker.
            waiter = asyncio.get_running_loop().create_future()
            outcome.add_done_callback(lambda _, w=waiter: w.done() or w.set_result(None))
            await waiter
        value = outcome.result()
        if isinstance(value, LookupFailed):
            raise value.with_traceback(None) from None  # shared: no growing traceback
        return list(value)

    def _settled(self, key: tuple, outcome: asyncio.Future) -> None:
        """Definite answers stay; a timeout or a server failure only while in flight,
        so one lost packet does not fail every domain that shares the name."""
        definite = not outcome.cancelled() and (
            not isinstance(value := outcome.result(), LookupFailed) or value.kind == "nxdomain"
        )
        if not definite and self._outcomes.get(key) is outcome:
            del self._outcomes[key]

    def close(self) -> None:
        if self._exchange is not None:
            self._exchange.close()
            self._exchange = None


class _Exchange:
    """Questions and answers over a few UDP sockets shared by the whole run.

    Driven by callbacks, not a task per question: a scan asks tens of thousands of
    them, and the tasks, timeouts and shields around each were a quarter of its CPU.
    Answers are matched by (socket, id) and then by question; anything else is dropped.
    """

    def __init__(self, resolver: CachingResolver, in_flight: int) -> None:
        self.resolver = resolver
        self.loop = asyncio.get_running_loop()
        self.free = in_flight  # places for questions in flight
        self.srtt: float | None = None  # smoothed answer time, and its variation
        self.rttvar = 0.0
        self.queued: deque[_Query] = deque()
        self.waiting: dict[tuple[int, int], _Query] = {}
        # As the socket reports an answer's source, to compare it with the server asked.
        self.servers = [ipaddress.ip_address(str(s)).compressed for s in resolver.nameservers]
        self._sockets: dict[int, list[socket.socket]] = {}  # by address family
        self._all: list[socket.socket] = []

    def ask(self, name: str, rdtype: str) -> asyncio.Future:
        try:
            query = _Query(self, name, rdtype)
        except dns.exception.DNSException as exc:  # a name or type DNS cannot carry
            refused = self.loop.create_future()
            refused.set_result(failed(name, exc) or [])
            return refused
        if self.free > 0:
            query.start()
        else:
            self.queued.append(query)
            query.timer = self.loop.call_at(query.deadline, query.expired)
        return query.outcome

    def hold(self) -> float:
        """How long an unanswered question keeps its place (see DNS_SLOT_HOLD)."""
        if self.srtt is None:
            return DNS_SLOT_HOLD
        return min(DNS_SLOT_HOLD, max(DNS_SLOT_HOLD_MIN, self.srtt + 4 * self.rttvar))

    def answered_in(self, seconds: float) -> None:
        """One round trip measured (RFC 6298's smoothing, with its gains 1/8 and 1/4)."""
        if self.srtt is None:
            self.srtt, self.rttvar = seconds, seconds / 2
        else:
            self.rttvar += (abs(self.srtt - seconds) - self.rttvar) / 4
            self.srtt += (seconds - self.srtt) / 8

    def release(self) -> None:
        self.free += 1
        while self.queued and self.free > 0:
            query = self.queued.popleft()
            if not query.outcome.done():
                query.timer.cancel()
                query.start()

    def send(self, query: _Query, server: str, port: int) -> tuple[int, int]:
        """The question once more, with a fresh id on a random socket of its family."""
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        sockets = self._sockets.get(family) or self._open(family)
        index = random.randrange(len(sockets))
        while True:
            key = (sockets[index].fileno(), random.randrange(65536))
            if key not in self.waiting:
                break
        self.waiting[key] = query
        with contextlib.suppress(OSError):  # a full send buffer: a lost packet, retried
            sockets[index].sendto(query.question.wire(key[1]), (server, port))
        return key

    def _open(self, family: int) -> list[socket.socket]:
        sockets = []
        for _ in range(DNS_SOCKETS):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # room for a burst of answers
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.loop.add_reader(sock.fileno(), self._readable, sock)
            sockets.append(sock)
        self._sockets[family] = sockets
        self._all.extend(sockets)
        return sockets

    def _readable(self, sock: socket.socket) -> None:
        for _ in range(64):  # what has arrived, then back to the loop
            try:
                data, source = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable: the retry timer copes
                continue
            if len(data) >= 12:
                key = (sock.fileno(), int.from_bytes(data[:2], "big"))
                query = self.waiting.get(key)
                if query is not None and query.asked.get(key) == source[:2]:
                    query.received(data, source[0])

    def close(self) -> None:
        for sock in self._all:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(sock.fileno())
            sock.close()
        self._all.clear()
        self._sockets.clear()


class _Query:
    """One question's life: a place in flight, attempts over the servers, the outcome
    (records, or LookupFailed as a value, so nothing is raised when nobody listens)."""

    __slots__ = (
        "asked",
        "deadline",
        "errors",
        "exchange",
        "fallback",
        "holding",
        "name",
        "outcome",
        "question",
        "rdtype",
        "sent",
        "servers",
        "timer",
    )

    def __init__(self, exchange: _Exchange, name: str, rdtype: str) -> None:
        resolver = exchange.resolver
        self.exchange = exchange
        self.name = name
        self.rdtype = rdtype
        self.question = _Question(
            name, dns.rdatatype.RdataType.make(rdtype), resolver.edns, resolver.payload
        )
        self.outcome: asyncio.Future = exchange.loop.create_future()
        self.deadline = exchange.loop.time() + (resolver.lifetime or 5.0)
        self.servers = exchange.servers
        # Every attempt's (socket, id), and the server asked: a late answer counts.
        self.asked: dict[tuple[int, int], tuple[str, int]] = {}
        self.errors: list = []
        self.holding = False
        self.sent = 0.0  # when the first attempt went
        self.timer: asyncio.TimerHandle
        self.fallback: asyncio.Task | None = None  # held: a task nobody holds may vanish

    def start(self) -> None:
        exchange = self.exchange
        exchange.free -= 1
        self.holding = True
        self.sent = exchange.loop.time()
        exchange.loop.call_later(exchange.hold(), self.release)  # see DNS_SLOT_HOLD
        self.attempt()

    def release(self) -> None:
        if self.holding:
            self.holding = False
            self.exchange.release()

    def attempt(self) -> None:
        """Ask the next server; at least two tries within the lifetime, so that one
        lost packet is not a failure."""
        resolver = self.exchange.resolver
        lifetime = resolver.lifetime or 5.0
        now = self.exchange.loop.time()
        wait = min(resolver.timeout or 2.0, max(0.5, lifetime / 2), self.deadline - now)
        if wait <= 0:
            self.expired()
            return
        server = self.servers[len(self.asked) % len(self.servers)]
        self.asked[self.exchange.send(self, server, resolver.port)] = (server, resolver.port)
        self.timer = self.exchange.loop.call_later(wait, self.timed_out, server)

    def timed_out(self, server: str) -> None:
        self.errors.append((server, False, self.exchange.resolver.port, "timeout", None))
        if self.exchange.loop.time() < self.deadline:
            self.attempt()
        else:
            self.expired()

    def expired(self) -> None:
        self.finish(LookupFailed("timeout", f"DNS lookup of {self.name} timed out"))

    def received(self, data: bytes, server: str) -> None:
        if self.outcome.done():
            return
        if len(self.asked) == 1:  # Karn: an answer to a retried question times nothing
            self.exchange.answered_in(self.exchange.loop.time() - self.sent)
        question = self.question
        negative = _Negative.read(data, question)
        if negative is not None:
            if negative.flags & dns.flags.TC:
                self.over_tcp()
            elif negative.nxdomain:
                self.finish(LookupFailed("nxdomain", f"{self.name} does not exist (NXDOMAIN)"))
            else:
                self.finish([])
            return
        try:
            response = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if not response.flags & dns.flags.QR or not question.asked(response):
            return
        if response.flags & dns.flags.TC:
            self.over_tcp()
            return
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            self.finish(LookupFailed("nxdomain", f"{self.name} does not exist (NXDOMAIN)"))
            return
        if rcode != dns.rcode.NOERROR:
            port = self.exchange.resolver.port
            self.errors.append((server, False, port, dns.rcode.to_text(rcode), response))
            error = dns.resolver.NoNameservers(request=question.query(), errors=self.errors)
            self.finish(failed(self.name, error))
            return
        answer = dns.resolver.Answer(question.name, question.rdtype, dns.rdataclass.IN, response)
        self.finish(list(answer) if answer.rrset is not None else [])

    def over_tcp(self) -> None:
        """A truncated answer: dnspython asks again (over TCP), within the lifetime."""
        self.timer.cancel()
        if self.fallback is None:
            self.fallback = asyncio.ensure_future(self._over_tcp())

    async def _over_tcp(self) -> None:
        resolver = self.exchange.resolver
        remaining = max(0.0, self.deadline - self.exchange.loop.time())
        try:
            async with asyncio.timeout(remaining):
                answer = await dns.asyncresolver.Resolver.resolve(
                    resolver, self.name, self.rdtype, search=False
                )
        except TimeoutError:
            self.expired()
        except dns.exception.DNSException as exc:
            self.finish(failed(self.name, exc) or [])
        else:
            self.finish(list(answer))

    def finish(self, value: list | LookupFailed) -> None:
        if self.outcome.done():
            return
        self.timer.cancel()
        waiting = self.exchange.waiting
        for key in self.asked:
            waiting.pop(key, None)
        self.release()
        self.outcome.set_result(value)


class _Question:
    """One question and its wire form (built by hand: dnspython's Message costs more
    than the whole exchange with a nearby server). A plain name given as text is laid
    out by hand too, and parsed by dnspython only when an answer needs it."""

    __slots__ = ("_header_rest", "_name", "_tail", "_text", "name_wire", "rdtype", "section")

    def __init__(
        self, name: dns.name.Name | str, rdtype: int, edns: int | None, payload: int
    ) -> None:
        self._text = name if isinstance(name, str) else None
        self._name = None if isinstance(name, str) else name
        self.rdtype = rdtype
        sent = _plain_wire(name) if isinstance(name, str) else None
        if sent is None:
            sent = self.name.to_wire()
        self.name_wire = sent.lower()  # answers are compared without regard to case
        self.section = self.name_wire + _TYPE_CLASS.pack(rdtype, dns.rdataclass.IN)
        self._tail = sent + self.section[len(sent) :]
        additional = 0
        if edns is not None and edns >= 0:  # an OPT record, as dnspython's make_query
            self._tail += b"\x00" + _OPT.pack(dns.rdatatype.OPT, payload, 0, edns, 0, 0)
            additional = 1
        self._header_rest = (dns.flags.RD, 1, 0, 0, additional)

    @property
    def name(self) -> dns.name.Name:
        if self._name is None:
            assert self._text is not None
            self._name = dns.name.from_text(self._text)
        return self._name

    def wire(self, query_id: int) -> bytes:
        return _HEADER.pack(query_id, *self._header_rest) + self._tail

    def asked(self, response: dns.message.Message) -> bool:
        if len(response.question) != 1:
            return False
        rrset = response.question[0]
        return (
            rrset.name == self.name
            and rrset.rdtype == self.rdtype
            and rrset.rdclass == dns.rdataclass.IN
        )

    def query(self) -> dns.message.Message:
        return dns.message.make_query(self.name, self.rdtype)


_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")


def _plain_wire(text: str) -> bytes | None:
    """A name of letters, digits, hyphens and underscores in wire form, as dnspython
    writes it; None for anything else (escapes, non-ASCII, the root), left to dnspython."""
    if not _PLAIN_NAME.fullmatch(text):
        return None
    wire = b"".join(bytes((len(label),)) + label.encode() for label in text.rstrip(".").split("."))
    return wire + b"\x00" if len(wire) < 255 else None


class _Negative:
    """NXDOMAIN or no data, told without the full parser: nothing in the answer but the
    question, at most the zone's SOA in the authority section, and at most an empty OPT
    record with no extended rcode. Anything else goes to dnspython."""

    __slots__ = ("flags", "nxdomain")

    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.nxdomain = flags & 0xF == dns.rcode.NXDOMAIN

    @classmethod
    def read(cls, data: bytes, question: _Question) -> _Negative | None:
        _, flags, questions, answers, authority, additional = _HEADER.unpack_from(data)
        if not flags & dns.flags.QR or flags & 0xF not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return None
        if (questions, answers) != (1, 0) or authority > 1 or additional > 1:
            return None
        size = len(question.name_wire)
        end = 12 + len(question.section)
        if data[12 : 12 + size].lower() != question.name_wire:
            return None
        if data[12 + size : end] != question.section[size:]:
            return None
        if authority:
            end = _soa_end(data, end)
            if end is None:
                return None
        if additional == 0:
            return cls(flags) if len(data) == end else None
        # The OPT record: root name, type 41, payload, extended rcode 0, any version and
        # flags, no options.
        if len(data) != end + 11 or data[end : end + 3] != b"\x00\x00\x29" or data[end + 5]:
            return None
        if data[end + 9 : end + 11] != b"\x00\x00":
            return None
        return cls(flags)

    def message(self, question: _Question) -> dns.message.Message:
        """A Message with the header and the question, for dnspython's exceptions."""
        message = dns.message.Message()
        message.flags = self.flags
        message.question = [dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)]
        return message


_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_TYPE_CLASS = struct.Struct("!HH")
_OPT = struct.Struct("!HHBBHH")  # type, payload (as class), ext. rcode, version, flags, size


def _soa_end(data: bytes, at: int) -> int | None:
    """Where the SOA record at `at` ends, or None unless it is one dnspython reads too:
    an IN SOA whose rdata is exactly two names and five 32-bit numbers."""
    at = _name_end(data, at, len(data))
    if at is None or len(data) < at + 10:
        return None
    rdtype, rdclass, _, size = _RR.unpack_from(data, at)
    if rdtype != dns.rdatatype.SOA or rdclass != dns.rdataclass.IN:
        return None
    start = at + 10
    end = start + size
    if end > len(data):
        return None
    mname_end = _name_end(data, start, end)
    rname_end = None if mname_end is None else _name_end(data, mname_end, end)
    return end if rname_end is not None and rname_end + 20 == end else None


def _name_end(data: bytes, at: int, end: int) -> int | None:
    """Where the name at `at` ends in the message, or None where dnspython would refuse
    it: a label type other than length or pointer, a pointer not strictly backwards or
    into the name itself, more than 16 pointers, more than 255 bytes, or past `end`."""
    after = None  # where the name ends once a pointer has been followed
    bound = start = at
    length = 1
    hops = 0
    while at < end:
        count = data[at]
        if count == 0:
            return at + 1 if after is None else after
        if count < 64:
            at += 1 + count
            length += 1 + count
            if length > 255:
                return None
        elif count >= 192 and at + 1 < end:
            target = (count & 0x3F) << 8 | data[at + 1]
            hops += 1
            if target >= bound or hops > 16:
                return None
            if after is None:
                after = at + 2
            end = start  # the target must not overlap what was read of this name
            bound = start = at = target
        else:
            return None
    return None


class ProbeResults:
    """Probe results by service key, with the busy-server retries of the scan."""

    def __init__(
        self,
        stats: CacheStats,
        *,
        retries: int = 3,
        delay: float = 2.0,
        size: int = PROBE_ENTRIES,
    ) -> None:
        self.stats = stats
        self._retries = retries
        self._delay = delay
        self._results = Lru(size)

    async def service(
        self, key: tuple, probe: Callable[[], Awaitable[ServiceResult]]
    ) -> ServiceResult:
        task = self._results.get(key)
        if task is None:
            self.stats.probe_misses += 1
            # A task of its own: one checker giving up must not cancel it for the others.
            task = asyncio.ensure_future(self._patiently(probe))
            task.add_done_callback(lambda t, key=key: self._settled(key, t))
            self._results.remember(key, task)
        else:
            self.stats.probe_hits += 1
            self._results.move_to_end(key)
        return await asyncio.shield(task)

    async def _patiently(self, probe: Callable[[], Awaitable[ServiceResult]]) -> ServiceResult:
        """Probe; while the server says it is busy, wait longer each time and try again."""
        result = await probe()
        for attempt in range(self._retries):
            if not is_busy(result):
                break
            self.stats.busy_retries += 1
            await asyncio.sleep(self._delay * 2**attempt)
            result = await probe()
        return result

    def _settled(self, key: tuple, task: asyncio.Future) -> None:
        if (task.cancelled() or task.exception() is not None) and self._results.get(key) is task:
            del self._results[key]
