"""One module per mail protocol, all with the shape of `base.Dialect`."""

from __future__ import annotations

from diag.model import Security, ServiceSpec
from diag.protocols.base import Dialect
from diag.protocols.imap import Imap
from diag.protocols.pop3 import Pop3
from diag.protocols.smtp import Smtp

DIALECTS: dict[str, type[Dialect]] = {"imap": Imap, "pop3": Pop3, "smtp": Smtp}

# The seven standard mail ports (RFC 8314 for the implicit-TLS ones).
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("imap", 993, Security.TLS),
    ServiceSpec("imap", 143, Security.STARTTLS),
    ServiceSpec("pop3", 995, Security.TLS),
    ServiceSpec("pop3", 110, Security.STARTTLS),
    ServiceSpec("smtp", 465, Security.TLS),
    ServiceSpec("smtp", 587, Security.STARTTLS),
    ServiceSpec("smtp", 25, Security.STARTTLS),
)

SUBMISSION_PORTS = (465, 587)

# Other ports mail guides list, probed the way they speak without a --protocol.
KNOWN_PORTS: dict[int, ServiceSpec] = {
    2525: ServiceSpec("smtp", 2525, Security.STARTTLS),  # alternative submission
}


def dialect_for(protocol: str) -> Dialect:
    return DIALECTS[protocol]()
