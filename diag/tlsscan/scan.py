"""Which protocol versions and weak cipher classes a service accepts, from ClientHellos.

One connection per question, all at once: connect, the protocol's STARTTLS exchange
when the service needs one, one hand-built ClientHello, and the server's first answer.
A ServerHello for what was offered means "accepted"; an alert, a hang-up or another
version means "refused"; a failure before the hello means "could not test".
"""

from __future__ import annotations

import asyncio
import time

from diag.model import Security, ServiceSpec
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

# Each weak class is offered alone, capped at TLS 1.2 (EXPORT at TLS 1.0: RFC 4346
# forbids export suites from TLS 1.1 on, so a server would only pick them below).
_WEAK_VERSION = {"EXPORT": "TLSv1"}


class _Untestable(Exception):
    """The hello could not be sent (no connection, the STARTTLS exchange failed)."""


async def scan_service(
    address: str, spec: ServiceSpec, server_name: str | None, budget: Budget
) -> TlsScan:
    clock = time.perf_counter()
    questions: list[tuple[str, str, tuple[int, ...]]] = []
    for version in VERSIONS:
        suites = tuple(TLS13) if version == "TLSv1.3" else ALL_LEGACY
        questions.append((version, version, suites))
    for name, suites in WEAK_CLASSES.items():
        questions.append((name, _WEAK_VERSION.get(name, "TLSv1.2"), suites))
    answers = await asyncio.gather(
        *(_ask(address, spec, server_name, budget, v, s) for _, v, s in questions)
    )
    scan = TlsScan(hellos=len(questions))
    for (label, version, suites), answer in zip(questions, answers, strict=True):
        accepted = _judge(answer, version, suites)
        if not isinstance(answer, ServerHello) or not accepted:
            scan.answers[label] = _describe(answer, version)
        if label in VERSIONS:
            scan.versions[label] = accepted
        elif accepted and isinstance(answer, ServerHello):
            scan.weak[label] = WeakClass(
                True, suite_name(answer.suite), VERSION_NAMES.get(answer.version)
            )
        else:
            scan.weak[label] = WeakClass(accepted)
    scan.elapsed_ms = round((time.perf_counter() - clock) * 1000, 1)
    return scan


def _judge(answer: Answer | str, version: str, suites: tuple[int, ...]) -> bool | None:
    if isinstance(answer, str):
        return None  # never got to ask
    if isinstance(answer, ServerHello):
        if version == "TLSv1.3":
            return answer.version == VERSIONS["TLSv1.3"]
        return answer.version == VERSIONS[version] and (answer.suite in suites)
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
    conn, _ = await connect([address], spec.port, budget.seconds)
    if conn is None:
        return "could not connect"
    try:
        if spec.security is Security.STARTTLS:
            await _starttls(conn, spec.protocol, budget)
        await conn.send_bytes(client_hello(version, suites, server_name), budget.deadline())
        return await _answer(conn, budget)
    except _Untestable as exc:
        return str(exc)
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
            raise _Untestable("the server refused the session")
        if protocol == "smtp":
            await dialect.capabilities(conn, budget.deadline())
        reply = await dialect.starttls(conn, budget.deadline())
    except (StepTimeout, ProtocolError) as exc:
        raise _Untestable(f"STARTTLS exchange failed: {exc}") from None
    if not reply.ok:
        raise _Untestable("STARTTLS refused")
    conn.take_buffered()


async def _answer(conn: Connection, budget: Budget) -> Answer:
    """Read until the bytes make an answer; a hang-up before that is a refusal."""
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
        if answer is not NEED_MORE:
            return answer  # type: ignore[return-value]
        if len(data) >= MAX_RESPONSE:
            return Garbage(f"more than {MAX_RESPONSE} bytes without a ServerHello")
