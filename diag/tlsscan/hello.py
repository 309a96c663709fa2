"""Hand-built ClientHello messages: exactly the version and suites one question needs.

Nothing here depends on the local OpenSSL, so SSLv3, EXPORT or RC4 can be offered even
where OpenSSL has them compiled out. The scanner never finishes a handshake: the
server's first answer (ServerHello or alert) is all it reads.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

from diag.tlsscan.suites import SCSV_RENEGOTIATION, VERSIONS

HANDSHAKE = 22
CLIENT_HELLO = 1

_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101)  # x25519, P-256/384/521, ffdhe
_SIGNATURES_12 = (
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
    0x0807, 0x0808, 0x0203, 0x0201, 0x0402, 0x0202,
)  # fmt: skip
_SIGNATURES_13 = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0401, 0x0501)
X25519_BASEPOINT = bytes([9]) + bytes(31)  # a valid public key; the secret never matters


def _u8(data: bytes) -> bytes:
    return struct.pack("!B", len(data)) + data


def _u16(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def _codes(values: Iterable[int]) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def _extension(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", kind) + _u16(body)


def _server_name(host: str) -> bytes:
    name = host.encode("ascii", errors="ignore")[:253]
    return _extension(0, _u16(b"\x00" + _u16(name)))


def client_hello(version: str, suites: Iterable[int], server_name: str | None = None) -> bytes:
    """One TLS record holding a ClientHello that offers only `version` and `suites`.

    SSLv3 carries no extensions; TLS 1.0-1.2 offer the usual ones (signature
    algorithms only from 1.2, as RFC 5246 asks); TLS 1.3 says so in
    supported_versions with an X25519 key share.
    """
    code = VERSIONS[version]
    suite_list = list(dict.fromkeys(suites))
    extensions: list[bytes] = []
    if code >= VERSIONS["TLSv1"]:
        if server_name:
            extensions.append(_server_name(server_name))
        extensions.append(_extension(10, _u16(_codes(_GROUPS))))  # supported_groups
        extensions.append(_extension(11, _u8(b"\x00")))  # ec_point_formats: uncompressed
        extensions.append(_extension(23, b""))  # extended_master_secret
        extensions.append(_extension(35, b""))  # session_ticket
    if code == VERSIONS["TLSv1.2"]:
        extensions.append(_extension(13, _u16(_codes(_SIGNATURES_12))))
    if code == VERSIONS["TLSv1.3"]:
        extensions.append(_extension(13, _u16(_codes(_SIGNATURES_13))))
        extensions.append(_extension(43, _u8(_codes([code]))))  # supported_versions
        share = struct.pack("!H", 0x001D) + _u16(X25519_BASEPOINT)
        extensions.append(_extension(51, _u16(share)))  # key_share
        extensions.append(_extension(45, _u8(b"\x01")))  # psk_key_exchange_modes: psk_dhe
    else:
        suite_list.append(SCSV_RENEGOTIATION)
    legacy_version = min(code, VERSIONS["TLSv1.2"])
    body = (
        struct.pack("!H", legacy_version)
        + os.urandom(32)
        + _u8(os.urandom(32) if code == VERSIONS["TLSv1.3"] else b"")
        + _u16(_codes(suite_list))
        + _u8(b"\x00")  # compression: null only
    )
    if extensions:
        joined = b"".join(extensions)
        # Some servers choke on hellos of 256-511 bytes: pad past them (RFC 7685).
        size = len(body) + 2 + len(joined) + 4
        if 256 <= size < 512:
            joined += _extension(21, bytes(max(512 - size - 4, 0)))
        body += _u16(joined)
    message = struct.pack("!B", CLIENT_HELLO) + struct.pack("!I", len(body))[1:] + body
    record_version = VERSIONS["SSLv3"] if code == VERSIONS["SSLv3"] else VERSIONS["TLSv1"]
    return struct.pack("!BH", HANDSHAKE, record_version) + _u16(message)
