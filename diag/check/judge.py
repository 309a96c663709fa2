"""Findings of a check: the domain's DNS, the published settings against reality, and
the probes of the settings a client would use."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from diag.check.domain import DomainChecks
from diag.check.model import Checked, Setting
from diag.discovery.model import PUBLISHED, DiscoveryReport
from diag.discovery.sources import MAX_SERVERS_PER_SOURCE
from diag.findings.catalogue import finding
from diag.model import Finding, Reachability, Severity
from diag.quoting import quoted


def domain_findings(d: DomainChecks, domain: str) -> list[Finding]:
    out: list[Finding] = []
    if d.mx.kind == "nxdomain":
        return [finding("dns.nxdomain", None, f"{domain} does not exist", d.mx.error or "")]
    if d.mx.null:
        out.append(finding("dns.null_mx", None, f"{domain} publishes a null MX", "MX 0 ."))
    elif not d.mx.hosts and d.mx.answered:
        implicit = "; mail falls back to the domain's own address (RFC 5321 5.1)"
        out.append(
            finding(
                "dns.no_mx",
                None,
                f"{domain} has no MX record",
                "MX query: no answer" + (implicit if d.has_address else ""),
                severity=Severity.WARNING if d.has_address else None,
            )
        )
    for host in d.unresolvable_mx:
        out.append(
            finding(
                "dns.mx_unresolvable",
                None,
                f"MX host {host} has no address",
                f"{host}: no A or AAAA record",
            )
        )
    for host in d.unusable_mx:
        out.append(
            finding(
                "dns.mx_unusable",
                None,
                f"an MX record of {domain} names {quoted(host)}, which is not a host name",
                f"MX {quoted(host)}",
            )
        )
    for record, kind in ((d.spf, "spf"), (d.dmarc, "dmarc")):
        if record.lookup_error:
            continue  # could not ask: no claim either way
        if not record.present:
            out.append(
                finding(
                    f"dns.{kind}_missing",
                    None,
                    f"no {kind.upper()} record at {record.name}",
                    f"TXT {record.name}: none",
                )
            )
        elif record.error:
            out.append(
                finding(
                    f"dns.{kind}_invalid",
                    None,
                    f"{record.name}: {record.error}",
                    " | ".join(record.records)[:400],
                )
            )
    return out


def discovery_findings(
    report: DiscoveryReport,
    checked: list[Checked],
    live: bool,
    incoming: list[Setting],
    outgoing: list[Setting],
) -> list[Finding]:
    out: list[Finding] = []
    for source in report.sources:
        if source.rejected:
            shown = "; ".join(source.rejected[:5])
            more = f" (and {len(source.rejected) - 5} more)" if len(source.rejected) > 5 else ""
            out.append(
                finding(
                    "discovery.unusable_entry",
                    None,
                    f"{source.source} at {source.location} names "
                    f"{len(source.rejected)} server(s) that cannot be used",
                    f"{source.source}: {shown}{more}",
                )
            )
        if source.ignored:
            out.append(
                finding(
                    "discovery.too_many_servers",
                    None,
                    f"{source.source} at {source.location} lists more than "
                    f"{MAX_SERVERS_PER_SOURCE} servers; {source.ignored} were not tried",
                    f"{source.source}: {len(source.candidates) + source.ignored} servers",
                )
            )
        if source.insecure and source.candidates:
            out.append(
                finding(
                    "discovery.insecure_config",
                    None,
                    f"the configuration at {source.location} came over plain HTTP",
                    f"{source.source}: {source.location}",
                )
            )
    out += _disagreements(report)
    if not live:
        return out
    for c in checked:
        if not c.merged.published or c.usable or not _definitely_broken(c):
            continue
        if c.merged.owner_published:
            out.append(
                finding(
                    "discovery.published_broken",
                    c.label,
                    f"{c.label}, published by {', '.join(c.merged.sources)}, does not work",
                    _why_broken(c),
                )
            )
        else:  # only maildiag's own database names it: the entry is what needs fixing
            out.append(entry_broken(c, report.provider_id or "?"))
    if report.mx_kind != "nxdomain":  # a missing domain is reported once, as dns.nxdomain
        if not incoming and _all_tested(checked, ("imap", "pop3")):
            out.append(
                finding(
                    "discovery.no_secure_incoming",
                    None,
                    f"no working IMAP or POP3 server with TLS for {report.domain}",
                    _tried(checked, ("imap", "pop3")),
                )
            )
        if not outgoing and _all_tested(checked, ("smtp",)):
            out.append(
                finding(
                    "discovery.no_secure_outgoing",
                    None,
                    f"no working submission server (465/587) for {report.domain}",
                    _tried(checked, ("smtp",)),
                )
            )
    return out


def skipped_finding(skipped: int, probed: int) -> Finding:
    """The check probed `probed` servers and left `skipped` out (MAX_SERVERS_PER_CHECK)."""
    return finding(
        "discovery.too_many_servers",
        None,
        f"the sources name {probed + skipped} servers in all; only {probed} were tried",
        f"{skipped} server(s) not tried",
    )


def probe_findings(checked: list[Checked], chosen: list[Setting]) -> list[Finding]:
    """What the probes found on published settings and on the ones recommended."""
    keys = {(s.protocol, s.host, s.port) for s in chosen}
    out: list[Finding] = []
    for c in checked:
        if c.result is None or not (c.merged.published or c.merged.candidate.key in keys):
            continue
        if not c.usable and c.merged.published:
            continue  # already reported as discovery.published_broken
        for f in c.result.findings:
            out.append(
                dataclasses.replace(
                    f, service=c.label, message=f.message.replace(c.result.spec.label, c.label)
                )
            )
    return out


def suspect_finding(report: DiscoveryReport) -> Finding:
    return finding(
        "dns.resolver_suspect",
        None,
        f"your DNS server says {report.domain} does not exist, but it is a well-known mail "
        f"provider ({report.provider_name}): the resolver is wrong, not the domain",
        report.mx_error or "NXDOMAIN",
    )


def entry_broken(c: Checked, provider_id: str) -> Finding:
    return finding(
        "providers.entry_broken",
        c.label,
        f"{c.label}, from maildiag's provider entry {quoted(provider_id)}, does not work",
        _why_broken(c),
        fix=f"The provider entry {quoted(provider_id)} is out of date: whoever maintains it "
        f"(maildiag's providers/{provider_id}.toml, or your own copy in --providers-dir / "
        "MAILDIAG_PROVIDERS_DIR) should correct the server against the provider's own "
        "documentation (`maildiag docs providers`); until then, use the settings that work.",
    )


def _disagreements(report: DiscoveryReport) -> list[Finding]:
    by_protocol: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for source in report.sources:
        if source.source in PUBLISHED and source.status == "found":
            for c in source.candidates:
                if c.protocol == "smtp" and c.port == 25:
                    continue
                by_protocol[c.protocol][source.source].add((c.host, c.port))
    out = []
    for protocol, sources in by_protocol.items():
        names = sorted(sources)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                if not sources[first] & sources[second]:
                    evidence = "; ".join(
                        f"{n}: " + ", ".join(f"{h}:{p}" for h, p in sorted(sources[n]))
                        for n in (first, second)
                    )
                    out.append(
                        finding(
                            "discovery.sources_disagree",
                            protocol,
                            f"{first} and {second} name different {protocol.upper()} servers",
                            evidence,
                        )
                    )
    return out


def _definitely_broken(c: Checked) -> bool:
    """A host whose DNS could not be asked is unknown, not broken; one not probed too."""
    if c.result is None:
        return False
    return c.dns_definite or c.result.reachability is not Reachability.DNS_FAILURE


def _why_broken(c: Checked) -> str:
    r = c.result
    if r.reachability is not Reachability.CONNECTED:
        attempts = "; ".join(f"{a.address}: {a.error or a.outcome.value}" for a in r.attempts)
        return f"{r.reachability.value}" + (f" ({attempts})" if attempts else "")
    codes = [f.code for f in r.findings if f.severity is Severity.ERROR]
    return ", ".join(codes) or "not usable"


def _all_tested(checked: list[Checked], protocols: tuple[str, ...]) -> bool:
    """Only claim there is no way when every candidate could really be tried."""
    return all(
        c.dns_definite and c.result is not None
        for c in checked
        if c.merged.candidate.protocol in protocols
    )


def _tried(checked: list[Checked], protocols: tuple[str, ...]) -> str:
    tried = [c.label for c in checked if c.merged.candidate.protocol in protocols]
    return "tried: " + (", ".join(tried[:12]) or "nothing (no candidate found)")
