"""Which protocol versions and weak cipher classes a service accepts, from ClientHellos.

One connection per ClientHello: connect, the protocol's STARTTLS exchange when the
service needs one, one hand-built ClientHello, and the server's first answer.
A ServerHello for what was offered means "accepted"; an alert, a hang-up or another
version means "refused"; a failure before the hello means "could not test".
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from diag.model import Security, ServiceSpec, TlsInfo
from diag.net.connection import Budget, Connection, ProtocolError, StepTimeout, connect
from diag.protocols import dialect_for
from diag.tlsscan.hello import client_hello
from diag.tlsscan.model import TlsScan, WeakClass
from diag.tlsscan.parse import (
    MAX_RESPONSE,
    NEED_MORE,
    Alert,
    Answer,
    Garbage,
    ServerHello,
    parse,
)
from diag.tlsscan.suites import (
    ALL_LEGACY,
    TLS13,
    VERSION_NAMES,
    VERSIONS,
    WEAK_CLASSES,
    suite_name,
)

T = TypeVar("T")


class _Untestable(Exception):
    """The hello could not be sent (no connection, the STARTTLS exchange failed)."""


class _Busy(str):
    """Why the hello went unanswered: the server turned the session away (SMTP 421, IMAP
    BYE, POP3 -ERR), which says nothing about TLS. Asked again later (RETRY_DELAYS)."""


# A server at its connection limit refuses for a moment: Exim, by default at most 20
# sessions, keeps each child about half a second after a refused handshake, so a scan's
# own hellos can fill it. A refused hello is asked again after these pauses, only when
# the main session got through (a server refusing us altogether is not asked again).
RETRY_DELAYS = (0.5, 1.0)


def may_wait(budget: Budget, delay: float) -> bool:
    """Whether a pause of `delay` still ends well before the exchange's total deadline."""
    if budget.until is None:
        return True
    return asyncio.get_running_loop().time() + delay + 0.1 < budget.until


async def while_busy(
    attempt: Callable[[], Awaitable[T]],
    busy: Callable[[T], bool],
    budget: Budget,
    main: asyncio.Future[TlsInfo | None] | None,
) -> tuple[T, int]:
    """`attempt()`, and again after each of RETRY_DELAYS while its outcome is `busy` and
    the main session got its TLS session; (the last outcome, how many retries)."""
    outcome, retries = await attempt(), 0
    for delay in RETRY_DELAYS:
        if not busy(outcome) or not may_wait(budget, delay):
            break
        info = await main if main is not None else None
        if info is None or not info.ok:
            break
        await asyncio.sleep(delay)
        outcome, retries = await attempt(), retries + 1
    return outcome, retries


# What a mail server says instead of TLS on an implicit-TLS port when it refuses us.
_REFUSALS = {"smtp": (b"421", b"554"), "imap": (b"* BYE",), "pop3": (b"-ERR",)}


async def scan_service(
    address: str,
    spec: ServiceSpec,
    server_name: str | None,
    budget: Budget,
    main: asyncio.Future[TlsInfo | None] | None = None,
) -> TlsScan:
    """Three chains of hellos at once, as few as the answers allow (connections to one
    address are capped, and many servers start a process per connection):

    - TLS 1.3 from the main session's handshake (`main`), which offers it: a hello only
      when that handshake did not happen; TLS 1.2, one hello;
    - the old versions from the top: a hello whose maximum is TLS 1.1 is answered with
      the highest old version the server accepts (or refused, which settles all three);
      the next hello's maximum is the version below that answer;
    - weak suites: one hello offering all of them; whenever the server picks one, its
      classes are recorded and the next hello leaves them out, until it refuses.

    A current server costs three hellos, each on its own connection, all at once.
    """
    clock = time.perf_counter()
    scan = TlsScan()

    async def ask(version: str, suites: tuple[int, ...]) -> Answer | str:
        scan.hellos += 1
        answer, retries = await while_busy(
            lambda: _ask(address, spec, server_name, budget, version, suites),
            lambda answer: isinstance(answer, _Busy),
            budget,
            main,
        )
        scan.retries += retries
        return str(answer) if isinstance(answer, str) else answer

    async def exact(name: str) -> None:
        suites = tuple(TLS13) if name == "TLSv1.3" else ALL_LEGACY
        answer = await ask(name, suites)
        scan.versions[name] = accepted = _judge(answer, name, suites)
        if not accepted:
            scan.answers[name] = _describe(answer, name)

    async def old_versions() -> None:
        pending = list(_OLD)  # highest first
        while pending:
            top = pending[0]
            answer = await ask(top, ALL_LEGACY)
            accepted = _judge(answer, top, ALL_LEGACY, any_version=True)
            if not accepted or not isinstance(answer, ServerHello):
                for name in pending:  # nothing at or below `top`
                    scan.versions[name] = accepted
                    scan.answers[name] = _describe(answer, name)
                return
            chosen = VERSION_NAMES[answer.version]
            while pending and pending[0] != chosen:
                name = pending.pop(0)
                scan.versions[name] = False
                scan.answers[name] = f"the server answered with {chosen}"
            scan.versions[pending.pop(0)] = True

    async def weak() -> None:
        remaining = dict(WEAK_CLASSES)
        while remaining:
            suites = tuple(dict.fromkeys(c for codes in remaining.values() for c in codes))
            answer = await ask("TLSv1.2", suites)
            accepted = _judge(answer, "TLSv1.2", suites, any_version=True)
            if not accepted or not isinstance(answer, ServerHello):
                for name in remaining:
                    scan.weak[name] = WeakClass(accepted)
                    scan.answers[name] = _describe(answer, "TLSv1.2")
                return
            chosen = suite_name(answer.suite)
            for name in [n for n, codes in remaining.items() if answer.suite in codes]:
                scan.weak[name] = WeakClass(True, chosen, VERSION_NAMES.get(answer.version))
                del remaining[name]

    async def tls13() -> None:
        info = await main if main is not None and ssl.HAS_TLSv1_3 else None
        if info is None or not info.ok or info.version is None:
            await exact("TLSv1.3")
            return
        scan.versions["TLSv1.3"] = info.version == "TLSv1.3"
        if info.version != "TLSv1.3":
            scan.answers["TLSv1.3"] = (
                f"the main handshake offered TLS 1.3 and the server chose {info.version}"
            )

    await asyncio.gather(tls13(), exact("TLSv1.2"), old_versions(), weak())
    scan.versions = {name: scan.versions.get(name) for name in VERSIONS}
    scan.weak = {name: scan.weak[name] for name in WEAK_CLASSES}
    scan.elapsed_ms = round((time.perf_counter() - clock) * 1000, 1)
    return scan


