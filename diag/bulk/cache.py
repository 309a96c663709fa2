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
import random
import socket
import struct
from collections import OrderedDict
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

DNS_ENTRIES = 10_000  # a dnspython Answer keeps its whole message: a few KB each
# Queries in flight at once: a burst of thousands of UDP queries overflows a DNS
# server's receive buffer (measured on the lab's: 1,000 of 1,500 lost), and a lost
# query costs a whole timeout.
DNS_IN_FLIGHT = 128
# ... but a question the server never answers (a silent domain's) holds its place only
# this long: otherwise a hundred silent domains fill every place for a whole timeout,
# the other domains' questions queue behind them, and their answers (and a silent
# domain's own outcome) come to depend on what else the run had in flight.
DNS_SLOT_HOLD = 0.5
# dnspython opens a socket per query (measured here: ~170 queries/s at most, the run's
# bound). The scan keeps a few UDP sockets open and matches answers by id and question;
# several sockets with random ids keep an off-path forger guessing port and id.
DNS_SOCKETS = 8
PROBE_ENTRIES = 5_000
# Definite answers are kept; a timeout or a server failure only while it is in flight,
# so one lost packet does not fail every domain that shares the name.
DEFINITE = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)


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


class _Lru(OrderedDict):
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

    Works through `diag.net.dns.make_resolver(..., cls=CachingResolver)`, so every
    lookup the core makes (query, resolve_addresses) goes through it unchanged.
    """

    stats: CacheStats
    _answers: _Lru

    def use(
        self, stats: CacheStats, size: int = DNS_ENTRIES, in_flight: int = DNS_IN_FLIGHT
    ) -> CachingResolver:
        self.stats = stats
        self._answers = _Lru(size)
        self._in_flight = in_flight
        self._slots: asyncio.Semaphore | None = None
        return self

    async def _ask(self, qname, rdtype, kwargs):  # type: ignore[no-untyped-def]
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._in_flight)
            self._udp = _UdpPool()
        await self._slots.acquire()
        slots, released = self._slots, False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                slots.release()

        timer = asyncio.get_running_loop().call_later(DNS_SLOT_HOLD, release)
        try:
            answer = await self._udp_resolve(qname, rdtype)
            if answer is None:  # truncated, or a server we cannot ask over UDP: dnspython
                return await super().resolve(qname, rdtype, **kwargs)
            return answer
        finally:
            timer.cancel()
            release()

    async def _udp_resolve(self, qname, rdtype):  # type: ignore[no-untyped-def]
        """One question over the shared sockets, with dnspython's errors and Answer."""
        name = dns.name.from_text(qname) if isinstance(qname, str) else qname
        question = _Question(name, dns.rdatatype.RdataType.make(rdtype), self.edns, self.payload)
        loop = asyncio.get_running_loop()
        end = loop.time() + (self.lifetime or 5.0)
        errors = []
        answer: asyncio.Future = loop.create_future()
        keys: list[tuple[int, int]] = []  # every attempt's (socket, id): a late answer counts
        try:
            return await self._attempts(question, end, errors, answer, keys)
        finally:
            self._udp.forget(keys)

    async def _attempts(self, question, end, errors, answer, keys):  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        name = question.name
        while loop.time() < end:
            for server in self.nameservers:
                address = str(server)
                # At least two tries within the lifetime: a lost packet is not a failure.
                lifetime = self.lifetime or 5.0
                wait = min(self.timeout or 2.0, max(0.5, lifetime / 2), end - loop.time())
                if wait <= 0:
                    break
                try:
                    response = await self._udp.ask(question, address, self.port, wait, answer, keys)
                except TimeoutError:
                    errors.append((address, False, self.port, "timeout", None))
                    continue
                if response.flags & dns.flags.TC:
                    return None
                if isinstance(response, _Negative):  # read from the header alone
                    bare = response.message(question)
                    if response.nxdomain:
                        raise dns.resolver.NXDOMAIN(qnames=[name], responses={name: bare})
                    raise dns.resolver.NoAnswer(response=bare)
                rcode = response.rcode()
                if rcode == dns.rcode.NXDOMAIN:
                    raise dns.resolver.NXDOMAIN(qnames=[name], responses={name: response})
                if rcode != dns.rcode.NOERROR:
                    errors.append((address, False, self.port, dns.rcode.to_text(rcode), response))
                    raise dns.resolver.NoNameservers(request=question.query(), errors=errors)
                result = dns.resolver.Answer(name, question.rdtype, dns.rdataclass.IN, response)
                if result.rrset is None:
                    raise dns.resolver.NoAnswer(response=response)
                return result
        raise dns.resolver.LifetimeTimeout(timeout=self.lifetime, errors=errors)

    async def resolve(self, qname, rdtype="A", *args, **kwargs):  # type: ignore[override]
        if args or set(kwargs) - {"search"}:
            return await super().resolve(qname, rdtype, *args, **kwargs)
        key = (str(qname).lower().rstrip("."), str(rdtype).upper())
        task = self._answers.get(key)
        if task is None:
            self.stats.dns_misses += 1
            task = asyncio.ensure_future(self._ask(qname, rdtype, kwargs))
            task.add_done_callback(lambda t, key=key: self._settled(key, t))
            self._answers.remember(key, task)
        else:
            self.stats.dns_hits += 1
            self._answers.move_to_end(key)
        try:
            return await asyncio.shield(task)
        except dns.exception.DNSException as exc:
            raise exc.with_traceback(None) from None  # one shared exception, no growing tb

    def _settled(self, key: tuple, task: asyncio.Future) -> None:
        if task.cancelled():
            self._answers.pop(key, None)
            return
        error = task.exception()
        passing = error is not None and not isinstance(error, DEFINITE)
        if passing and self._answers.get(key) is task:
            del self._answers[key]


