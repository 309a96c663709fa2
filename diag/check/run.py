"""`check`: discover, verify every candidate, rank, judge. Returns a CheckReport."""

from __future__ import annotations

import asyncio
import time

from diag.check.domain import check_domain
from diag.check.judge import discovery_findings, domain_findings, probe_findings
from diag.check.model import Checked, CheckReport
from diag.check.rank import best_settings, rank
from diag.check.verify import Verifier
from diag.discovery.discover import DiscoveryOptions, discover
from diag.net.connection import elapsed_ms
from diag.net.dns import MxResult, make_resolver
from diag.probe import ProbeOptions


async def check(text: str, options: DiscoveryOptions, *, legacy_tls: bool = False) -> CheckReport:
    from diag.tls.trust import system_store

    clock = time.perf_counter()
    resolver = make_resolver(options.nameserver, options.timeout)
    probe_options = ProbeOptions(
        timeout=options.timeout,
        ca_file=options.ca_file,
        nameserver=options.nameserver,
        legacy_tls=legacy_tls,
    )
    verifier = Verifier(probe_options, resolver, system_store().extended(options.ca_file))
    # Probing starts as each source answers, not after the slowest one.
    report = await discover(text, options, resolver=resolver, on_found=verifier.start)
    merged = report.merged()
    live = report.dns_reachable
    if live:
        mx = MxResult(report.mx_hosts, report.mx_error, report.mx_kind, report.mx_null)
        checked, domain = await asyncio.gather(
            verifier.results(merged), check_domain(resolver, report.domain, mx)
        )
    else:
        verifier.cancel()
        checked, domain = [Checked(m, None) for m in merged], None
    incoming = rank(checked, "imap", report.address, live=live) + rank(
        checked, "pop3", report.address, live=live
    )
    outgoing = rank(checked, "smtp", report.address, live=live)
    findings = domain_findings(domain, report.domain) if domain else []
    findings += discovery_findings(report, checked, live, incoming, outgoing)
    findings += probe_findings(checked, best_settings(incoming + outgoing))
    findings.sort(key=lambda f: -f.severity.rank)
    return CheckReport(
        report, domain, checked, incoming, outgoing, findings, live, elapsed_ms(clock)
    )
