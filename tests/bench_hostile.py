"""Connection counts and wall time of the amplification and drip-feed scenarios.

    unshare --net sh -c 'ip link set lo up && python tests/bench_hostile.py'

Runs the hostile world (tests/hostile/world.py) on 127.0.3.0/24 in this process and
prints, per scenario, the connections the scripted servers saw (total, most at once, at
the scenario's target address), the DNS questions asked and the wall time. By hand, not
in CI; it needs root for ports 53, 80 and 443 (a private network namespace gives that).
To measure another version of the tool, put its `diag` first on PYTHONPATH. The servers
share this process with the tool, so under hundreds of DNS questions they answer slowly:
compare counts between versions, not with a real network.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # PYTHONPATH's diag comes first

from diag.discovery.discover import DiscoveryOptions
from diag.net.dns import Nameserver
from diag.probe import ProbeOptions
from tests.hostile import Hostile
from tests.hostile.world import AC300, BASE, CAP7, NS, ONE40, SRV300, build


def main() -> None:
    from diag.check.run import check
    from diag.discovery.discover import discover
    from diag.probe import probe_host

    h = Hostile(Path(tempfile.mkdtemp(prefix="bench-hostile-")))
    build(h)

    def opts(timeout: float) -> DiscoveryOptions:
        return DiscoveryOptions(
            timeout=timeout, ca_file=h.ca_file, nameserver=Nameserver(*NS), guess=False
        )

    def probe_opts(timeout: float, **kw) -> ProbeOptions:
        return ProbeOptions(timeout=timeout, nameserver=Nameserver(*NS), ca_file=h.ca_file, **kw)

    scenarios = [
        ("check srv300 (300 SRV records)", SRV300, lambda: check(f"x@srv300.{BASE}", opts(2))),
        ("check ac300 (autoconfig, 300 servers)", AC300, lambda: check(f"x@ac300.{BASE}", opts(2))),
        ("check one40 (40 servers, one host)", ONE40, lambda: check(f"x@one40.{BASE}", opts(2))),
        (
            "probe cap7 (7 ports, TLS checks)",
            CAP7,
            lambda: probe_host(f"cap7.{BASE}", probe_opts(3)),
        ),
        (
            "probe many30 -p 993 --timeout 1 (30 dropped A)",
            None,
            lambda: probe_host(f"many30.{BASE}", probe_opts(1, ports=(993,), legacy_tls=False)),
        ),
        (
            "discover drip --timeout 1 (header every 0.8 s)",
            None,
            lambda: discover(f"x@drip.{BASE}", opts(1)),
        ),
    ]
    print(f"{'scenario':50} {'total':>6} {'peak':>5} {'DNS q':>6} {'seconds':>8}  outcome")
    try:
        for label, address, run in scenarios:
            h.stats.reset()
            h.zone.queries.clear()
            start = time.monotonic()
            try:
                asyncio.run(asyncio.wait_for(run(), 120))
                outcome = "ok"
            except Exception as exc:  # the old code crashes on some of these: report it
                outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
            elapsed = time.monotonic() - start
            total = h.stats.total[address] if address else "-"
            peak = h.stats.peak[address] if address else "-"
            queries = sum(h.zone.queries.values())
            print(f"{label:50} {total:>6} {peak:>5} {queries:>6} {elapsed:8.2f}  {outcome}")
    finally:
        h.stop()


if __name__ == "__main__":
    main()
