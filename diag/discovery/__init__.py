"""Discovery: every published or guessable mail setting for a domain, with provenance."""
