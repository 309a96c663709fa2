"""`maildiag probe`: validate input, run the probe, render it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from diag.commands.options import check_timeout, reject_address
from diag.net.dns import Nameserver
from diag.net.names import validate_target
from diag.probe import ProbeOptions, probe_host


def run(
    host: str,
    *,
    ports: list[int],
    protocols: list[str],
    timeout: float,
    ca_file: Path | None,
    nameserver: str | None,
    scan: bool,
    as_json: bool,
    implicit_tls: bool = False,
    starttls: bool = False,
) -> int:
    from diag.errors import BadInput
    from diag.model import Security
    from diag.net.target import split_host_port

    if implicit_tls and starttls:
        raise BadInput("choose one of --tls and --starttls")
    security = Security.TLS if implicit_tls else Security.STARTTLS if starttls else None
    reject_address(host)
    host, port = split_host_port(host)
    if port is not None:
        ports = [*ports, port]
    options = ProbeOptions(
        timeout=check_timeout(timeout),
        ca_file=ca_file,
        nameserver=Nameserver.parse(nameserver) if nameserver else None,
        ports=tuple(ports),
        protocols=tuple(p.lower() for p in protocols),
        scan=scan,
        security=security,
    )
    target = validate_target(host)
    from diag.render.status import live_status, wanted

    with live_status(wanted(as_json)) as progress:
        report = asyncio.run(probe_host(target, options, progress))
    if as_json:
        from diag.render.jsonout import dumps, probe_data

        sys.stdout.write(dumps(probe_data(report)) + "\n")
    else:
        from diag.render.console import make_console
        from diag.render.terminal import render_probe

        render_probe(report, make_console())
    return report.exit_code
