"""Compare two entries that claim the same domain: does the other layer confirm this
entry's servers, or contradict them? Plain data, shown by `providers show`."""

from __future__ import annotations

from dataclasses import dataclass, field

from diag.providers.schema import Provider, Server


@dataclass(frozen=True)
class Comparison:
    other: Provider
    shared_domains: tuple[str, ...]
    result: str  # confirms, partial, contradicts
    differences: tuple[str, ...] = field(default_factory=tuple)


def _key(server: Server) -> tuple[str, str, int, str]:
    return (server.protocol, server.host, server.port, server.socket)


def _show(server: Server) -> str:
    return f"{server.protocol} {server.host}:{server.port} {server.socket}"


def compare(entry: Provider, other: Provider) -> Comparison:
    """`confirms`: every server the other lists is here, same username form.
    `contradicts`: for some protocol both list, they share no host.
    `partial`: anything in between (a port, security or username form differs, or the
    other lists a server this entry lacks)."""
    ours = {_key(s): s for s in (*entry.incoming, *entry.outgoing)}
    theirs = {_key(s): s for s in (*other.incoming, *other.outgoing)}
    differences = []
    for key, server in theirs.items():
        if key not in ours:
            differences.append(f"{other.layer or 'other'} has {_show(server)}, not here")
        elif ours[key].username != server.username and "login" not in (
            ours[key].username,
            server.username,
        ):
            differences.append(
                f"{_show(server)}: username {server.username} there, {ours[key].username} here"
            )
    contradicts = False
    for protocol in {k[0] for k in theirs} & {k[0] for k in ours}:
        hosts_here = {k[1] for k in ours if k[0] == protocol}
        hosts_there = {k[1] for k in theirs if k[0] == protocol}
        if not hosts_here & hosts_there:
            contradicts = True
    shared = tuple(sorted(set(entry.domains) & set(other.domains)))
    result = "partial" if differences else "confirms"
    if differences and contradicts:
        result = "contradicts"
    return Comparison(other, shared, result, tuple(differences))
