"""TLS: handshake contexts, certificate description, name matching, chain trust."""
