"""Judge probe results: turn the facts of a ServiceResult into findings.

Kept apart from the probe (as sslyze keeps connectivity apart from analysis), so the
rules can be read, tested and changed without touching the network code.
"""

from __future__ import annotations

from datetime import UTC, datetime

from diag.findings.catalogue import finding
from diag.model import (
    AuthOffer,
    CertificateInfo,
    Finding,
    ProbeReport,
    Reachability,
    Security,
    ServiceResult,
    Severity,
    TlsInfo,
    TrustResult,
)
from diag.protocols import SUBMISSION_PORTS
from diag.tls.trust import strict_clients_note
from diag.tlsscan.model import TlsScan
from diag.tlsscan.suites import ERROR_CLASSES

EXPIRY_WARNING_DAYS = 14
SLOW_GREETING_MS = 2000  # a greeting pause (Postfix postscreen waits ~6 s) clients notice
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
WEAK_HASHES = frozenset({"md5", "sha1", "md2", "md4"})


def service_findings(result: ServiceResult) -> list[Finding]:
    out = _session_findings(result)
    if result.tls is not None:  # the scanner answers even when Python's handshake failed
        out.extend(_protocols(result.spec.label, result.tls, result.scan))
    return out


def _session_findings(result: ServiceResult) -> list[Finding]:
    label = result.spec.label
    out: list[Finding] = []
    if result.internal_error:
        out.append(
            finding(
                "probe.internal_error",
                label,
                f"{label}: maildiag could not finish checking this service",
                result.internal_error,
            )
        )
        return out  # judging a session cut short would invent problems
    reach = result.reachability
    if reach is Reachability.DNS_FAILURE:
        return out
    if reach is not Reachability.CONNECTED:
        out.append(_unreachable(result))
        return out

    if result.spec.security is Security.TLS and result.tls and not result.tls.ok:
        out.append(_handshake_failed(label, result.tls, "on connect (implicit TLS)"))
        return out
    if result.greeting_timed_out:
        out.append(
            finding(
                "banner.timeout",
                label,
                f"{label}: connected, but no greeting came",
                "no complete greeting line within the timeout",
            )
        )
        return out
    if result.greeting_error:
        out.append(
            finding("banner.invalid", label, f"{label}: invalid greeting", result.greeting_error)
        )
        return out
    if result.greeting and not result.greeting.ok:
        out.append(
            finding(
                "banner.rejected",
                label,
                f"{label}: the server refuses the session",
                result.greeting.text[:300],
            )
        )
        return out

    if result.greeting_ms is not None and result.greeting_ms >= SLOW_GREETING_MS:
        out.append(
            finding(
                "banner.slow",
                label,
                f"{label}: the server took {result.greeting_ms / 1000:.1f} s to greet",
                f"greeting complete {result.greeting_ms:.0f} ms after the connection",
            )
        )
    if result.before_tls is not None:
        out.extend(_before_tls(result))
    if result.tls is not None and result.tls.ok:
        out.extend(tls_findings(label, result.tls))
        out.extend(_after_tls(result))
    return out


def _unreachable(result: ServiceResult) -> Finding:
    label = result.spec.label
    evidence = "; ".join(f"{a.address}: {a.error or a.outcome.value}" for a in result.attempts)
    if result.reachability is Reachability.REFUSED:
        severity = Severity.ERROR if result.explicit else None
        return finding(
            "port.closed", label, f"{label}: connection refused", evidence, severity=severity
        )
    if result.reachability is Reachability.TIMEOUT:
        severity = Severity.ERROR if result.explicit else None
        return finding(
            "port.timeout",
            label,
            f"{label}: no answer to the connection",
            evidence,
            severity=severity,
        )
    return finding("port.unreachable", label, f"{label}: cannot connect", evidence)


def _handshake_failed(label: str, tls: TlsInfo, when: str) -> Finding:
    return finding(
        "tls.handshake_failed", label, f"{label}: TLS handshake failed {when}", tls.error or ""
    )


