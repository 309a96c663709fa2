"""Option checks shared by the commands, cheap enough to run before anything else."""

from __future__ import annotations

from diag.errors import BadInput


def check_timeout(timeout: float) -> float:
    if not 0 < timeout <= 300:
        raise BadInput(f"--timeout must be between 0 and 300 seconds, not {timeout}")
    return timeout
