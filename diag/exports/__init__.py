"""Files a domain admin can publish, written from the chosen settings.

Every exporter takes the same input (an ExportInput) and returns text; a test parses
each file back and checks it round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.discovery.model import Candidate

FORMATS = ("thunderbird", "autodiscover", "mobileconfig", "json")


@dataclass(frozen=True)
class ExportInput:
    domain: str
    address: str | None
    name: str  # display name of the service
    candidates: tuple[Candidate, ...]  # best first, per protocol


def export(fmt: str, data: ExportInput) -> str:
    if fmt == "thunderbird":
        from diag.exports.thunderbird import write
    elif fmt == "autodiscover":
        from diag.exports.autodiscover import write
    elif fmt == "mobileconfig":
        from diag.exports.mobileconfig import write
    elif fmt == "json":
        from diag.exports.jsonfile import write
    else:
        from diag.errors import BadInput

        raise BadInput(f"unknown export format {fmt!r}: choose {', '.join(FORMATS)}")
    return write(data)
