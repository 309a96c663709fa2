"""One module per discovery source; each returns SourceResult values and never raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from diag.discovery.model import Candidate
from diag.model import Security

if TYPE_CHECKING:
    from diag.net.dns import Resolver
    from diag.providers.schema import Provider

SOCKETS = {"ssl": Security.TLS, "starttls": Security.STARTTLS, "plain": Security.PLAIN}


@dataclass(frozen=True)
class Context:
    """What every source needs: the query, the resolver, the limits."""

    domain: str
    address: str | None
    resolver: Resolver
    timeout: float
    ca_file: Path | None = None
    ispdb_url: str | None = None


def candidates_from_provider(provider: Provider, domain: str) -> list[Candidate]:
    return [
        Candidate(s.protocol, s.host_for(domain), s.port, SOCKETS[s.socket], s.username, s.auth)
        for s in (*provider.incoming, *provider.outgoing)
    ]