def _before_tls(result: ServiceResult) -> list[Finding]:
    label = result.spec.label
    out: list[Finding] = []
    stage = result.before_tls
    assert stage is not None
    if stage.auth.plaintext_login:
        what = _describe_auth(result.spec.protocol, stage.auth)
        out.append(
            finding(
                "auth.plaintext_before_tls",
                label,
                f"{label}: a password login is offered on the unencrypted connection",
                f"before TLS the server offers: {what}",
            )
        )
    starttls = result.starttls
    if starttls is None:
        return out
    if not starttls.advertised:
        mx = result.spec.protocol == "smtp" and result.spec.port == 25
        out.append(
            finding(
                "starttls.not_offered",
                label,
                f"{label}: STARTTLS is not offered; everything travels in clear text",
                "capabilities: " + (" ".join(stage.capabilities)[:300] or "(none)"),
                severity=Severity.WARNING if mx else None,
            )
        )
    elif not starttls.ok:
        out.append(
            finding(
                "starttls.failed",
                label,
                f"{label}: STARTTLS is advertised but the upgrade failed",
                starttls.error or starttls.reply or "",
            )
        )
    elif result.tls is not None and not result.tls.ok:
        out.append(_handshake_failed(label, result.tls, "after STARTTLS"))
    if starttls.pipelined:
        out.append(
            finding(
                "starttls.pipelined_response",
                label,
                f"{label}: the server sent more text right after its STARTTLS go-ahead",
                f'sent in plaintext after the go-ahead, and discarded: "{starttls.pipelined}"',
            )
        )
    if starttls.injection:
        out.append(
            finding(
                "starttls.injection",
                label,
                f"{label}: commands sent in plaintext with STARTTLS are run inside TLS",
                "a NOOP pipelined with STARTTLS in one write was answered after the handshake",
            )
        )
    return out


def _after_tls(result: ServiceResult) -> list[Finding]:
    label = result.spec.label
    stage = result.after_tls
    if stage is None or stage.capability_error:
        return []
    if result.spec.protocol == "smtp" and result.spec.port == 25:
        return []  # relay port: authentication is optional there
    if result.greeting and result.greeting.status == "PREAUTH":
        return []
    if stage.auth.offered:
        return []
    return [
        finding(
            "auth.none_offered",
            label,
            f"{label}: no login method is offered, even over TLS",
            "capabilities after TLS: " + (" ".join(stage.capabilities)[:300] or "(none)"),
        )
    ]


def _describe_auth(protocol: str, auth: AuthOffer) -> str:
    parts = []
    if protocol == "imap" and not auth.login_disabled:
        parts.append("LOGIN command (no LOGINDISABLED)")
    if protocol == "pop3" and auth.plaintext_login and "USER" not in auth.mechanisms:
        parts.append("USER/PASS")
    if auth.mechanisms:
        parts.append("SASL " + " ".join(auth.mechanisms))
    return ", ".join(parts) or "plaintext login"


def tls_findings(label: str, tls: TlsInfo, now: datetime | None = None) -> list[Finding]:
    """Findings about the negotiated TLS and the certificate chain."""
    now = now or datetime.now(UTC)
    out: list[Finding] = []
    if not tls.chain:
        if tls.error:
            out.append(_handshake_failed(label, tls, "(certificate)"))
        return out
    leaf = tls.chain[0]
    out.extend(_malformed(label, tls))
    out.extend(_validity(label, leaf, now))
    trust = tls.trust
    if trust is not None:
        if not trust.hostname_matches:
            names = ", ".join(trust.valid_names[:20]) or (leaf.common_name or "(none)")
            note = f" ({trust.names_note})" if trust.names_note else ""
            suggestion = trust.valid_names[0] if trust.valid_names else None
            fix = None
            if suggestion and not suggestion.startswith("*"):
                fix = (
                    f"Use {suggestion} as the server name in mail clients, or add "
                    f"{trust.hostname_checked} to the certificate."
                )
            out.append(
                finding(
                    "tls.cert.hostname_mismatch",
                    label,
                    f"{label}: the certificate is not valid for {trust.hostname_checked}",
                    f"valid for: {names}{note}",
                    fix=fix,
                )
            )
        out.extend(_trust(label, leaf, len(tls.chain), trust))
    out.extend(_strength(label, tls.chain))
    return out


