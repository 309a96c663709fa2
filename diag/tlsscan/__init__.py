"""Raw-socket TLS checks beside the main session: hand-built ClientHellos, STARTTLS injection.

Each check opens its own connection, so it runs concurrently with the probe's main
session and never depends on what the local OpenSSL is willing to negotiate.
"""
