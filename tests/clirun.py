"""Running the maildiag command in tests, with the invariants every run must keep.

Every test that runs the command goes through `maildiag()`, so the whole suite checks,
on every run, whatever the scenario:
- no traceback, "internal error" or Python warning on stderr;
- an exit code from 0 to 3 (130 only for an interrupt, which no test sends);
- with --json, stdout is one JSON document whose `exit_code` (when it has one) equals
  the process's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

# "foo.py:12: DeprecationWarning: ..." as printed by the warnings module
_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ", re.MULTILINE)
_FORBIDDEN = ("Traceback", "internal error", "Exception ignored")


def maildiag(
    *args: str,
    timeout: float = 120,
    env: dict | None = None,
    stdin: str | None = None,
    check_invariants: bool = True,
) -> subprocess.CompletedProcess:
    """`python -m diag ARGS`; asserts the invariants unless told not to."""
    result = subprocess.run(
        [sys.executable, "-m", "diag", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check_invariants:
        assert_invariants(args, result)
    return result


def assert_invariants(args: tuple[str, ...], result: subprocess.CompletedProcess) -> None:
    where = f"maildiag {' '.join(args)}"
    for text in _FORBIDDEN:
        assert text not in result.stderr, f"{where}: {text!r} on stderr:\n{result.stderr}"
    assert not _WARNING.search(result.stderr), f"{where}: a warning on stderr:\n{result.stderr}"
    assert 0 <= result.returncode <= 3, f"{where}: exit code {result.returncode}"
    if "--json" in args and result.stdout.strip():
        try:
            data = json.loads(result.stdout)
        except ValueError as exc:
            raise AssertionError(f"{where}: --json output does not parse: {exc}") from None
        if isinstance(data, dict) and "exit_code" in data:
            assert data["exit_code"] == result.returncode, (
                f"{where}: JSON exit_code {data['exit_code']} != process {result.returncode}"
            )