def _protocols(label: str, tls: TlsInfo, scan: TlsScan | None) -> list[Finding]:
    """Old protocol versions and weak cipher classes the server still accepts."""
    out: list[Finding] = []
    versions = dict(scan.versions) if scan else {}
    for version, accepted in tls.legacy.items():
        versions[version] = versions.get(version) or accepted
    old = [v for v in ("SSLv3", "TLSv1", "TLSv1.1") if versions.get(v)]
    if old:
        out.append(
            finding(
                "tls.legacy_protocol",
                label,
                f"{label}: accepts {' and '.join(old)}",
                f"the server answered with a ServerHello for {', '.join(old)}"
                + (" (hand-built ClientHellos capped at those versions)" if scan else ""),
                severity=Severity.ERROR if "SSLv3" in old else None,
            )
        )
    weak = scan.weak_accepted if scan else {}
    serious = ERROR_CLASSES.intersection(weak)
    note = ""
    if label.endswith("/25") and serious == {"anonymous"}:
        # Between MTAs TLS is opportunistic and unauthenticated anyway (Postfix enables
        # anonymous suites there by default): worth fixing, not an error.
        serious = set()
        note = " (on port 25, where TLS between servers is opportunistic, this is a warning)"
    if weak:
        parts = [
            f"{name} (e.g. {w.suite}" + (f" with {w.version})" if w.version else ")")
            for name, w in weak.items()
        ]
        out.append(
            finding(
                "tls.weak_cipher",
                label,
                f"{label}: accepts weak cipher suites: {', '.join(weak)}",
                "the server picked weak suites from ClientHellos offering nothing else: "
                + "; ".join(parts)
                + note,
                severity=Severity.ERROR if serious else None,
            )
        )
    return out


def _trust(label: str, leaf: CertificateInfo, sent: int, trust: TrustResult) -> list[Finding]:
    if trust.trusted:
        if not trust.nonconforming:
            return []
        return [
            finding(
                "tls.cert.nonconforming",
                label,
                f"{label}: mail clients accept the certificate, strict verifiers do not",
                "; ".join(trust.nonconforming) + ". " + strict_clients_note() + ".",
                detail=trust.nonconforming_detail,
            )
        ]
    if trust.incomplete_chain:
        missing = trust.missing_issuer or "the intermediate certificate"
        where = f" (download it from {trust.issuer_url})" if trust.issuer_url else ""
        return [
            finding(
                "tls.cert.incomplete_chain",
                label,
                f"{label}: the server sends {sent} certificate(s), without the intermediate "
                f"{missing}",
                trust.incomplete_reason or "",
                fix=(
                    f"Add the intermediate certificate {missing}{where} to the server's "
                    "certificate file, after the server's own certificate (e.g. Let's "
                    "Encrypt's fullchain.pem), and reload the service."
                ),
                detail=trust.error_detail,
            )
        ]
    if trust.self_signed:
        return [
            finding(
                "tls.cert.self_signed",
                label,
                f"{label}: the certificate is self-signed",
                f"subject = issuer = {leaf.subject}",
            )
        ]
    return [
        finding(
            "tls.cert.untrusted",
            label,
            f"{label}: the certificate does not chain to a trusted root",
            trust.error or "the chain does not lead to a trusted root",
            detail=trust.error_detail,
        )
    ]


def _malformed(label: str, tls: TlsInfo) -> list[Finding]:
    problems = list(dict.fromkeys(p for cert in tls.chain for p in cert.problems))
    if not problems:
        return []
    unjudged = tls.trust is None
    return [
        finding(
            "tls.cert.malformed",
            label,
            f"{label}: the certificate breaks encoding rules"
            + ("; whether clients trust it could not be checked" if unjudged else ""),
            "; ".join(problems),
            detail=tls.chain_detail,
        )
    ]


