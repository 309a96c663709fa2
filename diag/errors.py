"""Errors the CLI turns into a one-line message and exit code 3."""


class BadInput(ValueError):
    """The user's input cannot be checked (invalid host, option or file)."""
