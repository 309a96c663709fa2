"""The issuer a server forgot to send, downloaded from the URL its certificate names
(Authority Information Access, "CA Issuers"), as Windows and Apple clients do.

With it, maildiag can tell a chain that only lacks its intermediate from one that no
intermediate would save. The URL comes from the server's certificate, so it is
untrusted input like any other: http or https only, through the tool's resolver, one
download per URL per run, at most MAX_BYTES, within one `--timeout`.
"""

from __future__ import annotations

import asyncio
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from diag.errors import BadInput
from diag.net.http import HttpError, fetch

if TYPE_CHECKING:
    from diag.net.dns import Resolver

MAX_BYTES = 64 * 1024  # an intermediate is 1-2 KiB; a PKCS#7 bundle a few of them
MAX_CERTIFICATES = 8


@dataclass
class Download:
    certificates: list[x509.Certificate] = field(default_factory=list)
    error: str | None = None  # why nothing usable came, in plain words


# Downloads are shared by everything running on one event loop: the same certificate on
# seven ports, or on every host of a provider a scan meets, costs one request.
_downloads: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, asyncio.Future[Download]]
] = weakref.WeakKeyDictionary()
MAX_REMEMBERED = 256  # URLs per run; the oldest is forgotten first


class IssuerDownloads:
    def __init__(self, resolver: Resolver, timeout: float, ca_file: Path | None) -> None:
        self._resolver, self._timeout, self._ca_file = resolver, timeout, ca_file

    async def get(self, url: str) -> Download:
        memo = _downloads.setdefault(asyncio.get_running_loop(), {})
        task = memo.get(url)
        if task is None:
            if len(memo) >= MAX_REMEMBERED:
                memo.pop(next(iter(memo)))
            task = memo[url] = asyncio.ensure_future(self._download(url))
        return await asyncio.shield(task)

    async def _download(self, url: str) -> Download:
        try:
            async with asyncio.timeout(self._timeout):
                response = await fetch(
                    url,
                    resolver=self._resolver,
                    timeout=self._timeout,
                    ca_file=self._ca_file,
                    max_bytes=MAX_BYTES,
                )
        except TimeoutError:
            return Download(error=f"no answer from {url} within {self._timeout:g} s")
        except (HttpError, BadInput) as exc:
            return Download(error=str(exc))
        if response.status != 200:
            return Download(error=f"{url} answered HTTP {response.status}")
        certificates = read_certificates(response.body)
        if not certificates:
            return Download(error=f"{url} did not send a certificate (DER, PEM or PKCS#7)")
        return Download(certificates[:MAX_CERTIFICATES])


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """What CAs publish there: one DER certificate (RFC 5280 says DER or a PKCS#7
    "certs-only" bundle), and in practice PEM too. Anything else is no certificate."""
    readers = (
        lambda d: [x509.load_der_x509_certificate(d)],
        pkcs7.load_der_pkcs7_certificates,
        x509.load_pem_x509_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for reader in readers:
        try:
            with warnings.catch_warnings():  # an odd serial is not worth a line on stderr
                warnings.simplefilter("ignore")
                return list(reader(data))
        except (ValueError, TypeError):
            continue
    return []
