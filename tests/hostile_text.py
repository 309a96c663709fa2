"""Results whose outside-text fields all hold one chosen string, and every view of them.

Used by the property test and the per-source tests: `poison(value, text)` puts `text`
into every free-text string of a result (names, greetings, certificate fields, records,
details, notes), leaving the vocabulary the views look up (protocol, security, auth,
source and status names) as it is; `render_all` renders with every view and format.
"""

from __future__ import annotations

import dataclasses
import io
import re
from enum import Enum
from typing import Any

from diag.advice.i18n import Catalog
from diag.advice.model import Message, Reason, Recommendation
from diag.check.domain import DomainChecks, PolicyRecord
from diag.check.model import Checked, CheckReport, Setting
from diag.discovery.model import Candidate, DiscoveryReport, Merged, SourceResult
from diag.model import (
    AuthOffer,
    CertificateInfo,
    DnsResult,
    Finding,
    Greeting,
    ProbeReport,
    Reachability,
    Security,
    ServiceResult,
    ServiceSpec,
    Severity,
    Stage,
    StartTls,
    TlsInfo,
    TrustResult,
)
from diag.net.dns import MxResult
from diag.providers.database import ProviderDatabase
from diag.providers.lookup import ProviderMatch, Query
from diag.providers.schema import Provider, Server

# Fields whose values the views use as keys or compare with fixed words.
VOCABULARY = {
    "protocol",
    "security",
    "socket",
    "username",
    "auth",
    "status",
    "source",
    "sources",
    "key",
    "confidence",
    "favours",
    "answer",
    "via",
    "mx_kind",
    "error_kind",
    "unanswered",
    "code",
    "layer",
    "result",
}
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours, on a terminal
# What must never reach a terminal raw (tab and rich's own line ends are allowed).
RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def poison(value: Any, text: str, name: str = "") -> Any:
    if isinstance(value, Enum) or (name in VOCABULARY and _words(value)):
        return value
    if isinstance(value, str):
        return value + text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: poison(getattr(value, f.name), text, f.name)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, list):
        return [poison(v, text, name) for v in value]
    if isinstance(value, tuple):
        return tuple(poison(v, text, name) for v in value)
    if isinstance(value, dict):  # keys are vocabulary (protocols), values are text
        return {k: poison(v, text, name) for k, v in value.items()}
    return value


