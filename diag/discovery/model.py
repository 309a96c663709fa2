"""Candidates and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from diag.model import Security

if TYPE_CHECKING:
    from diag.advice.model import Message
    from diag.net.dns import Nameserver
    from diag.net.http import Credentials

# Published sources, in the order a careful client trusts them; guesses come last.
SOURCE_ORDER = (
    "provider-db",
    "autoconfig",
    "autoconfig-wellknown",
    "autoconfig-http",
    "ispdb",
    "autodiscover",
    "srv",
    "guess",
)
PUBLISHED = frozenset(SOURCE_ORDER) - {"guess"}
# Published by (or for) the domain's owner: maildiag's own database is not among them.
OWNER_PUBLISHED = PUBLISHED - {"provider-db"}


@dataclass(frozen=True)
class DiscoveryOptions:
    timeout: float = 10.0
    ca_file: Path | None = None
    nameserver: Nameserver | None = None
    ispdb_url: str | None = None  # never with user:password@ (see ispdb_credentials)
    ispdb_credentials: Credentials | None = field(default=None, repr=False)
    providers_dirs: tuple[Path, ...] = field(default_factory=tuple)
    guess: bool = True


@dataclass(frozen=True)
class Candidate:
    protocol: str  # imap, pop3, smtp
    host: str
    port: int
    security: Security
    username: str | None = None  # "address", "localpart" or "login", when the source says
    auth: tuple[str, ...] = ()  # "password", "app-password", "oauth2", when the source says

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.protocol, self.host, self.port)


@dataclass
class SourceResult:
    source: str  # one of SOURCE_ORDER
    location: str  # the URL fetched or DNS name asked
    status: str  # "found", "not_found", "error", "skipped"
    detail: str = ""
    insecure: bool = False  # fetched over plain HTTP: could be forged
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # entries that cannot be used, and why
    ignored: int = 0  # usable servers left out over the per-source cap


@dataclass
class Merged:
    """One candidate and every source that named it."""

    candidate: Candidate
    sources: list[str]

    @property
    def published(self) -> bool:
        return any(s in PUBLISHED for s in self.sources)

    @property
    def owner_published(self) -> bool:
        """Named by the domain's own publications, not only by maildiag's database."""
        return any(s in OWNER_PUBLISHED for s in self.sources)


@dataclass
class DiscoveryReport:
    text: str
    domain: str
    address: str | None
    sources: list[SourceResult]
    mx_hosts: list[str]
    mx_error: str | None
    mx_kind: str | None  # the DNS failure kind, e.g. "nxdomain"; None when MX answered
    mx_null: bool  # RFC 7505 null MX
    provider_id: str | None
    provider_name: str | None
    provider_via: str | None
    dns_reachable: bool  # False: DNS did not answer, nothing live could be checked
    elapsed_ms: float = 0.0
    provider_layer: str | None = None  # user, curated, ispdb, deltachat
    provider_source: str | None = None  # the entry's file (upstream file for public layers)
    provider_requirements: list[Message] = field(default_factory=list)  # catalogue keys

    def merged(self) -> list[Merged]:
        by_key: dict[tuple, Merged] = {}
        for result in sorted(self.sources, key=lambda r: SOURCE_ORDER.index(r.source)):
            for candidate in result.candidates:
                entry = by_key.get(candidate.key)
                if entry is None:
                    by_key[candidate.key] = Merged(candidate, [result.source])
                elif result.source not in entry.sources:
                    entry.sources.append(result.source)
        return list(by_key.values())
