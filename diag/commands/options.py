"""Option checks shared by the commands, cheap enough to run before anything else."""

from __future__ import annotations

from pathlib import Path

from diag.errors import BadInput


def check_timeout(timeout: float) -> float:
    if not 0 < timeout <= 300:
        raise BadInput(f"--timeout must be between 0 and 300 seconds, not {timeout}")
    return timeout


def check_export(export: str | None, output: object, as_json: bool) -> str | None:
    """--export, -o and --json together, judged before any network work."""
    from diag.exports import FORMATS as EXPORT_FORMATS  # probe does not need it

    if export is None:
        if output is not None:
            raise BadInput("-o/--output needs --export FORMAT (it writes the exported settings)")
        return None
    fmt = export.lower()
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"unknown --export format “{export}”: choose {', '.join(EXPORT_FORMATS)}")
    if as_json:
        raise BadInput("--json and --export cannot be combined (--export json writes JSON)")
    if output is not None:
        folder = Path(str(output)).expanduser().parent
        if not folder.is_dir():
            raise BadInput(f"-o {output}: the folder {folder} does not exist")
    return fmt


def reject_address(host: str) -> None:
    """`probe` takes a server; an address belongs to `check`."""
    if "@" in host:
        raise BadInput(f"that is an address: use `maildiag check {host.strip()}`")
