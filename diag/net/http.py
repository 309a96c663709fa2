"""A small HTTP/1.1 client for configuration files, bounded like every other read.

Discovery fetches autoconfig and Autodiscover documents from servers it does not
trust. Names go through the tool's resolver (so `--nameserver` applies), TLS is
verified against the system store plus `--ca-file`, at most a few redirects are
followed (never from HTTPS down to HTTP), the body is capped, and the whole fetch has a
total deadline (a server that drips one header line per second cannot keep it alive).
Numbers on the wire (status, Content-Length, chunk sizes) are ASCII digits or refused,
and credentials in a URL never reach a message or the Host header.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from diag.errors import BadInput
from diag.localfile import read_local
from diag.model import Reachability
from diag.net.connection import Budget, Connection, ProtocolError, StepTimeout, connect
from diag.net.dns import Resolver, resolve_addresses
from diag.net.names import published_target
from diag.net.numbers import ascii_number
from diag.quoting import quoted

MAX_BODY = 1024 * 1024
MAX_HEADERS = 100
MAX_REDIRECTS = 3
FETCH_STEPS = 4  # a whole fetch, redirects included, ends within this many --timeout
USER_AGENT = "maildiag/0.1 (mail settings discovery)"
REDIRECTS = (301, 302, 303, 307, 308)


class HttpError(Exception):
    """The document could not be fetched; the message says why, in one line.

    `no_server` is True when there is simply no server there (no such name, nothing
    listening): for a discovery source, that means "not published", not "broken".
    `unresolved` names the host whose address lookup failed, so a second URL on the same
    host need not ask DNS again.
    """

    def __init__(
        self, message: str, *, no_server: bool = False, unresolved: str | None = None
    ) -> None:
        super().__init__(message)
        self.no_server = no_server
        self.unresolved = unresolved


@dataclass
class HttpResponse:
    url: str  # the final URL, after redirects (credentials removed)
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)

    @property
    def secure(self) -> bool:
        return self.url.startswith("https://")


@dataclass(frozen=True)
class Credentials:
    """A user name and password from a URL; sent only as Basic auth over HTTPS."""

    user: str
    password: str = field(repr=False)

    def header(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(frozen=True)
class Target:
    """A URL taken apart and checked: every field safe to put on the wire."""

    scheme: str
    host: str  # A-label host name or IP literal, no brackets
    port: int
    path: str  # path and query, as sent in the request line
    credentials: Credentials | None

    @property
    def authority(self) -> str:
        """What goes in the Host header: never the user information."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"


