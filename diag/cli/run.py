"""The entry point: pick the command, run it, turn every failure into one line and an
exit code."""

import copy
import os
import sys

import typer

from diag.cli.base import EXIT_UNKNOWN, app

# Each command's module, in the order the help lists them. Only the module of the
# command that runs is imported: typer builds the options of every command it holds
# before parsing, a third of `maildiag probe`'s start-up otherwise.
COMMANDS = {
    "probe": "probe",
    "providers": "providers",
    "lookup": "providers",
    "recommend": "advice",
    "compare": "advice",
    "discover": "check",
    "check": "check",
    "login": "account",
    "roundtrip": "account",
    "scan": "scan",
    "docs": "docs",
}


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
    """The app with only the command that runs (the whole app for help, or for a name it
    does not know, which it then lists)."""
    name = next((a for a in args if not a.startswith("-")), None)
    wanted = [COMMANDS[name]] if name in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module in wanted:  # the import statement's path, which -X importtime also sees
        __import__(f"diag.cli.{module}")
    if name not in COMMANDS:
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
    raise AssertionError(f"diag.cli.{COMMANDS[name]} declares no command {name!r}")


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
