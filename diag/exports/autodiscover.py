"""A POX Autodiscover response, as served at /autodiscover/autodiscover.xml."""

from __future__ import annotations

from diag.discovery.pox import write_response
from diag.exports import ExportInput


def write(data: ExportInput) -> str:
    return write_response(list(data.candidates), data.address, data.name)
