"""The provider entry: its fields, and validation that names the file and field at fault.

An entry is plain data (one TOML file in providers/); this module turns the parsed
mapping into typed values or a ProviderError, and back into a mapping for writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diag.errors import BadInput
from diag.net.names import normalize_host

PROTOCOLS_IN = ("imap", "pop3")
PROTOCOLS_OUT = ("smtp",)
SOCKETS = ("ssl", "starttls", "plain")
USERNAMES = ("address", "localpart")
AUTHS = ("password", "app-password", "oauth2")
DOMAIN_PLACEHOLDER = "%EMAILDOMAIN%"  # Thunderbird's placeholder, kept as is


class ProviderError(BadInput):
    def __init__(self, source: str, field_name: str, message: str) -> None:
        super().__init__(f"{source}: {field_name}: {message}")
        self.source = source
        self.field = field_name


@dataclass(frozen=True)
class Server:
    protocol: str  # imap, pop3, smtp
    host: str
    port: int
    socket: str  # ssl (implicit TLS), starttls, plain
    username: str = "address"  # address or localpart of the mailbox's address
    auth: tuple[str, ...] = ("password",)  # in the provider's order of preference
    notes: str = ""

    def host_for(self, domain: str | None) -> str:
        """The host, with %EMAILDOMAIN% (hosting providers: mail.<your domain>) filled in."""
        return self.host.replace(DOMAIN_PLACEHOLDER, domain) if domain else self.host

    def username_for(self, address: str | None) -> str | None:
        if not address:
            return None
        return address if self.username == "address" else address.partition("@")[0]


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    domains: tuple[str, ...]  # A-labels, lower case
    incoming: tuple[Server, ...]
    outgoing: tuple[Server, ...]
    mx: tuple[str, ...] = ()  # MX host patterns: a name, or *.suffix for any host below it
    enable: dict[str, str] = field(default_factory=dict)  # protocol -> where to switch it on
    limits: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    help: tuple[str, ...] = ()  # the provider's own help pages
    checked: str = ""  # date the entry was last checked against those pages
    source: str = ""  # file it was loaded from (not written)

    def servers(self, protocol: str) -> list[Server]:
        return [s for s in (*self.incoming, *self.outgoing) if s.protocol == protocol]


_TOP = {
    "id",
    "name",
    "domains",
    "mx",
    "incoming",
    "outgoing",
    "enable",
    "limits",
    "retired",
    "help",
    "checked",
}
_SERVER = {"protocol", "host", "port", "socket", "username", "auth", "notes"}


def parse(data: dict[str, Any], source: str) -> Provider:
    """Validate a parsed entry; ProviderError names the first field at fault."""
    unknown = set(data) - _TOP
    if unknown:
        raise ProviderError(source, sorted(unknown)[0], "unknown field")
    provider_id = _string(data, "id", source)
    if not provider_id.replace("-", "").replace("_", "").isalnum() or provider_id != (
        provider_id.lower()
    ):
        raise ProviderError(source, "id", "use lower-case letters, digits, - and _")
    domains = tuple(_domain(d, "domains", source) for d in _strings(data, "domains", source))
    mx = tuple(_mx_pattern(p, source) for p in _strings(data, "mx", source, required=False))
    if not domains and not mx:
        raise ProviderError(source, "domains", "give at least one domain or MX pattern")
    retired = tuple(_strings(data, "retired", source, required=False))
    incoming = tuple(
        _server(s, f"incoming[{i}]", source, PROTOCOLS_IN)
        # a provider that offers no IMAP/POP at all says so in `retired`
        for i, s in enumerate(_tables(data, "incoming", source, required=not retired))
    )
    outgoing = tuple(
        _server(s, f"outgoing[{i}]", source, PROTOCOLS_OUT)
        for i, s in enumerate(_tables(data, "outgoing", source, required=False))
    )
    enable = data.get("enable", {})
    if not isinstance(enable, dict) or not all(
        k in PROTOCOLS_IN + PROTOCOLS_OUT and isinstance(v, str) for k, v in enable.items()
    ):
        raise ProviderError(source, "enable", 'a table of protocol = "where to switch it on"')
    return Provider(
        id=provider_id,
        name=_string(data, "name", source),
        domains=domains,
        mx=mx,
        incoming=incoming,
        outgoing=outgoing,
        enable=dict(enable),
        limits=tuple(_strings(data, "limits", source, required=False)),
        retired=retired,
        help=tuple(_url(u, source) for u in _strings(data, "help", source, required=False)),
        checked=str(data.get("checked", "")),
        source=source,
    )


def to_mapping(provider: Provider) -> dict[str, Any]:
    """The entry as it is written to TOML (empty optional fields left out)."""
    out: dict[str, Any] = {
        "id": provider.id,
        "name": provider.name,
        "domains": list(provider.domains),
    }
    for key in ("mx", "limits", "retired", "help"):
        if getattr(provider, key):
            out[key] = list(getattr(provider, key))
    if provider.checked:
        out["checked"] = provider.checked
    if provider.enable:
        out["enable"] = dict(provider.enable)
    if provider.incoming:
        out["incoming"] = [_server_mapping(s) for s in provider.incoming]
    if provider.outgoing:
        out["outgoing"] = [_server_mapping(s) for s in provider.outgoing]
    return out


def _server_mapping(server: Server) -> dict[str, Any]:
    out: dict[str, Any] = {
        "protocol": server.protocol,
        "host": server.host,
        "port": server.port,
        "socket": server.socket,
        "username": server.username,
        "auth": list(server.auth),
    }
    if server.notes:
        out["notes"] = server.notes
    return out


def _server(data: Any, where: str, source: str, protocols: tuple[str, ...]) -> Server:
    if not isinstance(data, dict):
        raise ProviderError(source, where, "must be a table")
    unknown = set(data) - _SERVER
    if unknown:
        raise ProviderError(source, f"{where}.{sorted(unknown)[0]}", "unknown field")
    protocol = _choice(data, "protocol", protocols, where, source)
    port = data.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ProviderError(source, f"{where}.port", "a port number from 1 to 65535")
    auth = data.get("auth", ["password"])
    if not isinstance(auth, list) or not auth or any(a not in AUTHS for a in auth):
        raise ProviderError(source, f"{where}.auth", f"a list of {', '.join(AUTHS)}")
    host = data.get("host")
    if not isinstance(host, str):
        raise ProviderError(source, f"{where}.host", "missing host name")
    return Server(
        protocol=protocol,
        host=_hostname(host, f"{where}.host", source),
        port=port,
        socket=_choice(data, "socket", SOCKETS, where, source),
        username=_choice(data, "username", USERNAMES, where, source, default="address"),
        auth=tuple(auth),
        notes=str(data.get("notes", "")),
    )


def _choice(
    data: dict,
    key: str,
    allowed: tuple[str, ...],
    where: str,
    source: str,
    default: str | None = None,
) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise ProviderError(source, f"{where}.{key}", f"one of {', '.join(allowed)}")
    return value


def _string(data: dict, key: str, source: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProviderError(source, key, "a non-empty string is required")
    return value.strip()


def _strings(data: dict, key: str, source: str, *, required: bool = True) -> list[str]:
    value = data.get(key, None if required else [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProviderError(source, key, "a list of strings is required")
    return value


def _tables(data: dict, key: str, source: str, *, required: bool = True) -> list:
    value = data.get(key, None if required else [])
    if not isinstance(value, list) or (required and not value):
        raise ProviderError(source, key, "at least one [[" + key + "]] server is required")
    return value


def _domain(text: str, key: str, source: str) -> str:
    try:
        return normalize_host(text)
    except BadInput as exc:
        raise ProviderError(source, key, str(exc)) from None


def _hostname(text: str, key: str, source: str) -> str:
    if text == "127.0.0.1":  # a local bridge (Proton Mail Bridge)
        return text
    if text.count(DOMAIN_PLACEHOLDER) == 1 and text.endswith(DOMAIN_PLACEHOLDER):
        _domain(text.replace(DOMAIN_PLACEHOLDER, "example.com"), key, source)
        return text
    return _domain(text, key, source)


def _mx_pattern(text: str, source: str) -> str:
    wildcard = text.startswith("*.")
    name = _domain(text[2:] if wildcard else text, "mx", source)
    return f"*.{name}" if wildcard else name


def _url(text: str, source: str) -> str:
    if not text.startswith("https://"):
        raise ProviderError(source, "help", f"{text!r}: links must be https:// URLs")
    return text
