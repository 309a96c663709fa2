"""The `maildiag` command: parse, call the core, render. Nothing more.

Commands import their machinery only when they run, so `maildiag --help` does not
pay for cryptography or dnspython.
"""

import copy
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from diag import __version__

EXIT_UNKNOWN = 3  # monitoring-plugin "UNKNOWN": bad input, nothing could be checked

app = typer.Typer(
    name="maildiag",
    help="Diagnose mail servers (POP3, IMAP, SMTP, TLS) and mail-client settings.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's Markdown renderer costs ~110 ms a start
)

TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", help="Seconds allowed for each step (connect, greeting, command, handshake)."
    ),
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        help="Extra trusted CA certificates (PEM), e.g. a "
        "private CA; intermediates in it are used to spot missing ones.",
    ),
]
NameserverOpt = Annotated[
    str | None, typer.Option("--nameserver", help="DNS server to use, IP[:PORT] or [IPv6]:PORT.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON (see `maildiag docs json`).")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"maildiag {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Exit codes: 0 all good, 1 warnings, 2 errors, 3 could not check."""


@app.command(short_help="Probe a host's POP3, IMAP and SMTP services.")
def probe(
    host: Annotated[
        str,
        typer.Argument(help="Mail server host name or IP address; HOST:PORT or [IPv6]:PORT too."),
    ],
    port: Annotated[
        list[int] | None, typer.Option("--port", "-p", help="Only this port (repeatable).")
    ] = None,
    protocol: Annotated[
        list[str] | None,
        typer.Option("--protocol", "-P", help="Only imap, pop3 or smtp (repeatable)."),
    ] = None,
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    implicit_tls: Annotated[
        bool, typer.Option("--tls", help="Probe the named ports with implicit TLS.")
    ] = False,
    starttls: Annotated[
        bool, typer.Option("--starttls", help="Probe the named ports with STARTTLS.")
    ] = False,
    scan: Annotated[
        bool,
        typer.Option(
            "--scan/--no-scan",
            "--legacy-tls/--no-legacy-tls",
            help="Raw-handshake scan (SSLv3..TLS 1.3, weak ciphers) and STARTTLS injection test.",
        ),
    ] = True,
    json: JsonOpt = False,
) -> None:
    """Probe POP3 (110, 995), IMAP (143, 993) and SMTP (25, 465, 587) on HOST, at once."""
    from diag.commands.probe import run

    code = run(
        host,
        ports=port or [],
        protocols=protocol or [],
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        scan=scan,
        as_json=json,
        implicit_tls=implicit_tls,
        starttls=starttls,
    )
    raise typer.Exit(code)


providers_app = typer.Typer(
    help="The provider database: settings of the mail providers people use.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(providers_app, name="providers", short_help="The offline provider database.")

ProvidersDirOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--providers-dir",
        help="A folder of extra or overriding entries (*.toml); "
        "repeatable. Also: MAILDIAG_PROVIDERS_DIR.",
    ),
]


LangOpt = Annotated[str | None, typer.Option("--lang", help="en or fr (default: from the locale).")]


@providers_app.command("list")
def providers_list(providers_dir: ProvidersDirOpt = None, json: JsonOpt = False) -> None:
    """List the providers in the database."""
    from diag.commands.providers import list_command

    raise typer.Exit(list_command(providers_dir or [], json))


@providers_app.command("show")
def providers_show(
    provider_id: Annotated[str, typer.Argument(metavar="ID", help="Provider id, e.g. gmail.")],
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Show one provider's settings, where they come from, and what other sources say."""
    from diag.commands.providers import show_command

    raise typer.Exit(show_command(provider_id, providers_dir or [], json, lang))


@providers_app.command("export")
def providers_export(
    provider_id: Annotated[str, typer.Argument(metavar="ID")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
    providers_dir: ProvidersDirOpt = None,
) -> None:
    """Write one provider as Thunderbird autoconfig XML (config-v1.1.xml)."""
    from diag.commands.providers import export_command

    raise typer.Exit(export_command(provider_id, providers_dir or [], output))


@providers_app.command("import")
def providers_import(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="DIR_OR_FILE", help="Autoconfig XML file(s), e.g. an ISPDB checkout."
        ),
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Folder for the new entries (default: $XDG_CONFIG_HOME/maildiag/providers, "
            "which maildiag always reads); - prints them.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite entries already in the folder.")
    ] = False,
) -> None:
    """Turn Thunderbird autoconfig files into provider entries."""
    from diag.commands.providers import import_command

    raise typer.Exit(import_command(source, to, force))


