"""What a check found: each candidate with its probe, the winners, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from diag.check.domain import DomainChecks
from diag.check.verdict import Cause, dns_cause, unverified_cause
from diag.discovery.model import DiscoveryReport, Merged
from diag.model import VERDICT_WORDS, Finding, ServiceResult, exit_code_for, severity_counts


@dataclass
class Checked:
    merged: Merged
    result: ServiceResult | None  # None: not probed (no network)
    dns_definite: bool = True  # False: the host's DNS did not answer (unknown, not broken)

    @property
    def usable(self) -> bool:
        return self.result is not None and self.result.usable

    @property
    def trusted_name(self) -> bool:
        tls = self.result.tls if self.result else None
        return bool(tls and tls.trust and tls.trust.trusted and tls.trust.hostname_matches)

    @property
    def label(self) -> str:
        c = self.merged.candidate
        return f"{c.protocol}/{c.port} {c.host}"


@dataclass
class Setting:
    protocol: str
    host: str
    port: int
    security: str  # tls, starttls, plain
    username: str  # "address", "localpart" or "login" (the provider's account name)
    username_value: str | None
    auth: list[str]
    verified: bool  # probed and working
    trusted: bool  # certificate trusted and valid for the host name
    sources: list[str]


@dataclass
class CheckReport:
    discovery: DiscoveryReport
    domain: DomainChecks | None
    checked: list[Checked]
    incoming: list[Setting]
    outgoing: list[Setting]
    findings: list[Finding] = field(default_factory=list)
    live: bool = True  # False: no network, nothing was probed
    elapsed_ms: float = 0.0
    suspect_resolver: bool = False  # a well-known provider's domain "does not exist"

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.findings, checked=self.live)

    @property
    def best(self) -> list[Setting]:
        """What to type into the mail client: the best IMAP, POP3 and SMTP settings."""
        from diag.check.rank import best_settings

        return best_settings(self.incoming + self.outgoing)

    @property
    def cause(self) -> Cause | None:
        """Why nothing could be verified; None when a setting was."""
        cause = dns_cause(self.discovery, self.suspect_resolver)
        if cause is not None or not self.live:
            return cause or Cause("dns_down", "live checks could not run")
        if any(s.verified for s in self.incoming + self.outgoing):
            return None
        return unverified_cause(self.checked)

    @property
    def summary(self) -> str:
        counts = severity_counts(self.findings)
        errors, warnings = counts["error"], counts["warning"]
        cause = self.cause
        if cause is not None:
            if not self.live:
                return cause.text + "; settings below are unverified"
            others = errors - (cause.kind == "nxdomain")
            return cause.text + (f"; {others} other problem(s) to fix" if others > 0 else "")
        if errors:
            return f"{errors} problem(s) to fix" + (f", {warnings} warning(s)" if warnings else "")
        if warnings:
            return f"mail works; {warnings} warning(s)"
        return "mail is set up right"

    @property
    def verdict(self) -> str:
        return f"{VERDICT_WORDS[self.exit_code]} {self.discovery.domain}: {self.summary}"
