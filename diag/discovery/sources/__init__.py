"""One module per discovery source; each returns SourceResult values and never raises."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from diag.discovery.model import Candidate, SourceResult
from diag.errors import BadInput
from diag.model import Security
from diag.net.names import published_target
from diag.quoting import quoted

if TYPE_CHECKING:
    from diag.net.dns import Resolver
    from diag.net.http import Credentials
    from diag.providers.schema import Provider

MAX_SERVERS_PER_SOURCE = 10  # servers one source (a file, an SRV name) may have probed
SOCKETS = {"ssl": Security.TLS, "starttls": Security.STARTTLS, "plain": Security.PLAIN}


@dataclass(frozen=True)
class Context:
    """What every source needs: the query, the resolver, the limits."""

    domain: str
    address: str | None
    resolver: Resolver
    timeout: float
    ca_file: Path | None = None
    ispdb_url: str | None = None  # without credentials; they are in ispdb_credentials
    ispdb_credentials: Credentials | None = field(default=None, repr=False)


def candidates_from_provider(provider: Provider, domain: str) -> list[Candidate]:
    return [
        Candidate(s.protocol, s.host_for(domain), s.port, SOCKETS[s.socket], s.username, s.auth)
        for s in (*provider.incoming, *provider.outgoing)
    ]


def admit(result: SourceResult, found: list[Candidate]) -> SourceResult:
    """Put `found` on `result`: names checked by the loose rule for published names,
    ports in range, duplicates merged, at most MAX_SERVERS_PER_SOURCE kept.

    What cannot be used goes to `result.rejected` (a finding, later), what is over the
    cap is counted in `result.ignored`: a hostile file with 300 servers gets 10 probes.
    """
    kept: dict[tuple, Candidate] = {}
    for candidate in found:
        try:
            host = published_target(candidate.host)
        except BadInput as exc:
            result.rejected.append(f"{candidate.protocol} {quoted(candidate.host)}: {exc}")
            continue
        if not 0 < candidate.port < 65536:
            result.rejected.append(f"{candidate.protocol} {host}: port {candidate.port}")
            continue
        key = (candidate.protocol, host, candidate.port, candidate.security)
        if key in kept:
            continue
        if len(kept) >= MAX_SERVERS_PER_SOURCE:
            result.ignored += 1
            continue
        kept[key] = replace(candidate, host=host)
    result.candidates = list(kept.values())
    return result