@providers_app.command("verify")
def providers_verify(
    provider_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID...]", help="Entries to verify.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Verify every entry.")] = False,
    layer: Annotated[
        str | None,
        typer.Option("--layer", help="With --all: only user, curated, ispdb or deltachat."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Connections at once, in all (1-64).")
    ] = 8,
    per_provider: Annotated[
        int, typer.Option("--per-provider", help="Connections at once to one provider (1-8).")
    ] = 2,
    timeout: TimeoutOpt = 10.0,
    nameserver: NameserverOpt = None,
    ca_file: CaFileOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Probe the entries' servers and report stale data (needs the network).

    Reports a host that does not resolve, a port that does not answer, the wrong
    security, a certificate that does not name the host. Exit codes: 0 all as described,
    1 some not, 3 bad input.
    """
    from diag.commands.options import check_timeout
    from diag.commands.providers import verify_command

    raise typer.Exit(
        verify_command(
            provider_ids or [],
            providers_dir or [],
            every=every,
            layer=layer,
            concurrency=concurrency,
            per_provider=per_provider,
            timeout=check_timeout(timeout),
            nameserver=nameserver,
            ca_file=ca_file,
            as_json=json,
        )
    )


@app.command(short_help="Client settings for an address, from the database.")
def lookup(
    address: Annotated[str, typer.Argument(metavar="ADDRESS_OR_DOMAIN")],
    no_mx: Annotated[
        bool, typer.Option("--no-mx", help="Do not look up MX records (no network).")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", hidden=True, help="Old name of --no-mx.")
    ] = False,
    nameserver: NameserverOpt = None,
    timeout: TimeoutOpt = 5.0,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """What to type into a mail client for ADDRESS (by domain, else by MX records).

    Exit codes: 0 found, 1 not in the database, 2 the domain does not exist,
    3 bad input or DNS unreachable.
    """
    if offline:
        print("maildiag: note: `lookup --offline` is now `--no-mx`", file=sys.stderr)
    from diag.commands.options import check_timeout
    from diag.commands.providers import lookup_command

    raise typer.Exit(
        lookup_command(
            address,
            providers_dir or [],
            no_mx=no_mx or offline,
            nameserver=nameserver,
            timeout=check_timeout(timeout),
            as_json=json,
            lang=lang,
        )
    )


@app.command("recommend", short_help="POP3 or IMAP? Advice from a few questions.")
def recommend_command(
    devices: Annotated[
        int | None,
        typer.Option(
            "--devices", help="Devices that read the mailbox (computers, phones, webmail)."
        ),
    ] = None,
    mobile: Annotated[
        bool | None,
        typer.Option("--mobile/--desk", help="Often away from the usual desk, or always at it."),
    ] = None,
    offline: Annotated[
        bool | None,
        typer.Option("--offline/--online", help="Needs mail without a connection, or not."),
    ] = None,
    quota_mb: Annotated[
        int | None, typer.Option("--quota-mb", help="Server space in MB (0: unknown or unlimited).")
    ] = None,
    backups: Annotated[
        str | None, typer.Option("--backups", help="Who keeps backups: self or provider.")
    ] = None,
    shared: Annotated[
        bool | None,
        typer.Option(
            "--shared/--personal", help="Several people share the mailbox, or one person."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="The mailbox's address: the provider's rules are used."),
    ] = None,
    lang: LangOpt = None,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--interactive/--no-interactive",
            help="Ask the unanswered questions (default: only on a terminal).",
        ),
    ] = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """POP3 or IMAP? A recommendation from a few questions, with its reasons."""
    from diag.advice.model import Answers
    from diag.commands.advice import run_recommend

    answers = Answers(
        devices, mobile, offline, quota_mb, backups.lower() if backups else None, shared
    )
    raise typer.Exit(
        run_recommend(
            answers,
            address=address,
            lang=lang,
            interactive=interactive,
            as_json=json,
            providers_dirs=providers_dir or [],
        )
    )


@app.command("compare", short_help="POP3 and IMAP side by side.")
def compare_command(lang: LangOpt = None, json: JsonOpt = False) -> None:
    """POP3 and IMAP side by side."""
    from diag.commands.advice import run_compare

    raise typer.Exit(run_compare(lang, json))


IspdbOpt = Annotated[
    str | None,
    typer.Option("--ispdb-url", help="An ISPDB-compatible server to ask as well (off when unset)."),
]
ExportOpt = Annotated[
    str | None,
    typer.Option(
        "--export",
        help="Write the settings as thunderbird, autodiscover, "
        "mobileconfig or json instead of the report.",
    ),
]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Export to this file.")]
GuessOpt = Annotated[
    bool,
    typer.Option(
        "--guess/--no-guess",
        help="Guess usual host names when nothing is published for a protocol.",
    ),
]


@app.command(short_help="Find published and guessable mail settings.")
def discover(
    address: Annotated[str, typer.Argument(metavar="ADDRESS_OR_DOMAIN")],
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    ispdb_url: IspdbOpt = None,
    guess: GuessOpt = True,
    export: ExportOpt = None,
    output: OutputOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Find every published or guessable mail setting (no server is probed)."""
    from diag.commands.check import options, run_discover

    opts = options(
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        ispdb_url=ispdb_url,
        providers_dirs=providers_dir or [],
        guess=guess,
    )
    raise typer.Exit(run_discover(address, opts, as_json=json, export=export, output=output))


@app.command(short_help="Discover, test and judge a domain's mail settings.")
def check(
    address: Annotated[str, typer.Argument(metavar="ADDRESS_OR_DOMAIN")],
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    ispdb_url: IspdbOpt = None,
    guess: GuessOpt = True,
    legacy_tls: Annotated[
        bool,
        typer.Option(
            "--legacy-tls/--no-legacy-tls",
            help="Also test TLS 1.0/1.1 on every server (more connections).",
        ),
    ] = False,
    export: ExportOpt = None,
    output: OutputOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Discover, test every setting against the real servers, and give the verdict.

    Exit codes: 0 all good, 1 warnings, 2 errors, 3 could not check.
    """
    from diag.commands.check import options, run_check

    opts = options(
        timeout=timeout,
        ca_file=ca_file,
        nameserver=nameserver,
        ispdb_url=ispdb_url,
        providers_dirs=providers_dir or [],
        guess=guess,
    )
    raise typer.Exit(
        run_check(
            address,
            opts,
            legacy_tls=legacy_tls,
            as_json=json,
            export=export,
            output=output,
            lang=lang,
        )
    )


def _server_opt(protocol: str) -> Any:
    return typer.Option(
        f"--{protocol}",
        metavar="HOST[:PORT]",
        help=f"Use this {protocol.upper()} server (only the servers named are tested).",
    )


ImapOpt = Annotated[str | None, _server_opt("imap")]
Pop3Opt = Annotated[str | None, _server_opt("pop3")]
SmtpOpt = Annotated[str | None, _server_opt("smtp")]
TlsOpt = Annotated[
    bool, typer.Option("--tls", help="The named servers use implicit TLS (993, 995, 465).")
]
StartTlsOpt = Annotated[
    bool, typer.Option("--starttls", help="The named servers use STARTTLS (143, 110, 587).")
]
UsernameOpt = Annotated[
    str | None, typer.Option("--username", help="Log in as this (default: from the settings).")
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option("--password-file", help="Read the password from the first line of this file."),
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]
OAuthOpt = Annotated[
    str | None,
    typer.Option(
        "--oauth-token-env",
        metavar="VAR",
        help="Log in with XOAUTH2/OAUTHBEARER using the bearer token in this variable.",
    ),
]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure", help="Send the password even if the certificate does not verify (warned)."
    ),
]


@app.command(short_help="Log in to the account's IMAP, POP3 and SMTP servers.")
def login(
    address: Annotated[str, typer.Argument(metavar="ADDRESS")],
    imap: ImapOpt = None,
    pop3: Pop3Opt = None,
    smtp: SmtpOpt = None,
    tls: TlsOpt = False,
    starttls: StartTlsOpt = False,
    username: UsernameOpt = None,
    password_file: PasswordFileOpt = None,
    password_stdin: PasswordStdinOpt = False,
    oauth_token_env: OAuthOpt = None,
    insecure: InsecureOpt = False,
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Log in to ADDRESS's servers and say why a login is refused.

    The password comes from a prompt, MAILDIAG_PASSWORD, --password-file or
    --password-stdin; it is sent only over TLS with a certificate valid for the host.
    Exit codes: 0 all good, 1 warnings, 2 errors, 3 could not check.
    """
    from diag.commands.account import Common, SecretChoice, ServerChoice, run_login

    raise typer.Exit(
        run_login(
            address,
            ServerChoice(imap, pop3, smtp, tls, starttls),
            SecretChoice(password_file, password_stdin, oauth_token_env),
            Common(
                timeout, ca_file, nameserver, insecure, username, tuple(providers_dir or []), json
            ),
        )
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
        int, typer.Option("--chunk-size", help="--dask: targets per task.")
    ] = 100,
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
        )
    )


