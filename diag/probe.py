"""Probe a host's mail services: talk each protocol as far as it safely goes.

`probe_host` resolves the host once, then probes every selected service at once, so
a host takes about as long as its slowest service. Each service is one session
(connect, greeting, capabilities, STARTTLS, TLS, capabilities again, goodbye). As soon
as the port answers, the raw-handshake scanner (diag.tlsscan: one ClientHello per
protocol version and weak cipher class) and, for STARTTLS services, the injection test
start beside it on connections of their own.
The result is data (diag.model); judging it is diag.findings' job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from diag.errors import BadInput
from diag.model import (
    DnsResult,
    ProbeReport,
    Reachability,
    Security,
    ServiceResult,
    ServiceSpec,
    Stage,
    StartTls,
    TlsInfo,
)
from diag.net.connection import (
    Budget,
    Connection,
    ProtocolError,
    StepTimeout,
    connect,
    elapsed_ms,
    overall_reachability,
)
from diag.net.dns import Nameserver, Resolver, make_resolver, resolve_addresses
from diag.progress import Counter, Event, Progress, silent
from diag.protocols import DIALECTS, KNOWN_PORTS, SERVICES, dialect_for
from diag.protocols.base import Dialect
from diag.tls.context import peer_chain_der, probe_context
from diag.tls.loader import trust_store_loader

if TYPE_CHECKING:  # cryptography loads only when a handshake needs analysing
    from cryptography import x509

    from diag.tls.aia import IssuerDownloads
    from diag.tls.trust import TrustStore

DEFAULT_TIMEOUT = 10.0
SERVICE_STEPS = 6  # one service's whole session ends within this many --timeout


@dataclass(frozen=True)
class ProbeOptions:
    timeout: float = DEFAULT_TIMEOUT  # per step: connect, greeting, each command, handshake
    ca_file: Path | None = None
    nameserver: Nameserver | None = None
    ports: tuple[int, ...] = ()
    protocols: tuple[str, ...] = ()
    scan: bool = True  # the raw-handshake scanner and the STARTTLS injection test
    legacy_tls: bool = True  # the old name of `scan`: False also turns the scan off
    security: Security | None = None  # --tls / --starttls for the ports named


def select_services(
    ports: tuple[int, ...], protocols: tuple[str, ...], security: Security | None = None
) -> list[ServiceSpec]:
    """The standard services narrowed by --port/--protocol.

    A port mail guides know (the seven, and 2525) is probed the way it speaks; any other
    port needs exactly one --protocol and is probed with STARTTLS unless `security`
    (--tls/--starttls) says otherwise. `security` applies to every port named.
    """
    for protocol in protocols:
        if protocol not in DIALECTS:
            raise BadInput(f"unknown protocol {protocol!r}: choose from {', '.join(DIALECTS)}")
    for port in ports:
        if not 0 < port < 65536:
            raise BadInput(f"invalid port {port}")
    if security is not None and not ports:
        raise BadInput("--tls and --starttls apply to the ports named with --port or HOST:PORT")
    chosen = [
        s
        for s in SERVICES
        if (not ports or s.port in ports) and (not protocols or s.protocol in protocols)
    ]
    if security is not None:
        chosen = [ServiceSpec(s.protocol, s.port, security) for s in chosen]
    standard = {s.port for s in SERVICES}
    for port in dict.fromkeys(ports):
        if port in standard:
            continue
        known = KNOWN_PORTS.get(port)
        if len(protocols) == 1:
            protocol = protocols[0]
        elif known is not None and (not protocols or known.protocol in protocols):
            protocol = known.protocol
        else:
            raise BadInput(f"port {port} is not a standard mail port: name its --protocol")
        default = known.security if known is not None else Security.STARTTLS
        chosen.append(ServiceSpec(protocol, port, security or default))
    if not chosen:
        raise BadInput("no service matches that --port/--protocol combination")
    return chosen


async def probe_host(host: str, options: ProbeOptions, progress: Progress = silent) -> ProbeReport:
    specs = select_services(options.ports, options.protocols, options.security)
    explicit = bool(options.ports or options.protocols)
    return await probe_services(host, specs, options, explicit=explicit, progress=progress)


async def probe_services(
    host: str,
    specs: list[ServiceSpec],
    options: ProbeOptions,
    *,
    explicit: bool,
    store: Callable[[], TrustStore] | None = None,
    resolver: Resolver | None = None,
    limiter: asyncio.Semaphore | None = None,
    dns_result: DnsResult | None = None,
    progress: Progress = silent,
) -> ProbeReport:
    """Probe `specs` on one host at once; `limiter` bounds connections shared with others.

    `store` gives the trust store when a certificate needs judging (see trust_store_loader).
    """
    started = datetime.now(UTC)
    clock = time.perf_counter()
    store = store or trust_store_loader(options.ca_file)
    resolver = resolver or make_resolver(options.nameserver, options.timeout)
    if dns_result is None:
        progress(Event("resolving", host))
        dns_result = await resolve_addresses(resolver, host)
    if not dns_result.addresses:
        services = [
            ServiceResult(spec=s, explicit=explicit, reachability=Reachability.DNS_FAILURE)
            for s in specs
        ]
    else:
        counter = Counter(progress, "probing", host)
        counter.add(len(specs))
        issuers = issuer_downloads(resolver, options)

        async def bounded(spec: ServiceSpec) -> ServiceResult:
            try:
                if limiter is None:
                    return await probe_service(
                        host, dns_result, spec, explicit, options, store, issuers
                    )
                async with limiter:
                    return await probe_service(
                        host, dns_result, spec, explicit, options, store, issuers
                    )
            except Exception as exc:  # a fault of ours must not cost the other services
                return ServiceResult(
                    spec=spec,
                    explicit=explicit,
                    reachability=Reachability.UNREACHABLE,
                    internal_error=internal_error(exc),
                )
            finally:
                counter.finish()

        services = list(await asyncio.gather(*(bounded(s) for s in specs)))
    from diag.findings.analyze import blocked_locally, host_findings, service_findings

    for service in services:
        service.findings = service_findings(service)
    blocked_locally(services)
    report = ProbeReport(
        host=host,
        dns=dns_result,
        services=services,
        findings=[],
        started_at=started.isoformat(timespec="seconds"),
        elapsed_ms=elapsed_ms(clock),
    )
    report.findings = host_findings(report)
    return report


def internal_error(exc: Exception) -> str:
    """A fault of maildiag's, named for a bug report (its text may quote the server)."""
    where = exc.__traceback__
    while where is not None and where.tb_next is not None:
        where = where.tb_next
    place = ""
    if where is not None:
        code = where.tb_frame.f_code
        place = f" in {code.co_name} ({code.co_filename.rsplit('/', 1)[-1]}:{where.tb_lineno})"
    return f"{type(exc).__name__}{place}: {str(exc)[:200]}"