def _validity(label: str, leaf: CertificateInfo, now: datetime) -> list[Finding]:
    not_before = datetime.fromisoformat(leaf.not_before)
    not_after = datetime.fromisoformat(leaf.not_after)
    dates = f"valid from {leaf.not_before} to {leaf.not_after}"
    if now > not_after:
        days = (now - not_after).days
        return [
            finding(
                "tls.cert.expired", label, f"{label}: certificate expired {days} day(s) ago", dates
            )
        ]
    if now < not_before:
        return [
            finding(
                "tls.cert.not_yet_valid",
                label,
                f"{label}: certificate not valid before {leaf.not_before}",
                dates,
            )
        ]
    if leaf.days_left < EXPIRY_WARNING_DAYS:
        return [
            finding(
                "tls.cert.expires_soon",
                label,
                f"{label}: certificate expires in {leaf.days_left} day(s)",
                dates,
            )
        ]
    return []


def _strength(label: str, chain: list[CertificateInfo]) -> list[Finding]:
    out: list[Finding] = []
    for position, cert in enumerate(chain):
        if position > 0 and cert.self_signed:
            continue  # a root's own key and signature are trusted by identity, not checked
        who = "certificate" if position == 0 else f"intermediate {cert.subject}"
        weak_key = (cert.key_type in ("RSA", "DSA") and cert.key_bits < MIN_RSA_BITS) or (
            cert.key_type == "EC" and cert.key_bits < MIN_EC_BITS
        )
        if weak_key:
            out.append(
                finding(
                    "tls.cert.weak_key",
                    label,
                    f"{label}: {who} has a {cert.key_type} {cert.key_bits}-bit key",
                    f"{cert.subject}: {cert.key_type} {cert.key_bits} bits",
                )
            )
        if cert.signature_hash in WEAK_HASHES and not (position == 0 and cert.self_signed):
            out.append(
                finding(
                    "tls.cert.weak_signature",
                    label,
                    f"{label}: {who} is signed with {cert.signature_hash.upper()}",
                    f"{cert.subject}: {cert.signature_algorithm}",
                )
            )
    return out


def blocked_locally(services: list[ServiceResult]) -> None:
    """Port 25 silent on every address while 465/587 answer: our network blocks it.

    Many ISPs and company networks drop outbound port 25. The server is not at fault,
    so the port.timeout finding on smtp/25 becomes an info finding saying so.
    """
    answering = [
        s
        for s in services
        if s.spec.protocol == "smtp"
        and s.spec.port in SUBMISSION_PORTS
        and s.reachability is Reachability.CONNECTED
    ]
    for service in services:
        if not (
            answering
            and service.spec.port == 25
            and service.reachability is Reachability.TIMEOUT
            and service.attempts
            and all(a.outcome is Reachability.TIMEOUT for a in service.attempts)
        ):
            continue
        label = service.spec.label
        others = ", ".join(s.spec.label for s in answering)
        service.findings = [f for f in service.findings if f.code != "port.timeout"]
        service.findings.append(
            finding(
                "port.blocked_locally",
                label,
                f"{label}: no answer, while {others} on the same host answer: port 25 is "
                "probably blocked on this network, not on the server",
                f"{len(service.attempts)} address(es) tried on port 25, none answered; "
                f"{others} connected",
            )
        )


def host_findings(report: ProbeReport) -> list[Finding]:
    dns = report.dns
    if dns.error:
        code = "dns.no_address" if dns.answered else "dns.resolution_failed"
        return [finding(code, None, f"{report.host}: {dns.error}", dns.error)]
    out: list[Finding] = []
    services = report.services
    if not any(s.reachability is Reachability.CONNECTED for s in services) and not any(
        s.explicit for s in services
    ):
        out.append(
            finding(
                "port.none_open",
                None,
                f"{report.host}: none of the {len(services)} mail ports answered",
                ", ".join(f"{s.spec.label} {s.reachability.value}" for s in services),
            )
        )
        return out
    submission = [
        s for s in services if s.spec.protocol == "smtp" and s.spec.port in SUBMISSION_PORTS
    ]
    if len(submission) == len(SUBMISSION_PORTS) and not any(s.usable for s in submission):
        out.append(
            finding(
                "smtp.no_submission",
                None,
                f"{report.host}: mail clients have no secure port to send mail",
                ", ".join(f"{s.spec.label}: {_state(s)}" for s in submission),
            )
        )
    return out


def _state(service: ServiceResult) -> str:
    if service.reachability is not Reachability.CONNECTED:
        return service.reachability.value
    if service.tls is None or not service.tls.ok:
        return "no TLS"
    return "ok"
