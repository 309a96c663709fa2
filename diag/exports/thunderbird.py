"""config-v1.1.xml, as served at https://autoconfig.DOMAIN/mail/config-v1.1.xml."""

from __future__ import annotations

from diag.exports import ExportInput
from diag.model import Security
from diag.providers.autoconfig import write as write_provider
from diag.providers.schema import Provider, Server

_SOCKET = {Security.TLS: "ssl", Security.STARTTLS: "starttls", Security.PLAIN: "plain"}


def write(data: ExportInput) -> str:
    servers = [
        Server(
            c.protocol,
            c.host,
            c.port,
            _SOCKET[c.security],
            c.username or "address",
            c.auth or ("password",),
        )
        for c in data.candidates
    ]
    provider = Provider(
        id=data.domain,
        name=data.name,
        domains=(data.domain,),
        incoming=tuple(s for s in servers if s.protocol != "smtp"),
        outgoing=tuple(s for s in servers if s.protocol == "smtp"),
    )
    return write_provider(provider)
