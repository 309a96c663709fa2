"""Microsoft Autodiscover, the plain-old-XML (POX) flavour Outlook and others POST.

Only the IMAP, POP3 and SMTP <Protocol> entries matter here (EXCH/EXPR are Exchange's
own protocols). Responses are parsed with the same safe XML reader as autoconfig.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from diag.discovery.model import Candidate
from diag.model import Security
from diag.net.numbers import port_number
from diag.providers.autoconfig import AutoconfigError, parse_xml
from diag.quoting import quoted

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
_TYPES = {"IMAP": "imap", "POP3": "pop3", "SMTP": "smtp"}
_IMPLICIT_PORTS = {993, 995, 465}


# The request is fixed but for the address: a template, escaped as ElementTree would
# (a scan posts one per domain, and building a tree each time cost a few percent of it).
_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    f'<Autodiscover xmlns="{REQUEST_NS}"><Request><EMailAddress>{{}}</EMailAddress>'
    f"<AcceptableResponseSchema>{OUTLOOK_NS}</AcceptableResponseSchema></Request></Autodiscover>"
)


def request_body(address: str) -> bytes:
    text = address.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _REQUEST.format(text).encode("ascii", "xmlcharrefreplace")


def parse_response(data: bytes, source: str, rejected: list[str] | None = None) -> list[Candidate]:
    """The IMAP, POP3 and SMTP entries; an entry with no usable port is described in
    `rejected` (when given) and skipped."""
    root = parse_xml(data, source)
    if _local(root.tag) != "Autodiscover":
        raise AutoconfigError(f"{source}: not an Autodiscover response (<{_local(root.tag)}>)")
    candidates = []
    for protocol in root.iter():
        if _local(protocol.tag) != "Protocol":
            continue
        kind = _TYPES.get(_child(protocol, "Type").upper())
        server, port_text = _child(protocol, "Server"), _child(protocol, "Port")
        if kind is None or not server:
            continue
        port = port_number(port_text)
        if port is None:
            if rejected is not None:
                rejected.append(
                    f"{kind} {quoted(server, 100)}: port {quoted(port_text, 40)} is not 1-65535"
                )
            continue
        login = _child(protocol, "LoginName")
        candidates.append(
            Candidate(
                kind,
                server.lower().rstrip("."),
                port,
                _security(protocol, port),
                username="localpart" if login and "@" not in login else "address",
            )
        )
    return candidates


def _security(protocol: ET.Element, port: int) -> Security:
    encryption = _child(protocol, "Encryption").upper()
    if encryption == "SSL":
        return Security.TLS
    if encryption == "TLS":
        return Security.STARTTLS
    if encryption == "NONE":
        return Security.PLAIN
    if encryption == "AUTO" or _child(protocol, "SSL").lower() != "off":
        return Security.TLS if port in _IMPLICIT_PORTS else Security.STARTTLS
    return Security.PLAIN


def write_response(candidates: list[Candidate], address: str | None, name: str) -> str:
    """A POX response a domain can serve at /autodiscover/autodiscover.xml."""
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = ET.SubElement(root, "Response", xmlns=OUTLOOK_NS)
    user = ET.SubElement(response, "User")
    ET.SubElement(user, "DisplayName").text = name
    account = ET.SubElement(response, "Account")
    ET.SubElement(account, "AccountType").text = "email"
    ET.SubElement(account, "Action").text = "settings"
    for candidate in candidates:
        protocol = ET.SubElement(account, "Protocol")
        kind = {v: k for k, v in _TYPES.items()}[candidate.protocol]
        ET.SubElement(protocol, "Type").text = kind
        ET.SubElement(protocol, "Server").text = candidate.host
        ET.SubElement(protocol, "Port").text = str(candidate.port)
        ET.SubElement(protocol, "DomainRequired").text = "off"
        if address:
            login = address if candidate.username != "localpart" else address.split("@")[0]
            ET.SubElement(protocol, "LoginName").text = login
        ET.SubElement(protocol, "SPA").text = "off"
        ET.SubElement(protocol, "SSL").text = (
            "off" if candidate.security is Security.PLAIN else "on"
        )
        ET.SubElement(protocol, "Encryption").text = {
            Security.TLS: "SSL",
            Security.STARTTLS: "TLS",
            Security.PLAIN: "None",
        }[candidate.security]
        ET.SubElement(protocol, "AuthRequired").text = "on"
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(element: ET.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""
