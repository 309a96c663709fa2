"""The chosen settings as JSON (schema maildiag.settings/1, docs/json.md)."""

from __future__ import annotations

import json

from diag.exports import ExportInput

SCHEMA = "maildiag.settings/1"


def write(data: ExportInput) -> str:
    return (
        json.dumps(
            {
                "schema": SCHEMA,
                "domain": data.domain,
                "address": data.address,
                "name": data.name,
                "servers": [
                    {
                        "protocol": c.protocol,
                        "host": c.host,
                        "port": c.port,
                        "security": c.security.value,
                        "username": c.username or "address",
                        "auth": list(c.auth) or ["password"],
                    }
                    for c in data.candidates
                ],
            },
            indent=2,
        )
        + "\n"
    )
