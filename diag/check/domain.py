"""The domain side a helpdesk also looks at: MX hosts resolve, SPF and DMARC parse."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from diag.net.dns import LookupFailed, MxResult, Resolver, query, resolve_addresses
from diag.quoting import quoted

SPF_TERM = re.compile(
    r"^[+\-~?]?(all|include:\S+|a(:\S+)?(/\d+)?|mx(:\S+)?(/\d+)?|ptr(:\S+)?|"
    r"ip4:[0-9.]+(/\d+)?|ip6:[0-9a-fA-F:.]+(/\d+)?|exists:\S+)$",
    re.IGNORECASE,
)
SPF_MODIFIER = re.compile(r"^(redirect|exp)=\S+$|^[a-z][a-z0-9_.\-]*=\S*$", re.IGNORECASE)
DMARC_POLICIES = ("none", "quarantine", "reject")


@dataclass
class PolicyRecord:
    name: str  # the DNS name asked
    records: list[str] = field(default_factory=list)  # the raw TXT records that matched
    error: str | None = None  # why it does not parse
    lookup_error: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.records)


@dataclass
class DomainChecks:
    mx: MxResult
    has_address: bool  # the domain itself has A/AAAA (implicit MX, RFC 5321 5.1)
    unresolvable_mx: list[str]
    spf: PolicyRecord
    dmarc: PolicyRecord
    unusable_mx: list[str] = field(default_factory=list)  # not a host name at all


async def check_domain(resolver: Resolver, domain: str, mx: MxResult) -> DomainChecks:
    hosts = mx.hosts
    answers = await asyncio.gather(
        resolve_addresses(resolver, domain),
        *(resolve_addresses(resolver, h) for h in hosts),
        _txt(resolver, domain, "v=spf1"),
        _txt(resolver, f"_dmarc.{domain}", "v=DMARC1"),
    )
    own, mx_answers, spf, dmarc = answers[0], answers[1:-2], answers[-2], answers[-1]
    unresolvable = [
        h
        for h, a in zip(hosts, mx_answers, strict=True)
        if a.answered and not a.addresses and a.error_kind != "bad_name"
    ]
    unusable = [h for h, a in zip(hosts, mx_answers, strict=True) if a.error_kind == "bad_name"]
    spf.error = _spf_error(spf.records) if spf.records else None
    dmarc.error = _dmarc_error(dmarc.records) if dmarc.records else None
    return DomainChecks(mx, bool(own.addresses), unresolvable, spf, dmarc, unusable)


async def _txt(resolver: Resolver, name: str, prefix: str) -> PolicyRecord:
    record = PolicyRecord(name)
    try:
        answers = await query(resolver, name, "TXT")
    except LookupFailed as exc:
        if exc.kind != "nxdomain":
            record.lookup_error = str(exc)
        return record
    for answer in answers:
        text = b"".join(answer.strings).decode("utf-8", errors="replace")
        if text.lower().startswith(prefix.lower()) and (
            len(text) == len(prefix) or text[len(prefix)] in " ;"
        ):
            record.records.append(text)
    return record


def _spf_error(records: list[str]) -> str | None:
    """RFC 7208: exactly one record; every term a known mechanism or a modifier."""
    if len(records) > 1:
        return f"{len(records)} SPF records: receivers treat that as an error (RFC 7208 4.5)"
    terms = records[0].split()[1:]
    for term in terms:
        if not (SPF_TERM.match(term) or SPF_MODIFIER.match(term)):
            return f"unknown SPF term {quoted(term)}"
    if sum(1 for t in terms if t.lower().startswith("redirect=")) > 1:
        return "more than one redirect= modifier"
    return None


def _dmarc_error(records: list[str]) -> str | None:
    """RFC 7489: one record, v=DMARC1 first, a p= policy of none, quarantine or reject."""
    if len(records) > 1:
        return f"{len(records)} DMARC records: receivers ignore them all (RFC 7489 6.6.3)"
    tags: dict[str, str] = {}
    for part in records[0].split(";"):
        name, sep, value = part.strip().partition("=")
        if part.strip() and not sep:
            return f"malformed tag {quoted(part.strip())}"
        if name:
            tags[name.strip().lower()] = value.strip()
    policy = tags.get("p")
    if policy is None:
        return "no p= policy tag"
    if policy.lower() not in DMARC_POLICIES:
        return f"unknown policy p={policy}"
    return None
