"""An Apple configuration profile (unsigned) with one com.apple.mail.managed payload.

Apple's mail payload holds one incoming server (IMAP or POP) and one outgoing server:
the best of each is used. Passwords are never written; the device asks for them.
"""

from __future__ import annotations

import plistlib
import uuid

from diag.discovery.model import Candidate
from diag.exports import ExportInput
from diag.model import Security

NAMESPACE = uuid.UUID("6f0d4c2e-8f36-4cf5-9d6a-6a7f0c1c9e21")  # stable UUIDs per domain


def write(data: ExportInput) -> str:
    incoming = next((c for c in data.candidates if c.protocol in ("imap", "pop3")), None)
    outgoing = next((c for c in data.candidates if c.protocol == "smtp"), None)
    if incoming is None or outgoing is None:
        from diag.errors import BadInput

        raise BadInput("an Apple profile needs one incoming and one outgoing server")
    identifier = ".".join(reversed(data.domain.split(".")))
    mail = {
        **_payload(
            "com.apple.mail.managed",
            f"{identifier}.maildiag.mail",
            f"mail:{data.domain}",
            f"{data.name} mail",
        ),
        "EmailAccountDescription": data.name,
        "EmailAccountType": "EmailTypeIMAP" if incoming.protocol == "imap" else "EmailTypePOP",
        "IncomingMailServerHostName": incoming.host,
        "IncomingMailServerPortNumber": incoming.port,
        "IncomingMailServerUseSSL": incoming.security is not Security.PLAIN,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": outgoing.host,
        "OutgoingMailServerPortNumber": outgoing.port,
        "OutgoingMailServerUseSSL": outgoing.security is not Security.PLAIN,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    if data.address:
        mail["EmailAddress"] = data.address
        mail["IncomingMailServerUsername"] = _username(incoming, data.address)
        mail["OutgoingMailServerUsername"] = _username(outgoing, data.address)
    profile = {
        **_payload(
            "Configuration",
            f"{identifier}.maildiag",
            f"profile:{data.domain}",
            f"{data.name} mail settings",
        ),
        "PayloadDescription": f"Mail settings for {data.domain}, written by maildiag.",
        "PayloadContent": [mail],
    }
    return plistlib.dumps(profile).decode("utf-8")


def _payload(kind: str, identifier: str, seed: str, name: str) -> dict:
    """The keys every payload carries; the UUID is stable for a domain, so a re-export
    replaces the installed profile instead of adding a second one."""
    return {
        "PayloadType": kind,
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": str(uuid.uuid5(NAMESPACE, seed)).upper(),
        "PayloadDisplayName": name,
    }


def _username(candidate: Candidate, address: str) -> str:
    from diag.providers.schema import username_value

    return username_value(candidate.username or "address", address) or address