_OLD = ("TLSv1.1", "TLSv1", "SSLv3")


def _judge(
    answer: Answer | str, version: str, suites: tuple[int, ...], *, any_version: bool = False
) -> bool | None:
    """any_version: the hello's version is a maximum (a weak suite at TLS 1.0 counts)."""
    if isinstance(answer, str):
        return None  # never got to ask
    if isinstance(answer, ServerHello):
        if version == "TLSv1.3":
            return answer.version == VERSIONS["TLSv1.3"]
        right_version = (
            answer.version <= VERSIONS[version]
            if any_version
            else (answer.version == VERSIONS[version])
        )
        return right_version and answer.suite in suites
    return False  # an alert, a hang-up or garbage: the server did not take it


def _describe(answer: Answer | str, version: str) -> str:
    if isinstance(answer, str):
        return answer
    if isinstance(answer, Alert):
        return f"alert {answer.name}"
    if isinstance(answer, Garbage):
        return answer.reason
    chosen = VERSION_NAMES.get(answer.version, f"0x{answer.version:04X}")
    if chosen != version:
        return f"the server answered with {chosen}"
    return f"the server chose {suite_name(answer.suite)}, which was not offered"


async def _ask(
    address: str,
    spec: ServiceSpec,
    server_name: str | None,
    budget: Budget,
    version: str,
    suites: tuple[int, ...],
) -> Answer | str:
    """The server's answer to one ClientHello, or why it could not be asked (a str)."""
    conn, _ = await connect([address], spec.port, budget.seconds, deadline=budget.until)
    if conn is None:
        return "could not connect"
    try:
        if spec.security is Security.STARTTLS:
            await _starttls(conn, spec.protocol, budget)
        await conn.send_bytes(client_hello(version, suites, server_name), budget.deadline())
        return await _answer(conn, budget, _REFUSALS.get(spec.protocol, ()))
    except _Untestable as exc:
        reason = exc.args[0]
        return reason if isinstance(reason, _Busy) else str(reason)
    except StepTimeout:
        return "no answer before the deadline"
    except ProtocolError as exc:
        return str(exc)
    finally:
        await conn.close()


async def _starttls(conn: Connection, protocol: str, budget: Budget) -> None:
    dialect = dialect_for(protocol)
    try:
        greeting = await dialect.greeting(conn, budget.deadline())
        if not greeting.ok:
            raise _Untestable(_Busy("the server refused the session"))
        if protocol == "smtp":
            await dialect.capabilities(conn, budget.deadline())
        reply = await dialect.starttls(conn, budget.deadline())
    except (StepTimeout, ProtocolError) as exc:
        raise _Untestable(f"STARTTLS exchange failed: {exc}") from None
    if not reply.ok:
        raise _Untestable("STARTTLS refused")
    conn.take_buffered()


async def _answer(
    conn: Connection, budget: Budget, refusals: tuple[bytes, ...] = ()
) -> Answer | _Busy:
    """Read until the bytes make an answer; a hang-up before that is a refusal of the
    hello, a refusal greeting in plaintext (`refusals`) a refusal of the session."""
    data = b""
    deadline = budget.deadline()
    while True:
        try:
            chunk = await conn.read_some(MAX_RESPONSE - len(data), deadline)
        except ProtocolError as exc:
            return Garbage(f"the server hung up ({exc})" if data else "the server hung up")
        if not chunk:
            return Garbage("the server hung up")
        data += chunk
        answer = parse(data)
        if isinstance(answer, Garbage) and refusals and data.startswith(refusals):
            return _Busy("the server refused the session")
        if answer is not NEED_MORE:
            return answer  # type: ignore[return-value]
        if len(data) >= MAX_RESPONSE:
            return Garbage(f"more than {MAX_RESPONSE} bytes without a ServerHello")