@app.command(short_help="Send a test message and watch it arrive.")
def roundtrip(
    address: Annotated[str, typer.Argument(metavar="ADDRESS")],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Send to this address of yours (it must deliver to ADDRESS)."),
    ] = None,
    sender: Annotated[
        str | None, typer.Option("--from", help="Sender address (default: ADDRESS).")
    ] = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the message.")] = 120.0,
    via: Annotated[
        str | None, typer.Option("--via", help="Watch with imap or pop3 (default: imap).")
    ] = None,
    imap: ImapOpt = None,
    pop3: Pop3Opt = None,
    smtp: SmtpOpt = None,
    tls: TlsOpt = False,
    starttls: StartTlsOpt = False,
    username: UsernameOpt = None,
    password_file: PasswordFileOpt = None,
    password_stdin: PasswordStdinOpt = False,
    oauth_token_env: OAuthOpt = None,
    insecure: InsecureOpt = False,
    timeout: TimeoutOpt = 10.0,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    providers_dir: ProvidersDirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Send one test message through submission, watch it arrive, then delete it.

    Exit codes: 0 arrived in INBOX, 1 warnings (e.g. Junk), 2 errors, 3 could not check.
    """
    from diag.commands.account import Common, SecretChoice, ServerChoice, run_roundtrip

    raise typer.Exit(
        run_roundtrip(
            address,
            ServerChoice(imap, pop3, smtp, tls, starttls),
            SecretChoice(password_file, password_stdin, oauth_token_env),
            Common(
                timeout, ca_file, nameserver, insecure, username, tuple(providers_dir or []), json
            ),
            to=to,
            sender=sender,
            wait=wait,
            via=via.lower() if via else None,
        )
    )


@app.command("docs", short_help="Read the documentation (JSON contract, finding codes...).")
def docs_command(
    topic: Annotated[
        str | None,
        typer.Argument(metavar="[NAME]", help="json, findings, check, providers or advice."),
    ] = None,
    path: Annotated[bool, typer.Option("--path", help="Print the file's path only.")] = False,
) -> None:
    """The documentation installed with maildiag: list it, print one page, or its path."""
    from diag.commands.docs import run_docs

    raise typer.Exit(run_docs(topic, path))


def main(argv: list[str] | None = None) -> int:
    """Entry point: every failure becomes a one-line message and an exit code.

    A closed stdout pipe never changes the exit code; with --json, a failure is also a
    JSON error object on stdout (docs/json.md).
    """
    from diag.render.streams import guard_stdout

    args = list(sys.argv[1:] if argv is None else argv)
    options = args[: args.index("--")] if "--" in args else args
    restore = guard_stdout()
    try:
        return _run(args, as_json="--json" in options)
    finally:
        sys.stdout.flush()
        restore()


def _run(args: list[str], *, as_json: bool) -> int:
    from diag.errors import BadInput

    try:
        result = _narrowed(args)(args=args, standalone_mode=False, prog_name="maildiag")
    except BadInput as exc:
        return _fail(str(exc), as_json)
    except typer.Exit as exc:
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("maildiag: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file the user named: missing folder, no permission, ...
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", as_json)
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `maildiag`, `maildiag providers`
            print(exc.format_message())  # type: ignore[attr-defined]
            return 0
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            if as_json:
                _json_error(exc.format_message(), EXIT_UNKNOWN)  # type: ignore[attr-defined]
            return EXIT_UNKNOWN
        if os.environ.get("MAILDIAG_DEBUG"):
            raise
        return _fail(
            f"internal error: {type(exc).__name__}: {exc} (set MAILDIAG_DEBUG=1 for details)",
            as_json,
            prefix="maildiag: ",
        )
    return result if isinstance(result, int) else 0


def _narrowed(args: list[str]) -> typer.Typer:
    """The app with only the command that runs: typer builds the options of every command
    it holds before parsing, a third of `maildiag probe`'s start-up otherwise."""
    name = next((a for a in args if not a.startswith("-")), None)
    if name is None:
        return app
    narrow = copy.copy(app)
    for info in app.registered_commands:
        callback_name = info.callback.__name__ if info.callback else ""
        if (info.name or callback_name.replace("_", "-")) == name:
            narrow.registered_commands, narrow.registered_groups = [info], []
            return narrow
    for group in app.registered_groups:
        if group.name == name:
            narrow.registered_commands, narrow.registered_groups = [], [group]
            return narrow
    return app  # an unknown name: the whole app says so, with its list of commands


def _fail(message: str, as_json: bool, prefix: str = "maildiag: error: ") -> int:
    """The human line on stderr (escaped: messages quote files and servers), and with
    --json the same message as a JSON error object on stdout."""
    from diag.render.safe import clean

    print(prefix + clean(message), file=sys.stderr)
    if as_json:
        _json_error(message, EXIT_UNKNOWN)
    return EXIT_UNKNOWN


def _json_error(message: str, code: int) -> None:
    from diag.render.jsonout import dumps, error_data

    print(dumps(error_data(message, code)))


def _is_usage_error(exc: Exception) -> bool:
    """Typer's parser errors (click's, vendored or not) carry `show` and `exit_code`."""
    return callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code")