def issuer_downloads(resolver: Resolver, options: ProbeOptions) -> Callable[[], IssuerDownloads]:
    """The AIA downloader of one probe, made when a chain first needs it (it imports
    cryptography's PKCS#7 reader and the HTTP client)."""
    made: list[IssuerDownloads] = []

    def get() -> IssuerDownloads:
        if not made:
            from diag.tls.aia import IssuerDownloads

            made.append(IssuerDownloads(resolver, options.timeout, options.ca_file))
        return made[0]

    return get


async def probe_service(
    host: str,
    dns_result: DnsResult,
    spec: ServiceSpec,
    explicit: bool,
    options: ProbeOptions,
    store: Callable[[], TrustStore],
    issuers: Callable[[], IssuerDownloads] | None = None,
) -> ServiceResult:
    clock = time.perf_counter()
    budget = Budget.total(options.timeout, SERVICE_STEPS)
    conn, attempts = await connect(
        dns_result.addresses, spec.port, options.timeout, deadline=budget.until
    )
    result = ServiceResult(
        spec=spec, explicit=explicit, reachability=overall_reachability(attempts)
    )
    result.attempts = attempts
    if conn is None:
        result.elapsed_ms = elapsed_ms(clock)
        return result
    result.address = attempts[-1].address
    result.connect_ms = attempts[-1].ms
    sni = None if dns_result.is_literal else host

    scan = injection = handshaken = None
    if options.scan and options.legacy_tls:  # both switches: legacy_tls is the old name
        from diag.tlsscan.injection import injection_test
        from diag.tlsscan.scan import scan_service

        handshaken = asyncio.get_running_loop().create_future()
        scan = asyncio.ensure_future(scan_service(result.address, spec, sni, budget, handshaken))
        if spec.security is Security.STARTTLS:
            injection = asyncio.ensure_future(
                injection_test(result.address, spec.port, spec.protocol, sni, budget, handshaken)
            )
    try:
        await _session(conn, host, sni, spec, result, budget, store, handshaken, issuers)
    except Exception as exc:  # what the session learned before the fault still stands
        result.internal_error = internal_error(exc)
    finally:
        await conn.close()
        if handshaken is not None and not handshaken.done():
            handshaken.set_result(None)  # no handshake happened: the scanner asks itself
        if scan is not None:
            result.scan = await scan
            _legacy_from_scan(result)
        if injection is not None:
            tested = await injection
            if result.starttls is not None and result.starttls.ok:
                result.starttls.injection = tested
    result.elapsed_ms = elapsed_ms(clock)
    return result


