"""The `maildiag` command: parse, call the core, render. Nothing more.

One module per command group declares its options and calls diag.commands; only the
module of the command that runs is imported (`--help` imports them all), and commands
import their machinery only when they run, so start-up pays for neither cryptography
nor dnspython.
"""

from diag.cli.run import main

__all__ = ["main"]
