"""Why nothing could be verified, in one phrase: the verdict names the real cause.

A helpdesk reads the first line only. "Could not be verified" alone sends them looking
in the wrong place: a firewall dropping everything, servers refusing, TLS failing,
a domain that does not exist and a DNS server that does not answer are five different
calls to make.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diag.model import Reachability, ServiceResult

if TYPE_CHECKING:
    from diag.check.model import Checked
    from diag.discovery.model import DiscoveryReport

SUGGESTED_NAMESERVER = "1.1.1.1"


@dataclass(frozen=True)
class Cause:
    kind: str  # see CAUSES in docs/check.md
    text: str


# Outcome of one probed candidate -> (kind, how a group of them reads)
_OUTCOME_TEXT = {
    "timeout": "timed out",
    "refused": "refused the connection",
    "unreachable": "could not be reached",
    "tls_failed": "failed TLS",
    "no_tls": "offered no encryption",
    "no_greeting": "did not greet properly",
}


def outcome(result: ServiceResult) -> str:
    """One word for what went wrong with a candidate that is not usable."""
    reach = result.reachability
    if reach is Reachability.DNS_FAILURE:
        return "unresolved"
    if reach is Reachability.TIMEOUT:
        return "timeout"
    if reach is Reachability.REFUSED:
        return "refused"
    if reach is not Reachability.CONNECTED:
        return "unreachable"
    if result.tls is not None and not result.tls.ok:
        return "tls_failed"
    if result.starttls is not None and result.starttls.attempted and not result.starttls.ok:
        return "tls_failed"
    if result.greeting is None or not result.greeting.ok:
        return "no_greeting"
    return "no_tls"


def dns_cause(report: DiscoveryReport, suspect_resolver: bool) -> Cause | None:
    """The domain-level causes, decided before any server is tried."""
    domain = report.domain
    if suspect_resolver:
        return Cause(
            "resolver_suspect",
            f"your DNS server says {domain} does not exist, but it is a well-known mail "
            f"provider ({report.provider_name}): the resolver is at fault; "
            f"retry with --nameserver {SUGGESTED_NAMESERVER}",
        )
    if not report.dns_reachable:
        return Cause(
            "dns_down",
            "DNS is not answering, so nothing could be checked "
            f"({report.mx_error or 'no answer'}); try another --nameserver",
        )
    if report.mx_kind == "nxdomain":
        return Cause("nxdomain", f"{domain} does not exist (NXDOMAIN): check the spelling")
    return None


def unverified_cause(checked: list[Checked]) -> Cause:
    """Why no candidate could be verified, from what happened to each of them."""
    results = [c.result for c in checked if c.result is not None]
    if not results:
        return Cause("no_settings", "no mail settings were found to test")
    tried = [outcome(r) for r in results if r.reachability is not Reachability.DNS_FAILURE]
    if not tried:
        if any(not c.dns_definite for c in checked if c.result is not None):
            return Cause(
                "unresolved",
                "the settings found could not be verified: DNS did not answer for their "
                "servers' names",
            )
        return Cause(
            "unresolved",
            "the settings found could not be verified: their servers' names do not resolve",
        )

    counts = Counter(tried)
    n = len(tried)
    servers = "the only server" if n == 1 else f"all {n} servers"
    if len(counts) == 1:
        kind = tried[0]
        if kind == "timeout":
            return Cause("timeout", f"nothing answered: {servers} timed out (a firewall?)")
        return Cause(kind, f"nothing works: {servers} {_OUTCOME_TEXT[kind]}")
    parts = ", ".join(f"{count} {_OUTCOME_TEXT[kind]}" for kind, count in counts.most_common())
    return Cause("mixed", f"nothing works: of {n} servers, {parts}")
