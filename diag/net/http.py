"""A small HTTP/1.1 client for configuration files, bounded like every other read.

Discovery fetches autoconfig and Autodiscover documents from servers it does not
trust. Names go through the tool's resolver (so `--nameserver` applies), TLS is
verified against the system store plus `--ca-file`, at most a few redirects are
followed (never from HTTPS down to HTTP), and the body is capped.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from diag.model import Reachability
from diag.net.connection import Budget, Connection, ProtocolError, StepTimeout, connect
from diag.net.dns import Resolver, resolve_addresses
from diag.net.names import validate_target

MAX_BODY = 1024 * 1024
MAX_HEADERS = 100
MAX_REDIRECTS = 3
USER_AGENT = "maildiag/0.1 (mail settings discovery)"


class HttpError(Exception):
    """The document could not be fetched; the message says why, in one line.

    `no_server` is True when there is simply no server there (no such name, nothing
    listening): for a discovery source, that means "not published", not "broken".
    """

    def __init__(self, message: str, *, no_server: bool = False) -> None:
        super().__init__(message)
        self.no_server = no_server


@dataclass
class HttpResponse:
    url: str  # the final URL, after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)

    @property
    def secure(self) -> bool:
        return self.url.startswith("https://")


@functools.cache
def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying context; built once per CA file (loading the system store costs ~30 ms)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


async def fetch(
    url: str,
    *,
    resolver: Resolver,
    timeout: float,
    ca_file: Path | None = None,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str | None = None,
    max_bytes: int = MAX_BODY,
) -> HttpResponse:
    redirects: list[str] = []
    for _ in range(MAX_REDIRECTS + 1):
        response = await _once(
            url, resolver, timeout, ca_file, method, body, content_type, max_bytes
        )
        location = response.headers.get("location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            response.redirects = redirects
            return response
        target = urljoin(url, location)
        if url.startswith("https://") and not target.startswith("https://"):
            raise HttpError(f"{url} redirects to {target}: refused (HTTPS down to plain HTTP)")
        redirects.append(target)
        if response.status == 303:
            method, body = "GET", None
        url = target
    raise HttpError(f"more than {MAX_REDIRECTS} redirects")


async def _once(
    url: str,
    resolver: Resolver,
    timeout: float,
    ca_file: Path | None,
    method: str,
    body: bytes | None,
    content_type: str | None,
    max_bytes: int,
) -> HttpResponse:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {url}")
    host = validate_target(parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    dns_result = await resolve_addresses(resolver, host)
    if not dns_result.addresses:
        raise HttpError(f"{host}: {dns_result.error}", no_server=dns_result.answered)
    budget = Budget(timeout)
    conn, attempts = await connect(dns_result.addresses, port, timeout)
    if conn is None:
        refused = all(a.outcome is Reachability.REFUSED for a in attempts)
        reason = attempts[-1].error or attempts[-1].outcome.value if attempts else "no address"
        raise HttpError(f"{host}:{port}: {reason}", no_server=refused)
    try:
        if parts.scheme == "https":
            try:
                await conn.start_tls(tls_context(ca_file), host, budget.deadline())
            except (ProtocolError, StepTimeout) as exc:
                raise HttpError(f"TLS with {host}:{port} failed: {exc}") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = [
            f"{method} {target} HTTP/1.1",
            f"Host: {parts.netloc}",
            f"User-Agent: {USER_AGENT}",
            "Accept: text/xml, application/xml, */*",
            "Connection: close",
        ]
        if body is not None:
            head += [f"Content-Type: {content_type or 'text/xml'}", f"Content-Length: {len(body)}"]
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
        try:
            await conn.send_bytes(request, budget.deadline())
            return await _response(conn, url, budget, max_bytes)
        except (ProtocolError, StepTimeout) as exc:
            raise HttpError(f"{url}: {exc}") from None
    finally:
        await conn.close()


async def _response(conn: Connection, url: str, budget: Budget, max_bytes: int) -> HttpResponse:
    status_line = await conn.read_line(budget.deadline())
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise ProtocolError(f"not an HTTP response: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = await conn.read_line(budget.deadline())
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    else:
        raise ProtocolError(f"more than {MAX_HEADERS} header lines")
    deadline = budget.deadline()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _chunked(conn, max_bytes, deadline)
    elif "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit():
            raise ProtocolError(f"bad Content-Length {length!r}")
        if int(length) > max_bytes:
            raise ProtocolError(f"body of {length} bytes is larger than {max_bytes}")
        body = await conn.read_exactly(int(length), deadline)
    else:
        body = await conn.read_to_eof(max_bytes, deadline)
    return HttpResponse(url=url, status=int(fields[1]), headers=headers, body=body)


async def _chunked(conn: Connection, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await conn.read_line(deadline)
        length_text = line.split(";", 1)[0].strip()
        try:
            length = int(length_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {length_text[:20]!r}") from None
        if length == 0:
            return b"".join(chunks)
        size += length
        if size > max_bytes:
            raise ProtocolError(f"body larger than {max_bytes} bytes")
        chunks.append(await conn.read_exactly(length, deadline))
        await conn.read_line(deadline)  # the CRLF after each chunk
