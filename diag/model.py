"""Typed results of a probe.

Everything the probe learns is a plain dataclass, so the terminal view, the JSON
contract (docs/json.md) and later commands (discovery, check) are views over the same
values. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from diag.tlsscan.model import TlsScan


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Reachability(StrEnum):
    CONNECTED = "connected"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"  # no route, network down, reset during connect
    DNS_FAILURE = "dns_failure"


class Security(StrEnum):
    """How a service gets encrypted (the socket types of mail-client settings)."""

    TLS = "tls"  # implicit TLS from the first byte (993, 995, 465)
    STARTTLS = "starttls"  # plaintext greeting, then an upgrade command
    PLAIN = "plain"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    service: str | None  # "imap/143"; None for host-level findings
    message: str
    evidence: str  # plain words a helpdesk can read
    fix: str
    detail: str | None = None  # technical detail (a library's own message), JSON only


@dataclass(frozen=True)
class ServiceSpec:
    protocol: str  # "imap", "pop3", "smtp"
    port: int
    security: Security

    @property
    def label(self) -> str:
        return f"{self.protocol}/{self.port}"


@dataclass
class ConnectAttempt:
    address: str
    outcome: Reachability
    ms: float | None = None
    error: str | None = None


@dataclass
class Greeting:
    ok: bool
    status: str  # "OK", "PREAUTH", "BYE", "+OK", "220", "554", ...
    text: str


@dataclass
class AuthOffer:
    """What a client could log in with at one stage of the session."""

    mechanisms: list[str] = field(default_factory=list)  # SASL names, upper case
    plaintext_login: bool = False  # IMAP LOGIN, POP3 USER/PASS, or SASL PLAIN/LOGIN
    login_disabled: bool = False  # IMAP LOGINDISABLED

    @property
    def offered(self) -> bool:
        return bool(self.mechanisms) or self.plaintext_login


@dataclass
class Stage:
    """Capabilities at one point of a session: before or after TLS."""

    capabilities: list[str]
    auth: AuthOffer
    capability_error: str | None = None


@dataclass
class StartTls:
    advertised: bool
    attempted: bool = False
    ok: bool = False
    reply: str | None = None
    error: str | None = None
    # Plaintext the server sent after its go-ahead, discarded before the handshake
    # (never read as if it came inside TLS); None when there was none.
    pipelined: str | None = None
    # Did the server answer, inside TLS, a command pipelined in plaintext with STARTTLS
    # (CVE-2011-0411 class)? None: not tested.
    injection: bool | None = None


@dataclass
class CertificateInfo:
    subject: str
    issuer: str
    common_name: str | None
    serial: str
    not_before: str  # ISO 8601, UTC
    not_after: str
    days_left: int
    dns_names: list[str]
    ip_addresses: list[str]
    key_type: str  # "RSA", "EC", "Ed25519", "Ed448", "DSA"
    key_bits: int
    key_curve: str | None
    signature_algorithm: str
    signature_hash: str | None
    sha256: str
    self_signed: bool
    is_ca: bool
    aia_ca_issuers: list[str] = field(default_factory=list)
    # Encoding rules the certificate breaks, in plain words (negative serial, string
    # types strict parsers refuse, ...); empty for a well-formed certificate.
    problems: list[str] = field(default_factory=list)
    strictly_readable: bool = True  # False: described by the lenient reader (diag.tls.der)


@dataclass
class TrustResult:
    trusted: bool  # an ordinary mail client with this trust store accepts the chain
    error: str | None = None  # why not, in plain words
    error_detail: str | None = None  # the verifier's own message
    self_signed: bool = False
    incomplete_chain: bool = False
    incomplete_reason: str | None = None
    missing_issuer: str | None = None  # the certificate the server should also send
    issuer_url: str | None = None  # where that certificate is published (AIA)
    issuer_downloaded: bool | None = None  # None: not tried; False: the download failed
    # Rules of the strict (CA/Browser Forum) profile the chain breaks, in plain words;
    # empty when strict verifiers accept it as well.
    nonconforming: list[str] = field(default_factory=list)
    nonconforming_detail: str | None = None
    hostname_matches: bool = False
    hostname_checked: str = ""
    valid_names: list[str] = field(default_factory=list)
    names_note: str | None = None


@dataclass
class TlsInfo:
    ok: bool
    error: str | None = None
    version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    chain: list[CertificateInfo] = field(default_factory=list)
    trust: TrustResult | None = None
    # "TLSv1" / "TLSv1.1" -> True accepted, False refused, None could not test
    legacy: dict[str, bool | None] = field(default_factory=dict)
    legacy_errors: dict[str, str] = field(default_factory=dict)
    chain_detail: str | None = None  # the parsers' own words about malformed certificates


@dataclass
class ServiceResult:
    spec: ServiceSpec
    explicit: bool  # asked for by --port/--protocol rather than part of a sweep
    reachability: Reachability
    address: str | None = None
    connect_ms: float | None = None
    attempts: list[ConnectAttempt] = field(default_factory=list)
    greeting: Greeting | None = None
    greeting_error: str | None = None
    greeting_timed_out: bool = False
    greeting_ms: float | None = None  # from connected to the whole greeting read
    before_tls: Stage | None = None
    starttls: StartTls | None = None
    tls: TlsInfo | None = None
    after_tls: Stage | None = None
    scan: TlsScan | None = None  # the raw-handshake scanner's results (diag.tlsscan)
    # A fault in maildiag itself cut this service's probe short; what came before stands.
    internal_error: str | None = None
    elapsed_ms: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Reached, greeted, and encrypted (a client could use it safely)."""
        return bool(
            self.reachability is Reachability.CONNECTED
            and self.greeting
            and self.greeting.ok
            and self.tls
            and self.tls.ok
        )


@dataclass
class DnsResult:
    host: str
    addresses: list[str]
    is_literal: bool = False
    error: str | None = None
    # "nxdomain", "no_address", "timeout", "servfail", "no_resolver", "bad_name"
    error_kind: str | None = None

    @property
    def answered(self) -> bool:
        """True when DNS gave a definite answer (addresses, or a definite 'none')."""
        return self.error_kind not in ("timeout", "servfail", "no_resolver")


@dataclass
class ProbeReport:
    host: str
    dns: DnsResult
    services: list[ServiceResult]
    findings: list[Finding]  # host-level findings
    started_at: str
    elapsed_ms: float

    @property
    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for service in self.services:
            out.extend(service.findings)
        return out

    @property
    def checked(self) -> bool:
        return self.dns.answered

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.all_findings, checked=self.checked)


VERDICT_WORDS = {0: "OK", 1: "WARNING", 2: "ERROR", 3: "UNKNOWN"}


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity, worst first (the JSON `summary`)."""
    counts = {severity.value: 0 for severity in reversed(Severity)}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts


def exit_code_for(findings: list[Finding], *, checked: bool = True) -> int:
    """Monitoring-plugin convention: 0 OK, 1 warning, 2 error (critical), 3 unknown."""
    if not checked:
        return 3
    worst = max((f.severity.rank for f in findings), default=0)
    return worst  # info=0, warning=1, error=2