def _words(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def certificate() -> CertificateInfo:
    return CertificateInfo(
        subject="CN=mail.example.test",
        issuer="CN=Example CA",
        common_name="mail.example.test",
        serial="01",
        not_before="2026-01-01T00:00:00Z",
        not_after="2027-01-01T00:00:00Z",
        days_left=300,
        dns_names=["mail.example.test"],
        ip_addresses=[],
        key_type="EC",
        key_bits=256,
        key_curve="secp256r1",
        signature_algorithm="ecdsa-with-SHA256",
        signature_hash="sha256",
        sha256="AB:CD",
        self_signed=False,
        is_ca=False,
    )


def service(protocol: str = "smtp", port: int = 587) -> ServiceResult:
    stage = Stage(["EHLO-LINE", "STARTTLS"], AuthOffer(["PLAIN"], True), None)
    return ServiceResult(
        spec=ServiceSpec(protocol, port, Security.STARTTLS),
        explicit=False,
        reachability=Reachability.CONNECTED,
        address="127.0.8.1",
        connect_ms=1.0,
        greeting=Greeting(True, "220", "mail.example.test ESMTP ready\nsecond line"),
        before_tls=stage,
        starttls=StartTls(True, True, True, "220 go ahead"),
        tls=TlsInfo(
            ok=True,
            version="TLSv1.3",
            cipher="TLS_AES_128_GCM_SHA256",
            cipher_bits=128,
            chain=[certificate()],
            trust=TrustResult(
                trusted=False,
                error="self-signed",
                hostname_matches=False,
                hostname_checked="mail.example.test",
            ),
            legacy={"TLSv1": False},
        ),
        after_tls=stage,
        findings=[
            Finding(
                "tls.cert.self_signed",
                Severity.ERROR,
                "smtp/587",
                "certificate is self-signed",
                "CN=mail.example.test",
                "install a certificate from a public CA",
            )
        ],
    )


def probe_report() -> ProbeReport:
    return ProbeReport(
        host="mail.example.test",
        dns=DnsResult("mail.example.test", ["127.0.8.1"]),
        services=[service()],
        findings=[],
        started_at="2026-01-01T00:00:00Z",
        elapsed_ms=12.0,
    )


def candidate() -> Candidate:
    return Candidate("imap", "imap.example.test", 993, Security.TLS, "address", ("password",))


def discovery_report() -> DiscoveryReport:
    return DiscoveryReport(
        text="jane@example.test",
        domain="example.test",
        address="jane@example.test",
        sources=[
            SourceResult(
                "autodiscover",
                "https://autodiscover.example.test/autodiscover/autodiscover.xml",
                "found",
                "Server: imap.example.test",
                candidates=[candidate()],
            ),
            SourceResult("srv", "_imaps._tcp.example.test", "error", "bad SRV target"),
        ],
        mx_hosts=["mx.example.test"],
        mx_error=None,
        mx_kind=None,
        mx_null=False,
        provider_id="example",
        provider_name="Example Mail",
        provider_via="domain",
        dns_reachable=True,
    )


def check_report() -> CheckReport:
    discovery = discovery_report()
    setting = Setting(
        "imap", "imap.example.test", 993, "tls", "address", "jane@example.test",
        ["password"], True, False, ["autodiscover"],
    )  # fmt: skip
    domain = DomainChecks(
        mx=MxResult(hosts=["mx.example.test"]),
        has_address=True,
        unresolvable_mx=[],
        spf=PolicyRecord("example.test", ["v=spf1 include:spf.example.test -all"]),
        dmarc=PolicyRecord("_dmarc.example.test", ["v=DMARC1; p=none"]),
    )
    return CheckReport(
        discovery=discovery,
        domain=domain,
        checked=[Checked(Merged(candidate(), ["autodiscover"]), service("imap", 993))],
        incoming=[setting],
        outgoing=[],
        findings=list(service().findings),
        elapsed_ms=5.0,
    )


def provider() -> Provider:
    return Provider(
        id="example",
        name="Example Mail",
        domains=("example.test",),
        incoming=(Server("imap", "imap.example.test", 993, "ssl", notes="app password"),),
        outgoing=(Server("smtp", "smtp.example.test", 465, "ssl"),),
        mx=("*.mx.example.test",),
        enable={"imap": "Settings > Forwarding and POP/IMAP"},
        limits=("500 messages a day",),
        retired=("POP3 on port 110",),
        help=("https://example.test/help",),
        checked="2026-01-01",
    )


def recommendation() -> Recommendation:
    return Recommendation(
        protocol="imap",
        confidence="high",
        score={"imap": 3, "pop3": 0},
        reasons=[Reason("provider", "imap", 3, Message("reason.shared"))],
        caveats=[],
        settings=[],
        unanswered=["devices"],
        provider_id="example",
        provider_notes=["IMAP must be switched on first"],
    )


def render_all(text: str, *, width: int = 80, only: tuple[str, ...] = ()) -> dict[str, str]:
    """Every view of results poisoned with `text`: rich on a terminal, plain, JSON."""
    from diag.advice.render import advice_data
    from diag.render import advice_view, check_view, jsonout, providers_view, terminal
    from diag.render.console import make_console

    probe = poison(probe_report(), text)
    check = poison(check_report(), text)
    entry = poison(provider(), text)
    database = ProviderDatabase(root=None, _user={entry.id: entry})
    match = poison(
        ProviderMatch(Query("jane@example.test", "example.test", "jane@example.test"), None),
        text,
    )
    match = dataclasses.replace(match, provider=entry, via="domain")
    advice = poison(recommendation(), text)
    t = Catalog("en")

    views = {
        "probe": lambda c: terminal.render_probe(probe, c),
        "check": lambda c: check_view.render_check(check, c),
        "discovery": lambda c: check_view.render_discovery(check.discovery, c),
        "providers": lambda c: providers_view.render_list(database, c),
        "provider": lambda c: providers_view.render_provider(entry, None, c),
        "lookup": lambda c: providers_view.render_lookup(match, c),
        "advice": lambda c: advice_view.render_advice(advice, t, c, entry.name),
    }
    out: dict[str, str] = {}
    for name, view in views.items():
        if only and name not in only:
            continue
        for mode in ("terminal", "plain"):
            console = make_console(width=width)
            console.file = io.StringIO()
            if mode == "terminal":
                console._force_terminal = True
                console._color_system = console._detect_color_system()  # truecolor
                console.soft_wrap = False
            view(console)
            out[f"{name}/{mode}"] = console.file.getvalue()
    if only:
        return out
    out["json/probe"] = jsonout.dumps(jsonout.probe_data(probe))
    out["json/check"] = jsonout.dumps(jsonout.check_data(check))
    out["json/providers"] = jsonout.dumps(jsonout.providers_data(database))
    out["json/lookup"] = jsonout.dumps(jsonout.lookup_data(match))
    out["json/advice"] = jsonout.dumps(advice_data(advice, t))
    out["json/error"] = jsonout.dumps(jsonout.error_data(text, 3))
    return out