async def _session(
    conn: Connection,
    host: str,
    sni: str | None,
    spec: ServiceSpec,
    result: ServiceResult,
    budget: Budget,
    store: Callable[[], TrustStore],
    handshaken: asyncio.Future[TlsInfo | None] | None = None,
    issuers: Callable[[], IssuerDownloads] | None = None,
) -> None:
    """One protocol session; every failure is recorded on `result`, none escapes.

    `handshaken` learns the TLS session as soon as there is one (the scanner reads the
    negotiated version from it instead of asking again)."""
    dialect = dialect_for(spec.protocol)
    if spec.security is Security.TLS:
        result.tls = await handshake(conn, host, sni, budget, store, issuers)
        _tell(handshaken, result.tls)
        if not result.tls.ok:
            return
    greeting_clock = time.perf_counter()
    try:
        result.greeting = await dialect.greeting(conn, budget.deadline())
        result.greeting_ms = elapsed_ms(greeting_clock)
    except StepTimeout:
        result.greeting_timed_out = True
        return
    except ProtocolError as exc:
        result.greeting_error = str(exc)
        return
    if not result.greeting.ok:
        await _quit(dialect, conn, budget)
        return

    stage = await capability_stage(dialect, conn, budget)
    if spec.security is Security.TLS:
        result.after_tls = stage
    else:
        result.before_tls = stage
        if stage.capability_error and stage.capability_error.startswith("connection"):
            return
        result.starttls = await request_starttls(dialect, conn, stage, budget)
        if not result.starttls.ok:
            await _quit(dialect, conn, budget)
            return
        result.tls = await handshake(conn, host, sni, budget, store, issuers)
        _tell(handshaken, result.tls)
        if conn.discarded:  # plaintext after the go-ahead: dropped, never read as TLS data
            result.starttls.pipelined = conn.discarded[:300].decode("utf-8", errors="replace")
        if not result.tls.ok:
            return
        result.after_tls = await capability_stage(dialect, conn, budget)
    await _quit(dialect, conn, budget)


