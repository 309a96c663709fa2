"""Read the server's first answer to a ClientHello: a ServerHello or an alert.

The parser is pure and incremental: `parse(data)` says what the bytes so far are, or
that it needs more. It trusts no length field: every one is checked against what
arrived and against fixed ceilings, so truncated, oversized or garbage input ends in a
`Garbage` answer, never an exception or an unbounded read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_RECORD = 16384 + 2048  # TLSCiphertext limit (RFC 5246 6.2.3)
MAX_HELLO = 16384  # a ServerHello is far smaller; anything bigger is not one
MAX_RESPONSE = 64 * 1024  # most bytes the scanner reads from one answer
HELLO_RETRY_RANDOM = bytes.fromhex(
    "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"
)

ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    47: "illegal_parameter",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    120: "no_application_protocol",
}


@dataclass(frozen=True)
class ServerHello:
    version: int  # the version actually negotiated (supported_versions for TLS 1.3)
    suite: int
    retry: bool = False  # a TLS 1.3 HelloRetryRequest: the version is accepted all the same


@dataclass(frozen=True)
class Alert:
    level: int
    description: int

    @property
    def name(self) -> str:
        return ALERTS.get(self.description, f"alert {self.description}")


@dataclass(frozen=True)
class Garbage:
    reason: str


class NeedMore:
    """Not enough bytes yet to say what the answer is."""


NEED_MORE = NeedMore()
Answer = ServerHello | Alert | Garbage


def parse(data: bytes) -> Answer | NeedMore:
    """What the server's bytes so far amount to."""
    handshake = bytearray()
    offset = 0
    while True:
        head = data[offset : offset + 2]
        if (head[:1] and head[0] not in (20, 21, 22, 23)) or head[1:2] not in (b"", b"\x03"):
            return Garbage(_not_tls(data[offset:]))  # said at once: no waiting for more
        if len(data) - offset < 5:
            return NEED_MORE
        kind, major, _minor, length = struct.unpack_from("!BBBH", data, offset)
        if major != 3 or kind not in (20, 21, 22, 23):
            return Garbage(_not_tls(data[offset:]))
        if length == 0 or length > MAX_RECORD:
            return Garbage(f"a TLS record of impossible length {length}")
        if len(data) - offset - 5 < length:
            return NEED_MORE
        fragment = data[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if kind == 21:
            if handshake:
                return Garbage("an alert in the middle of a handshake message")
            if length < 2:
                return Garbage("a truncated alert")
            return Alert(fragment[0], fragment[1])
        if kind != 22:
            return Garbage("a record other than a handshake before the ServerHello")
        handshake += fragment
        if len(handshake) < 4:
            continue
        message_type = handshake[0]
        size = int.from_bytes(handshake[1:4], "big")
        if message_type != 2:
            return Garbage(f"handshake message type {message_type} instead of a ServerHello")
        if size > MAX_HELLO:
            return Garbage(f"a ServerHello of impossible length {size}")
        if len(handshake) - 4 >= size:
            return _server_hello(bytes(handshake[4 : 4 + size]))


def _not_tls(data: bytes) -> str:
    if data[:3].isdigit() or data[:1] in (b"*", b"+", b"-"):
        return "the server answered in plaintext, not TLS"
    if data[:1] and data[0] & 0x80:
        return "an SSLv2 answer or garbage"
    return "not a TLS record"


def _server_hello(body: bytes) -> Answer:
    try:
        (legacy_version,) = struct.unpack_from("!H", body, 0)
        random = body[2:34]
        if len(random) != 32:
            raise ValueError
        session_length = body[34]
        offset = 35 + session_length
        (suite,) = struct.unpack_from("!H", body, offset)
        offset += 3  # suite, compression method
        if offset > len(body):
            raise ValueError
        version = legacy_version
        if offset + 2 <= len(body):
            (total,) = struct.unpack_from("!H", body, offset)
            offset += 2
            end = offset + total
            if end > len(body):
                raise ValueError
            while offset + 4 <= end:
                kind, size = struct.unpack_from("!HH", body, offset)
                offset += 4
                if offset + size > end:
                    raise ValueError
                if kind == 43 and size == 2:  # supported_versions: the TLS 1.3 answer
                    (version,) = struct.unpack_from("!H", body, offset)
                offset += size
    except (struct.error, IndexError, ValueError):
        return Garbage("a malformed ServerHello")
    return ServerHello(version, suite, retry=random == HELLO_RETRY_RANDOM)