def redact(url: str) -> str:
    """The URL with any user:password@ replaced, so no message ever shows a secret."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            end = min(end, index)
    authority = rest[:end]
    if "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rpartition('@')[2]}{rest[end:]}"


def parse_url(url: str) -> Target:
    """Split and check an http(s) URL; HttpError (with the URL redacted) if unusable."""
    shown = redact(url)
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise HttpError(f"unusable URL {quoted(shown)}: it contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port_number = parts.port
    except ValueError as exc:
        raise HttpError(f"unusable URL {quoted(shown)}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {quoted(shown)}")
    if port_number == 0:
        raise HttpError(f"unusable URL {quoted(shown)}: port 0")
    try:
        host = published_target(parts.hostname)
    except BadInput as exc:
        raise HttpError(f"unusable URL {quoted(shown)}: {exc}") from None
    credentials = None
    if parts.username is not None or parts.password is not None:
        credentials = Credentials(unquote(parts.username or ""), unquote(parts.password or ""))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    port = port_number or (443 if parts.scheme == "https" else 80)
    return Target(parts.scheme, host, port, path, credentials)


@functools.cache
def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying context; built once per CA file (loading the system store costs ~30 ms)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        data = read_local(ca_file, what="--ca-file")
        try:
            context.load_verify_locations(cadata=data.decode("ascii", errors="replace"))
        except ssl.SSLError:
            raise BadInput(f"--ca-file {ca_file}: not a PEM certificate bundle") from None
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
    credentials: Credentials | None = None,
) -> HttpResponse:
    """Fetch `url`, following a few redirects, all within FETCH_STEPS x `timeout`.

    `credentials` (or a user:password@ in `url`) go only as Basic auth, only over
    HTTPS and only to the URL's own origin: a plain-HTTP URL with credentials is refused,
    and a redirect elsewhere does not take them along.
    """
    budget = Budget.total(timeout, FETCH_STEPS)
    target = parse_url(url)
    credentials = credentials or target.credentials
    if credentials is not None and target.scheme != "https":
        raise HttpError(f"{target.url}: refused to send credentials over plain HTTP")
    origin = (target.scheme, target.host, target.port)
    redirects: list[str] = []
    for _ in range(MAX_REDIRECTS + 1):
        same_origin = (target.scheme, target.host, target.port) == origin
        auth = credentials if same_origin else None
        try:
            async with asyncio.timeout_at(budget.until):
                response = await _once(
                    target, resolver, budget, ca_file, method, body, content_type, max_bytes, auth
                )
        except TimeoutError:
            raise HttpError(
                f"{target.url}: no complete answer within {timeout * FETCH_STEPS:g} s"
            ) from None
        location = response.headers.get("location")
        if response.status not in REDIRECTS or not location:
            response.redirects = redirects
            return response
        try:
            joined = urljoin(target.url, location)
        except ValueError as exc:
            raise HttpError(f"{target.url} redirects to an unusable URL: {exc}") from None
        try:
            following = parse_url(joined)
        except HttpError as exc:
            raise HttpError(f"{target.url} redirects to {exc}") from None
        if target.scheme == "https" and following.scheme != "https":
            raise HttpError(
                f"{target.url} redirects to {following.url}: refused (HTTPS down to plain HTTP)"
            )
        redirects.append(following.url)
        if response.status == 303:
            method, body = "GET", None
        target = following
    raise HttpError(f"more than {MAX_REDIRECTS} redirects")


async def _once(
    target: Target,
    resolver: Resolver,
    budget: Budget,
    ca_file: Path | None,
    method: str,
    body: bytes | None,
    content_type: str | None,
    max_bytes: int,
    credentials: Credentials | None,
) -> HttpResponse:
    host, port, url = target.host, target.port, target.url
    dns_result = await resolve_addresses(resolver, host)
    if not dns_result.addresses:
        raise HttpError(
            f"{host}: {dns_result.error}", no_server=dns_result.answered, unresolved=host
        )
    conn, attempts = await connect(
        dns_result.addresses, port, budget.seconds, deadline=budget.until
    )
    if conn is None:
        refused = bool(attempts) and all(a.outcome is Reachability.REFUSED for a in attempts)
        reason = (attempts[-1].error or attempts[-1].outcome.value) if attempts else "no address"
        raise HttpError(f"{target.authority}: {reason}", no_server=refused)
    try:
        if target.scheme == "https":
            try:
                await conn.start_tls(tls_context(ca_file), host, budget.deadline())
            except (ProtocolError, StepTimeout) as exc:
                raise HttpError(f"TLS with {target.authority} failed: {exc}") from None
        head = [
            f"{method} {target.path} HTTP/1.1",
            f"Host: {target.authority}",
            f"User-Agent: {USER_AGENT}",
            "Accept: text/xml, application/xml, */*",
            "Connection: close",
        ]
        if credentials is not None:
            head.append(f"Authorization: {credentials.header()}")
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
    status = ascii_number(fields[1], limit=3) if len(fields) >= 2 else None
    if not fields[0].startswith("HTTP/1.") or status is None or not 100 <= status <= 599:
        raise ProtocolError(f"not an HTTP response: {quoted(status_line, 80)}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = await conn.read_line(budget.deadline())
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line: {quoted(line, 80)}")
        headers[name.strip().lower()] = value.strip()
    else:
        raise ProtocolError(f"more than {MAX_HEADERS} header lines")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _chunked(conn, max_bytes, budget)
    elif "content-length" in headers:
        text = headers["content-length"]
        length = ascii_number(text)
        if length is None:
            raise ProtocolError(f"bad Content-Length {quoted(text, 40)}")
        if length > max_bytes:
            raise ProtocolError(f"body of {length} bytes is larger than {max_bytes}")
        body = await conn.read_exactly(length, budget.deadline())
    else:
        body = await conn.read_to_eof(max_bytes, budget.deadline())
    return HttpResponse(url=url, status=status, headers=headers, body=body)


async def _chunked(conn: Connection, max_bytes: int, budget: Budget) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await conn.read_line(budget.deadline())
        length_text = line.split(";", 1)[0].strip()
        length = ascii_number(length_text, base=16, limit=16)
        if length is None:
            raise ProtocolError(f"bad chunk size {quoted(length_text, 20)}")
        if length == 0:
            return b"".join(chunks)
        size += length
        if size > max_bytes:
            raise ProtocolError(f"body larger than {max_bytes} bytes")
        chunks.append(await conn.read_exactly(length, budget.deadline()))
        await conn.read_line(budget.deadline())  # the CRLF after each chunk