async def capability_stage(dialect: Dialect, conn: Connection, budget: Budget) -> Stage:
    try:
        reply = await dialect.capabilities(conn, budget.deadline())
    except (StepTimeout, ProtocolError) as exc:
        caps = getattr(dialect, "greeting_capabilities", [])
        return Stage(caps, dialect.auth_offer(caps), capability_error=str(exc))
    if not reply.ok:
        caps = getattr(dialect, "greeting_capabilities", [])
        error = f"capability request refused: {reply.text[:200]}"
        return Stage(caps, dialect.auth_offer(caps), capability_error=error)
    return Stage(reply.lines, dialect.auth_offer(reply.lines))


async def request_starttls(
    dialect: Dialect, conn: Connection, stage: Stage, budget: Budget
) -> StartTls:
    state = StartTls(advertised=dialect.advertises_starttls(stage.capabilities))
    if not state.advertised:
        return state
    state.attempted = True
    try:
        reply = await dialect.starttls(conn, budget.deadline())
    except (StepTimeout, ProtocolError) as exc:
        state.error = str(exc)
        return state
    state.reply = reply.text[:500]
    state.ok = reply.ok
    if not reply.ok:
        state.error = f"the server refused STARTTLS: {reply.text[:200]}"
    return state


async def handshake(
    conn: Connection,
    host: str,
    sni: str | None,
    budget: Budget,
    store: Callable[[], TrustStore],
    issuers: Callable[[], IssuerDownloads] | None = None,
) -> TlsInfo:
    """The real handshake, the chain described and judged; with `issuers`, a leaf sent
    alone is judged again with the issuer its AIA URL gives."""
    try:
        ssl_object = await conn.start_tls(probe_context(), sni, budget.deadline())
    except (StepTimeout, ProtocolError) as exc:
        return TlsInfo(ok=False, error=str(exc))
    cipher = ssl_object.cipher()
    info = TlsInfo(
        ok=True,
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        cipher_bits=cipher[2] if cipher else None,
    )
    certificates = _describe_chain(info, peer_chain_der(ssl_object), host, store())
    trust = info.trust
    url = trust.issuer_url if trust and trust.incomplete_chain else None
    if issuers and certificates and url and url.lower().startswith(("http://", "https://")):
        from diag.tls.trust import with_downloaded_issuer

        download = await issuers().get(url)
        with_downloaded_issuer(trust, certificates, download.certificates, download.error, store())
    return info


def _describe_chain(
    info: TlsInfo, der_chain: list[bytes], host: str, store: TrustStore
) -> list[x509.Certificate] | None:
    """Describe the chain as far as it can be read; judge trust when a strict parser read
    it all (then return it). Never raises: one odd certificate must not cost the other
    services."""
    import warnings

    from diag.tls.certificate import read_chain
    from diag.tls.trust import assess

    if not der_chain:
        info.error = "the server sent no certificate"
        return None
    reading = read_chain(der_chain)
    info.chain = reading.infos
    info.chain_detail = "; ".join(reading.detail) or None
    if reading.certificates is None:
        return None  # trust cannot be judged: the malformed-certificate finding says so
    with warnings.catch_warnings():  # already turned into findings by read_chain
        warnings.simplefilter("ignore")
        info.trust = assess(reading.certificates, host, store)
    return reading.certificates


async def _quit(dialect: Dialect, conn: Connection, budget: Budget) -> None:
    with contextlib.suppress(StepTimeout, ProtocolError):  # a courtesy: nothing depends on it
        await dialect.quit(conn, budget.deadline())


def _tell(future: asyncio.Future[TlsInfo | None] | None, tls: TlsInfo) -> None:
    if future is not None and not future.done():
        future.set_result(tls)


def _legacy_from_scan(result: ServiceResult) -> None:
    """Keep `tls.legacy` (TLS 1.0/1.1 accepted?) filled, now from the scanner's hellos."""
    if result.tls is None or result.scan is None:
        return
    for version in ("TLSv1", "TLSv1.1"):
        accepted = result.scan.versions.get(version)
        if result.tls.version == version:
            accepted = True
        result.tls.legacy[version] = accepted
        answer = result.scan.answers.get(version)
        if answer and not accepted:
            result.tls.legacy_errors[version] = answer
