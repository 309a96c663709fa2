"""Name resolution through one dnspython resolver.

Every lookup maildiag makes goes through here, so `--nameserver` redirects all of
them (the test lab relies on it) and the operating system's resolver is never used.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

from diag.errors import BadInput
from diag.model import DnsResult
from diag.net.connection import is_ip_literal
from diag.net.names import normalize_published

Resolver = dns.asyncresolver.Resolver


@dataclass(frozen=True)
class Nameserver:
    address: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> Nameserver:
        """`IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address."""
        text = text.strip()
        address, port = text, 53
        if text.startswith("["):
            address, sep, rest = text[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                raise BadInput(f"invalid --nameserver {text!r}: expected [IPv6]:PORT")
            if rest:
                port = _port(rest[1:], text)
        elif text.count(":") == 1:
            address, _, port_text = text.partition(":")
            port = _port(port_text, text)
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise BadInput(f"invalid --nameserver {text!r}: not an IP address") from None
        return cls(address, port)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise BadInput(f"invalid port in --nameserver {whole!r}")
    return int(text)


def make_resolver(
    nameserver: Nameserver | None, timeout: float, cls: type[Resolver] = Resolver
) -> Resolver:
    """`cls` lets a caller bring a resolver subclass (the bulk scanner's caching one)."""
    if nameserver is None:
        try:
            resolver = cls()
        except dns.resolver.NoResolverConfiguration:
            resolver = cls(configure=False)
    else:
        resolver = cls(configure=False)
        resolver.nameservers = [nameserver.address]
        resolver.port = nameserver.port
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    return resolver


class LookupFailed(Exception):
    """DNS gave no usable answer; `kind` tells whether the answer is definite."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


async def query(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> list:
    """Records of one type; [] for a name that exists without them; LookupFailed otherwise.

    A resolver with its own `records(name, rdtype)` (the bulk scan's shared one, which
    keeps to its lifetime and speaks LookupFailed itself) answers directly.
    """
    if not resolver.nameservers:
        raise LookupFailed("no_resolver", "no DNS server configured (see --nameserver)")
    records = getattr(resolver, "records", None)
    if records is not None:
        return await records(name, rdtype)
    try:
        # dnspython sleeps its retry backoff before it notices the lifetime is over
        # (10 s became 11.6 s): the lifetime is enforced here as well.
        async with asyncio.timeout(resolver.lifetime):
            answer = await resolver.resolve(name, rdtype, search=False)
    except TimeoutError:
        raise LookupFailed("timeout", f"DNS lookup of {name} timed out") from None
    except dns.exception.DNSException as exc:
        failure = failed(name, exc)
        if failure is None:
            return []
        raise failure from None
    return list(answer)


def failed(name: str, exc: dns.exception.DNSException) -> LookupFailed | None:
    """dnspython's exception in our words; None for NoAnswer (the name, without records)."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return LookupFailed("nxdomain", f"{name} does not exist (NXDOMAIN)")
    if isinstance(exc, dns.resolver.NoAnswer):
        return None
    if isinstance(exc, dns.resolver.NoNameservers):
        return LookupFailed("servfail", f"no DNS server answered for {name}: {exc}")
    if isinstance(exc, dns.exception.Timeout):
        return LookupFailed("timeout", f"DNS lookup of {name} timed out")
    return LookupFailed("servfail", f"DNS lookup of {name} failed: {exc}")


async def resolve_addresses(resolver: dns.asyncresolver.Resolver, host: str) -> DnsResult:
    """A and AAAA at once; IPv6 first, as dual-stack clients prefer it (RFC 8305)."""
    if is_ip_literal(host):
        return DnsResult(host=host, addresses=[host], is_literal=True)
    try:
        name = normalize_published(host)  # names from DNS and files get here too
    except BadInput as exc:
        return DnsResult(host=host, addresses=[], error=str(exc), error_kind="bad_name")
    # Both at once; one task, not gather's two (a bulk scan asks this tens of times a domain).
    aaaa = asyncio.ensure_future(_outcome(query(resolver, name, "AAAA")))
    try:
        v4 = await _outcome(query(resolver, name, "A"))
        v6 = await aaaa
    finally:
        aaaa.cancel()  # done by now, unless this one was cancelled
    addresses: list[str] = []
    failures: list[LookupFailed] = []
    for result in (v6, v4):
        if isinstance(result, LookupFailed):
            failures.append(result)
        elif isinstance(result, BaseException):
            raise result
        else:
            addresses.extend(r.address for r in result)
    if addresses:
        return DnsResult(host=host, addresses=addresses)
    if failures:
        # NXDOMAIN is definite; a timeout on the other family makes the whole answer unsure.
        unsure = [f for f in failures if f.kind != "nxdomain"]
        worst = unsure[0] if unsure else failures[0]
        return DnsResult(host=host, addresses=[], error=str(worst), error_kind=worst.kind)
    return DnsResult(
        host=host, addresses=[], error=f"{name} has no A or AAAA record", error_kind="no_address"
    )


async def _outcome(lookup: Awaitable[list]) -> list | BaseException:
    """The lookup's records, or the exception it raised (as gather's return_exceptions)."""
    try:
        return await lookup
    except Exception as exc:
        return exc


@dataclass
class MxResult:
    hosts: list[str]  # best preference first
    error: str | None = None
    kind: str | None = None  # LookupFailed.kind
    null: bool = False  # RFC 7505 "." : the domain accepts no mail

    @property
    def answered(self) -> bool:
        return self.kind not in ("timeout", "servfail", "no_resolver")


async def mx_hosts(resolver: dns.asyncresolver.Resolver, domain: str) -> MxResult:
    try:
        records = await query(resolver, domain, "MX")
    except LookupFailed as exc:
        return MxResult([], str(exc), exc.kind)
    ordered = sorted(records, key=lambda r: r.preference)
    hosts = [str(r.exchange).rstrip(".").lower() for r in ordered]
    if hosts == [""]:
        return MxResult([], null=True)
    return MxResult([h for h in hosts if h])
