"""maildiag: diagnose mail servers and mail-client settings."""

__version__ = "0.1.0"
