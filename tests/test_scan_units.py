"""The scan's pieces that need no network: input, shards, resume, the gate, busy, DNS wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diag.bulk.cache import _Negative, _Question
from diag.bulk.limits import HostGate, is_busy
from diag.bulk.output import done_targets
from diag.bulk.processes import share
from diag.bulk.scanner import ScanOptions
from diag.bulk.targets import digest, parse, parse_shard, select, shard_of, split_host_port
from diag.errors import BadInput
from diag.model import Greeting, Reachability, Security, ServiceResult, ServiceSpec


def test_input_lines() -> None:
    lines = ["# comment", "", "  example.com  ", '{"target": "a@b.example"}', '{"x": 1}']
    assert list(select(lines)) == ["example.com", "a@b.example", '{"x": 1}']
    assert parse('{"x": 1}', probe=False).error
    assert parse("bad..name", probe=False).error
    assert parse("x" * 5000, probe=False).error and len(parse("x" * 5000, probe=False).text) == 1024
    assert parse("jane@example.com", probe=False).error is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail.example.com", ("mail.example.com", None)),
        ("mail.example.com:993", ("mail.example.com", 993)),
        ("192.0.2.1:25", ("192.0.2.1", 25)),
        ("[2001:db8::1]:993", ("2001:db8::1", 993)),
        ("2001:db8::1", ("2001:db8::1", None)),
    ],
)
def test_probe_targets(text: str, expected: tuple) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize("text", ["host:0", "host:99999", "host:", "[::1", "bad..host:25"])
def test_bad_probe_targets(text: str) -> None:
    with pytest.raises(BadInput):
        split_host_port(text)


def test_shards_partition_and_are_stable() -> None:
    names = [f"d{i}.example" for i in range(3000)]
    parts = [list(select(names, shard=(k, 4))) for k in range(4)]
    assert sorted(n for p in parts for n in p) == sorted(names)
    assert all(500 < len(p) < 1000 for p in parts)
    assert shard_of("Example.COM", 7) == shard_of("example.com", 7)
    assert shard_of("example.com", 1000) == 309  # the same on every machine and version
    for bad in ("4/4", "x/2", "1", "1/0"):
        with pytest.raises(BadInput):
            parse_shard(bad)


def test_resume_reads_targets_and_drops_a_cut_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"target": "a.example"}\n{"target": "b.example"}\n{"target": "c.exa')
    done = done_targets(out)
    assert done == {digest("a.example"), digest("b.example")}
    assert out.read_text().endswith('"b.example"}\n')
    assert list(select(["a.example", "c.example"], done=done)) == ["c.example"]
    assert done_targets(tmp_path / "missing.jsonl") == set()


def test_gate_caps_per_host_and_in_all() -> None:
    async def run() -> tuple[dict[str, int], int]:
        gate = HostGate(per_host=2, total=3)
        now: dict[str, int] = {}
        peak: dict[str, int] = {}
        peak_total = 0

        async def use(address: str) -> None:
            nonlocal peak_total
            release = await gate(address)
            now[address] = now.get(address, 0) + 1
            peak[address] = max(peak.get(address, 0), now[address])
            peak_total = max(peak_total, sum(now.values()))
            await asyncio.sleep(0.01)
            now[address] -= 1
            release()
            release()  # twice is harmless

        await asyncio.gather(*(use(f"192.0.2.{i % 2}") for i in range(30)))
        assert gate._hosts == {}  # idle hosts forgotten
        return peak, peak_total

    peak, peak_total = asyncio.run(run())
    assert max(peak.values()) == 2 and peak_total == 3


@pytest.mark.parametrize(
    ("protocol", "status", "text", "busy"),
    [
        ("smtp", "421", "421 4.7.0 try later", True),
        ("smtp", "554", "554 go away", False),
        ("imap", "BYE", "* BYE too many connections", True),
        ("imap", "OK", "* OK ready", False),
        ("pop3", "-ERR", "-ERR [SYS/TEMP] busy", True),
        ("pop3", "-ERR", "-ERR [SYS/PERM] no", False),
    ],
)
def test_busy_greetings(protocol: str, status: str, text: str, busy: bool) -> None:
    result = ServiceResult(ServiceSpec(protocol, 1, Security.TLS), True, Reachability.CONNECTED)
    result.greeting = Greeting(ok=status in ("OK", "+OK", "220"), status=status, text=text)
    assert is_busy(result) is busy


def _query_and_question() -> tuple[dns.message.Message, _Question]:
    name = dns.name.from_text("Autoconfig.Example.COM")
    query = dns.message.make_query(name, "A", use_edns=0, payload=1232)
    return query, _Question(name, dns.rdatatype.A, 0, 1232)


def test_dns_question_is_the_wire_dnspython_sends() -> None:
    query, question = _query_and_question()
    query.id = 4242
    assert question.wire(4242) == query.to_wire()
    plain = dns.message.make_query("a.example", "MX")  # no EDNS
    plain.id = 7
    assert _Question(dns.name.from_text("a.example"), dns.rdatatype.MX, -1, 0).wire(7) == (
        plain.to_wire()
    )


def test_dns_negative_answers_are_read_from_the_header_alone() -> None:
    query, question = _query_and_question()
    nxdomain = dns.message.make_response(query)
    nxdomain.set_rcode(dns.rcode.NXDOMAIN)
    read = _Negative.read(nxdomain.to_wire(), question)
    assert read is not None and read.nxdomain
    assert read.message(question).question == query.question
    nodata = _Negative.read(dns.message.make_response(query).to_wire(), question)
    assert nodata is not None and not nodata.nxdomain
    # Anything more than the bare header, question and OPT: the full parser decides.
    answered = dns.message.make_response(query)
    answered.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.1"))
    assert _Negative.read(answered.to_wire(), question) is None
    servfail = dns.message.make_response(query)
    servfail.set_rcode(dns.rcode.SERVFAIL)
    assert _Negative.read(servfail.to_wire(), question) is None
    badvers = dns.message.make_response(query)
    badvers.set_rcode(dns.rcode.BADVERS)  # an extended rcode: its low bits say NOERROR
    assert _Negative.read(badvers.to_wire(), question) is None
    other = dns.message.make_query("other.example.com", "A", use_edns=0, payload=1232)
    assert _Negative.read(dns.message.make_response(other).to_wire(), question) is None
    assert _Negative.read(nxdomain.to_wire() + b"junk", question) is None


def _negative_with_soa(rcode: int = dns.rcode.NXDOMAIN) -> tuple[bytes, _Question]:
    """A negative answer as resolvers send it: the zone's SOA in the authority section,
    its owner and names compressed against the question."""
    query, question = _query_and_question()
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    soa = "ns.example.com. hostmaster.example.com. 2026120401 3600 600 604800 300"
    response.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "SOA", soa))
    return response.to_wire(), question


def test_dns_negative_answers_with_the_zone_soa_are_read_without_the_parser() -> None:
    wire, question = _negative_with_soa()
    assert b"\xc0" in wire[len(question.section) + 12 :]  # the names are compressed
    read = _Negative.read(wire, question)
    assert read is not None and read.nxdomain
    nodata = _Negative.read(_negative_with_soa(dns.rcode.NOERROR)[0], question)
    assert nodata is not None and not nodata.nxdomain
    # Uncompressed names are read as well.
    query, _ = _query_and_question()
    plain = dns.message.make_response(query)
    plain.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "SOA", "a. b. 1 2 3 4 5"))
    assert _Negative.read(plain.to_wire(origin=None), question) is not None


def test_dns_negative_answers_the_full_parser_must_judge() -> None:
    wire, question = _negative_with_soa()
    soa = 12 + len(question.section)  # the SOA record's first byte
    # The owner points forwards, at itself, or at a label type that does not exist.
    for pointer in (b"\xc0\xff", bytes([0xC0 | soa >> 8, soa & 0xFF]), b"\x80\x0c"):
        bad = wire[:soa] + pointer + wire[soa + 2 :]
        assert _Negative.read(bad, question) is None
    # The rdata is one byte short, one byte long, or cut off.
    size = soa + 2 + 8
    rdlength = int.from_bytes(wire[size : size + 2], "big")
    for other in (rdlength - 1, rdlength + 1):
        bad = wire[:size] + other.to_bytes(2, "big") + wire[size + 2 :]
        assert _Negative.read(bad, question) is None
    assert _Negative.read(wire[:-12], question) is None
    assert _Negative.read(wire + b"\x00", question) is None
    # Not an SOA, or not class IN.
    as_ns = wire[: soa + 2] + b"\x00\x02" + wire[soa + 4 :]
    assert _Negative.read(as_ns, question) is None
    chaos = wire[: soa + 4] + b"\x00\x03" + wire[soa + 6 :]
    assert _Negative.read(chaos, question) is None
    # Two records in the authority section.
    query, _ = _query_and_question()
    two = dns.message.make_response(query)
    two.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "NS", "a.", "b."))
    assert _Negative.read(two.to_wire(), question) is None


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_dns_negative_fast_path_agrees_with_dnspython(data: st.DataObject) -> None:
    """Whatever bytes the fast path accepts, dnspython reads as the same empty answer."""
    wire, question = _negative_with_soa(data.draw(st.sampled_from([0, 3])))
    mutated = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(12 + len(question.section), len(wire) - 1))
        mutated[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(wire) - 30, len(wire) + 2))
    mutated = bytes(mutated[:cut]) + b"\x00" * max(0, cut - len(wire))
    read = _Negative.read(mutated, question)
    if read is None:
        return
    message = dns.message.from_wire(mutated)
    assert message.rcode() == read.flags & 0xF and not message.answer
    assert message.flags == read.flags


def test_worker_processes_share_the_caps() -> None:
    options = ScanOptions(concurrency=64, connections=256, per_host=2, dns_in_flight=128)
    each, workers = share(options, 4)
    assert workers == 2  # never more workers than connections per host
    assert (each.per_host, each.connections, each.concurrency, each.dns_in_flight) == (
        1,
        128,
        32,
        64,
    )
    assert share(options, 1) == (options, 1)
    assert share(ScanOptions(per_host=1), 8)[1] == 1
    odd, workers = share(ScanOptions(per_host=5, concurrency=7), 2)
    assert workers == 2 and odd.per_host * 2 <= 5 and odd.concurrency * 2 >= 7


@pytest.mark.parametrize(
    "name", ["a.example", "A-b_c.Example.", "x" * 63 + ".example", ".".join(["a" * 60] * 4)]
)
def test_question_from_text_as_dnspython_writes_it(name: str) -> None:
    parsed = dns.name.from_text(name)
    by_hand = _Question(name, dns.rdatatype.MX, 0, 1232)
    assert by_hand.wire(9) == _Question(parsed, dns.rdatatype.MX, 0, 1232).wire(9)
    assert by_hand.name == parsed


@pytest.mark.parametrize("name", ["caf\u00e9.example", "a\\.b.example", "a..b", "x" * 64 + ".a"])
def test_question_from_odd_text_left_to_dnspython(name: str) -> None:
    try:
        parsed = dns.name.from_text(name)
    except dns.exception.DNSException:
        with pytest.raises(dns.exception.DNSException):
            _Question(name, dns.rdatatype.A, 0, 1232)
        return
    assert _Question(name, dns.rdatatype.A, 0, 1232).wire(1) == _Question(
        parsed, dns.rdatatype.A, 0, 1232
    ).wire(1)
