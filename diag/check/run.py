"""`check`: discover, verify every candidate, rank, judge. Returns a CheckReport."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diag.discovery.discover import DiscoveryOptions, discover, head_start
from diag.net.connection import elapsed_ms
from diag.net.dns import MxResult, make_resolver, mx_hosts
from diag.progress import Event, Progress, silent
from diag.providers.query import parse_query
from diag.tls.loader import trust_store_loader

if TYPE_CHECKING:
    from diag.check.model import CheckReport
    from diag.check.verify import ProbeCache
    from diag.net.dns import Resolver
    from diag.providers.database import ProviderDatabase
    from diag.tls.trust import TrustStore


@dataclass
class Shared:
    """What a caller running many checks builds once and lends to each (the bulk
    scanner): a resolver (possibly caching), the provider database, the trust store,
    and a cache of probe results. Anything left None is made per check, as usual."""

    resolver: Resolver | None = None
    database: ProviderDatabase | None = None
    store: Callable[[], TrustStore] | None = None
    probes: ProbeCache | None = None


async def check(
    text: str,
    options: DiscoveryOptions,
    *,
    legacy_tls: bool = False,
    progress: Progress = silent,
    shared: Shared | None = None,
) -> CheckReport:
    shared = shared or Shared()
    clock = time.perf_counter()
    query = parse_query(text)
    resolver = shared.resolver or make_resolver(options.nameserver, options.timeout)
    # A bad --ca-file fails before the network.
    store = shared.store or trust_store_loader(options.ca_file)
    progress(Event("resolving", query.domain))
    mx_task = asyncio.ensure_future(mx_hosts(resolver, query.domain))
    await head_start()
    # The rest is imported while the MX query travels.
    from diag.check.domain import check_domain
    from diag.check.judge import (
        discovery_findings,
        domain_findings,
        probe_findings,
        skipped_finding,
        suspect_finding,
    )
    from diag.check.model import Checked, CheckReport
    from diag.check.rank import best_settings, rank
    from diag.check.verify import Verifier
    from diag.probe import ProbeOptions

    probe_options = ProbeOptions(
        timeout=options.timeout,
        ca_file=options.ca_file,
        nameserver=options.nameserver,
        legacy_tls=legacy_tls,
    )
    verifier = Verifier(probe_options, resolver, store, progress=progress, cache=shared.probes)
    # Probing starts as each source answers, not after the slowest one.
    report = await discover(
        text,
        options,
        shared.database,
        resolver=resolver,
        on_found=verifier.start,
        mx_task=mx_task,
        progress=progress,
    )
    merged = report.merged()
    # A well-known provider's own domain does not vanish: the resolver is lying or
    # filtering, and nothing it says about that domain can be trusted.
    suspect = report.mx_kind == "nxdomain" and report.provider_via == "domain"
    live = report.dns_reachable and not suspect
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
    if suspect:
        findings.append(suspect_finding(report))
    findings += discovery_findings(report, checked, live, incoming, outgoing)
    findings += probe_findings(checked, best_settings(incoming + outgoing))
    if live and verifier.skipped:
        probed = sum(1 for c in checked if c.result is not None)
        findings.append(skipped_finding(len(verifier.skipped), probed))
    findings.sort(key=lambda f: -f.severity.rank)
    return CheckReport(
        report,
        domain,
        checked,
        incoming,
        outgoing,
        findings,
        live,
        elapsed_ms(clock),
        suspect_resolver=suspect,
    )
