"""Thunderbird's autoconfig format (clientConfig version 1.1), read and written.

Files come from strangers (autoconfig servers, the ISPDB, a user's folder), so they
are parsed with defusedxml with DTDs forbidden (no entity expansion, no external
entities) and only after a size check.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from diag.errors import BadInput
from diag.net.numbers import port_number
from diag.providers.schema import Provider, ProviderError, Server, parse
from diag.providers.schema import _server as validate_server

MAX_XML_BYTES = 1024 * 1024

_SOCKET_IN = {"SSL": "ssl", "STARTTLS": "starttls", "plain": "plain"}
_SOCKET_OUT = {v: k for k, v in _SOCKET_IN.items()}
_USER_IN = {
    "%EMAILADDRESS%": "address",
    "%EMAILLOCALPART%": "localpart",
    "%EMAILLOCALPART%.%EMAILDOMAIN%": "localpart.domain",
}
_USER_OUT = {v: k for k, v in _USER_IN.items()} | {"login": ""}  # no placeholder for a login
_AUTH_IN = {
    "password-cleartext": "password",
    "plain": "password",
    "password-encrypted": "password",
    "secure": "password",
    "OAuth2": "oauth2",
}
_AUTH_OUT = {
    "password": "password-cleartext",
    "app-password": "password-cleartext",
    "oauth2": "OAuth2",
}


class AutoconfigError(BadInput):
    pass


def parse_xml(data: bytes, source: str) -> ET.Element:
    if len(data) > MAX_XML_BYTES:
        raise AutoconfigError(f"{source}: larger than {MAX_XML_BYTES // 1024} KiB")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise AutoconfigError(f"{source}: refused unsafe XML ({type(exc).__name__})") from None
    except ET.ParseError as exc:
        raise AutoconfigError(f"{source}: not well-formed XML ({exc})") from None


def read(
    data: bytes,
    source: str,
    warnings: list[str] | None = None,
    layer: str = "",
    rejected: list[str] | None = None,
) -> list[Provider]:
    """The emailProvider elements of a clientConfig document, as entries.

    Facts only: servers, OAuth2 issuer and scopes, whether a protocol must be enabled
    and the page that says how (its URL); instruction and description prose is not kept.
    Servers in a form maildiag cannot express are left out and named in `warnings`.
    With `rejected` (a document from the network), a server entry that cannot be used
    (bad port, bad host name, unknown socket type) is described there and skipped, so
    one bad entry does not hide the good ones; without it, the first bad entry fails.
    """
    root = parse_xml(data, source)
    if _local(root.tag) != "clientConfig":
        raise AutoconfigError(f"{source}: not a clientConfig document (<{_local(root.tag)}>)")
    notes = warnings if warnings is not None else []
    providers = [
        _provider(e, root, source, notes, layer, rejected)
        for e in root
        if _local(e.tag) == "emailProvider"
    ]
    if not providers:
        raise AutoconfigError(f"{source}: no <emailProvider> element")
    return providers


def _provider(
    element: ET.Element,
    root: ET.Element,
    source: str,
    warnings: list[str],
    layer: str,
    rejected: list[str] | None,
) -> Provider:
    domains = [_text(d) for d in _children(element, "domain") if _text(d)]
    provider_id = element.get("id") or (domains[0] if domains else "")
    incoming = _servers(element, "incomingServer", ("imap", "pop3"), source, rejected)
    outgoing = _servers(element, "outgoingServer", ("smtp",), source, rejected)
    for server in (*incoming, *outgoing):
        if server["username"] not in _USER_IN.values():
            warnings.append(
                f"{source}: {server['protocol']} {server['host']}: username form "
                f"{server['username']!r} left out"
            )
    incoming = [s for s in incoming if s["username"] in _USER_IN.values()]
    outgoing = [s for s in outgoing if s["username"] in _USER_IN.values()]
    data: dict = {
        "id": _slug(provider_id),
        "name": _text(_first(element, "displayName")) or provider_id,
        "domains": domains,
        "incoming": [s for s in incoming if s["protocol"] in ("imap", "pop3")],
        "outgoing": [s for s in outgoing if s["protocol"] == "smtp"],
        "help": [
            d.get("url", "")
            for d in _children(element, "documentation")
            if d.get("url", "").startswith("https://")
        ],
    }
    # <enable> and <oAuth2> sit inside <emailProvider> or beside it, under <clientConfig>
    enable = _first(element, "enable")
    enable = enable if enable is not None else _first(root, "enable")
    if enable is not None:
        url = enable.get("visiturl", "")
        where = url if url.startswith("https://") else ""
        data["enable"] = {p: where for p in dict.fromkeys(s["protocol"] for s in data["incoming"])}
    oauth = _first(element, "oAuth2")
    oauth = oauth if oauth is not None else _first(root, "oAuth2")
    issuer = _text(_first(oauth, "issuer")) if oauth is not None else ""
    if issuer:
        data["requires"] = {
            "oauth2_issuer": issuer,
            "oauth2_scopes": _text(_first(oauth, "scope")).split(),
        }
    return parse(data, source, layer)


def _servers(
    element: ET.Element,
    tag: str,
    protocols: tuple[str, ...],
    source: str,
    rejected: list[str] | None,
) -> list[dict]:
    out = []
    for index, child in enumerate(_children(element, tag)):
        kind = child.get("type", "")
        if kind not in protocols:
            continue
        try:
            server = _server(child, kind, index, source)
            if rejected is not None and server["username"] in _USER_IN.values():
                validate_server(server, f"{tag}[{index}]", source, protocols)
        except ProviderError as exc:
            if rejected is None:
                raise
            rejected.append(str(exc).removeprefix(f"{source}: "))
            continue
        out.append(server)
    return out


def _server(element: ET.Element, kind: str, index: int, source: str) -> dict:
    where = f"{'outgoing' if kind == 'smtp' else 'incoming'}Server[{index}]"
    port = port_number(_text(_first(element, "port")))
    if port is None:
        raise ProviderError(source, f"{where}.port", "not a port number from 1 to 65535")
    socket = _text(_first(element, "socketType"))
    if socket not in _SOCKET_IN:
        raise ProviderError(source, f"{where}.socketType", f"unknown value {socket!r}")
    username = _text(_first(element, "username"))
    auths = [
        _AUTH_IN[a]
        for a in (_text(x) for x in _children(element, "authentication"))
        if a in _AUTH_IN
    ]
    return {
        "protocol": kind,
        "host": _text(_first(element, "hostname")),
        "port": port,
        "socket": _SOCKET_IN[socket],
        "username": _USER_IN.get(username, username) if username else "address",
        "auth": list(dict.fromkeys(auths)) or ["password"],
    }


def write(provider: Provider) -> str:
    """A config-v1.1.xml document for one entry, as an autoconfig server would serve it."""
    root = ET.Element("clientConfig", version="1.1")
    element = ET.SubElement(
        root, "emailProvider", id=provider.domains[0] if provider.domains else provider.id
    )
    for domain in provider.domains:
        ET.SubElement(element, "domain").text = domain
    ET.SubElement(element, "displayName").text = provider.name
    ET.SubElement(element, "displayShortName").text = provider.name.split()[0]
    for server in provider.incoming:
        _write_server(ET.SubElement(element, "incomingServer", type=server.protocol), server)
    for server in provider.outgoing:
        _write_server(ET.SubElement(element, "outgoingServer", type="smtp"), server)
    if provider.enable:
        urls = [v for v in provider.enable.values() if v.startswith("https://")]
        visit = urls[0] if urls else (provider.help[0] if provider.help else "")
        enable = ET.SubElement(element, "enable", visiturl=visit)
        instruction = "; ".join(f"{k.upper()}: {v}" for k, v in provider.enable.items() if v)
        if instruction:
            ET.SubElement(enable, "instruction").text = instruction
    oauth2 = provider.requires.oauth2
    if oauth2:
        oauth = ET.SubElement(element, "oAuth2")
        ET.SubElement(oauth, "issuer").text = oauth2.issuer
        ET.SubElement(oauth, "scope").text = " ".join(oauth2.scopes)
    for url in provider.help:
        documentation = ET.SubElement(element, "documentation", url=url)
        ET.SubElement(documentation, "descr", lang="en").text = f"{provider.name} help"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _write_server(element: ET.Element, server: Server) -> None:
    ET.SubElement(element, "hostname").text = server.host
    ET.SubElement(element, "port").text = str(server.port)
    ET.SubElement(element, "socketType").text = _SOCKET_OUT[server.socket]
    ET.SubElement(element, "username").text = _USER_OUT[server.username]
    for auth in dict.fromkeys(_AUTH_OUT[a] for a in server.auth):
        ET.SubElement(element, "authentication").text = auth


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name]


def _first(element: ET.Element, name: str) -> ET.Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _slug(text: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    return slug or "imported"
