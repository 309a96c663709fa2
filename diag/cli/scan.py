"""`maildiag scan`: many domains, politely."""

from pathlib import Path
from typing import Annotated

import typer

from diag.cli.base import (
    CaFileOpt,
    GuessOpt,
    IspdbOpt,
    NameserverOpt,
    ProvidersDirOpt,
    TimeoutOpt,
    app,
)


@app.command(short_help="Check or probe many domains: JSON Lines out.")
def scan(
    source: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="One target per line; - reads stdin.")
    ] = "-",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the JSON Lines here (default: stdout)."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Skip the targets already in --output and append."),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="K/N", help="Only the targets of shard K (0..N-1)."),
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option("--summary", help="Write the summary here as JSON (default: stderr)."),
    ] = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Targets are hosts (HOST[:PORT]): run the probe.")
    ] = False,
    port: Annotated[
        list[int] | None, typer.Option("--port", "-p", help="--probe: only this port.")
    ] = None,
    protocol: Annotated[
        list[str] | None, typer.Option("--protocol", "-P", help="--probe: only this protocol.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Targets in flight at once.")
    ] = 64,
    connections: Annotated[
        int, typer.Option("--connections", help="Open connections at once, in all.")
    ] = 256,
    per_host: Annotated[
        int, typer.Option("--per-host", help="Open connections to one IP address at once.")
    ] = 2,
    busy_retries: Annotated[
        int, typer.Option("--busy-retries", help="Retries of a server that says it is busy.")
    ] = 3,
    busy_delay: Annotated[
        float, typer.Option("--busy-delay", help="Seconds before the first retry (doubled).")
    ] = 2.0,
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    ispdb_url: IspdbOpt = None,
    guess: GuessOpt = True,
    legacy_tls: Annotated[
        bool | None,
        typer.Option(
            "--legacy-tls/--no-legacy-tls",
            help="Test TLS 1.0/1.1 (default: as check, off; as probe, on).",
        ),
    ] = None,
    providers_dir: ProvidersDirOpt = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask", metavar="ADDRESS", help="Run on a Dask cluster, e.g. tcp://host:8786."
        ),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size", metavar="N", help="--dask: targets per task (default: 8 x concurrency)."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", metavar="N", help="Processes on this machine (default: one per core)."
        ),
    ] = None,
) -> None:
    """Check (or with --probe, probe) every target in FILE, many at once, politely.

    One JSON object per target on stdout or --output (docs/json.md, maildiag.scan/1),
    a summary on stderr at the end. Exit codes: 0 scan complete, 3 could not run.
    """
    from diag.commands.scan import run_scan, scan_options

    opts = scan_options(
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        ispdb_url=ispdb_url,
        providers_dirs=providers_dir or [],
        guess=guess,
        probe=probe,
        ports=port or [],
        protocols=protocol or [],
        legacy_tls=legacy_tls,
        concurrency=concurrency,
        connections=connections,
        per_host=per_host,
        busy_retries=busy_retries,
        busy_delay=busy_delay,
    )
    raise typer.Exit(
        run_scan(
            source,
            opts,
            output=output,
            resume=resume,
            shard=shard,
            summary_file=summary,
            dask=dask,
            chunk_size=chunk_size,
            workers=workers,
        )
    )