class _UdpPool:
    """A few UDP sockets shared by every query of the run; answers matched by
    (id, question), anything else dropped."""

    def __init__(self, size: int = DNS_SOCKETS) -> None:
        self._size = size
        self._sockets: list[asyncio.DatagramTransport] = []
        self._waiting: dict[tuple[int, int], tuple[list, asyncio.Future]] = {}
        self._opening: asyncio.Future | None = None

    async def _open(self, address: str) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        for index in range(self._size):
            transport, _ = await loop.create_datagram_endpoint(
                lambda index=index: _Receiver(self, index), family=family
            )
            with contextlib.suppress(OSError):  # room for a burst of answers
                transport.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20
                )
            self._sockets.append(transport)

    def close(self) -> None:
        for transport in self._sockets:
            transport.close()

    async def ask(
        self,
        question: _Question,
        address: str,
        port: int,
        wait: float,
        answer: asyncio.Future,
        keys: list[tuple[int, int]],
    ) -> dns.message.Message | _Negative:
        """Send `question` once more (a fresh id on a random socket) and wait up to `wait`
        for `answer`, which an answer to this or any earlier attempt settles."""
        if not self._sockets:
            if self._opening is None:
                self._opening = asyncio.ensure_future(self._open(address))
            await asyncio.shield(self._opening)
        index = random.randrange(len(self._sockets))
        while True:
            query_id = random.randrange(65536)
            if (index, query_id) not in self._waiting:
                break
        self._waiting[(index, query_id)] = (question, answer)
        keys.append((index, query_id))
        self._sockets[index].sendto(question.wire(query_id), (address, port))
        async with asyncio.timeout(wait):
            return await asyncio.shield(answer)

    def forget(self, keys: list[tuple[int, int]]) -> None:
        for key in keys:
            self._waiting.pop(key, None)

    def received(self, index: int, data: bytes) -> None:
        if len(data) < 12:
            return
        entry = self._waiting.get((index, int.from_bytes(data[:2], "big")))
        if entry is None or entry[1].done():
            return
        question, future = entry
        negative = _Negative.read(data, question)
        if negative is not None:
            future.set_result(negative)
            return
        try:
            response = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if response.flags & dns.flags.QR and question.asked(response):
            future.set_result(response)


class _Question:
    """One question and its wire form (built by hand: dnspython's Message costs more
    than the whole exchange with a nearby server)."""

    __slots__ = ("_header_rest", "_tail", "name", "name_wire", "rdtype", "section")

    def __init__(self, name: dns.name.Name, rdtype: int, edns: int | None, payload: int) -> None:
        self.name = name
        self.rdtype = rdtype
        sent = name.to_wire()
        self.name_wire = sent.lower()  # answers are compared without regard to case
        self.section = self.name_wire + _TYPE_CLASS.pack(rdtype, dns.rdataclass.IN)
        self._tail = sent + self.section[len(sent) :]
        additional = 0
        if edns is not None and edns >= 0:  # an OPT record, as dnspython's make_query
            self._tail += b"\x00" + _OPT.pack(dns.rdatatype.OPT, payload, 0, edns, 0, 0)
            additional = 1
        self._header_rest = (dns.flags.RD, 1, 0, 0, additional)

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


class _Negative:
    """NXDOMAIN or no data, told by the header: nothing else in the answer but the
    question and at most an empty OPT record with no extended rcode."""

    __slots__ = ("flags", "nxdomain")

    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.nxdomain = flags & 0xF == dns.rcode.NXDOMAIN

    @classmethod
    def read(cls, data: bytes, question: _Question) -> _Negative | None:
        _, flags, questions, answers, authority, additional = _HEADER.unpack_from(data)
        if not flags & dns.flags.QR or flags & 0xF not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return None
        if (questions, answers, authority) != (1, 0, 0) or additional > 1:
            return None
        size = len(question.name_wire)
        end = 12 + len(question.section)
        if data[12 : 12 + size].lower() != question.name_wire:
            return None
        if data[12 + size : end] != question.section[size:]:
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
_TYPE_CLASS = struct.Struct("!HH")
_OPT = struct.Struct("!HHBBHH")  # type, payload (as class), ext. rcode, version, flags, size


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, pool: _UdpPool, index: int) -> None:
        self._pool = pool
        self._index = index

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self._pool.received(self._index, data)


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
        self._results = _Lru(size)

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
