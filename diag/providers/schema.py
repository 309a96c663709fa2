"""The provider entry: its fields, and validation that names the file and field at fault.

An entry is plain data (one TOML file in providers/); this module turns the parsed
mapping into typed values or a ProviderError, and back into a mapping for writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diag.errors import BadInput
from diag.net.names import normalize_host, normalize_published

PROTOCOLS_IN = ("imap", "pop3")
PROTOCOLS_OUT = ("smtp",)
SOCKETS = ("ssl", "starttls", "plain")
# login: the account's own login, not derived from the address;
# localpart.domain: the ISPDB's %EMAILLOCALPART%.%EMAILDOMAIN% (some Japanese ISPs)
USERNAMES = ("address", "localpart", "login", "localpart.domain")


def username_value(form: str, address: str | None) -> str | None:
    """The username to type for a mailbox address, in one of the USERNAMES forms."""
    if not address or form == "login":
        return None
    local, _, domain = address.rpartition("@")
    if form == "localpart":
        return local
    if form == "localpart.domain":
        return f"{local}.{domain}"
    return address


AUTHS = ("password", "app-password", "oauth2")
LAYERS = ("user", "curated", "ispdb", "deltachat")  # highest precedence first
CHECK_RESULTS = ("confirms", "contradicts", "partial", "absent")  # absent: the source has no entry
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
        return username_value(self.username, address)


@dataclass(frozen=True)
class OAuth2:
    issuer: str  # the token issuer a client registers with (e.g. accounts.google.com)
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirements:
    """What a mail client must know before the first login; rendered from message
    catalogues, so it reads the same in every language."""

    oauth2: OAuth2 | None = None
    app_password: bool = False  # a password made for mail programs, not the account's own
    app_password_where: str = ""  # URL or menu path where it is made
    imap_id: bool = False  # the IMAP server refuses clients that send no ID (RFC 2971)
    paid_plan: tuple[str, ...] = ()  # protocols that need a paid plan
    provider_login: bool = False  # username is the provider login, not the address
    provider_login_where: str = ""  # which login (e.g. "the Apple Account address")
    pop_off_by_default: bool = False

    def __bool__(self) -> bool:
        return self != Requirements()


@dataclass(frozen=True)
class Check:
    """One comparison of the entry against a source, dated."""

    source: str  # a URL, or a public-layer file such as ispdb/163.com.xml
    date: str
    result: str  # confirms, contradicts, partial
    about: str = ""  # which facts were compared or differ


@dataclass(frozen=True)
class Origin:
    """Where a generated entry's facts come from (public layers)."""

    file: str  # path inside the upstream repository
    commit: str = ""
    date: str = ""  # the upstream file's date (last change, or its own last_checked)
    status: str = ""  # the upstream's own verdict, when it has one (Delta Chat: ok, broken...)


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
    requires: Requirements = field(default_factory=Requirements)
    checks: tuple[Check, ...] = ()
    origin: Origin | None = None
    source: str = ""  # file it was loaded from (not written)
    layer: str = ""  # user, curated, ispdb or deltachat (not written)

    def display_source(self) -> str:
        """Where the facts come from, as a reader can find it: the upstream file for the
        public layers, providers/<file> for curated entries, the full path for yours."""
        if self.origin is not None:
            return self.origin.file
        if self.layer == "curated":
            return "providers/" + self.source.replace("\\", "/").rsplit("/", 1)[-1]
        return self.source

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
    "requires",
    "checks",
    "origin",
}
_SERVER = {"protocol", "host", "port", "socket", "username", "auth", "notes"}
_REQUIRES = {
    "oauth2_issuer": str,
    "oauth2_scopes": list,
    "app_password": bool,
    "app_password_where": str,
    "imap_id": bool,
    "paid_plan": list,
    "provider_login": bool,
    "provider_login_where": str,
    "pop_off_by_default": bool,
}
_CHECK = {"source", "date", "result", "about"}
_ORIGIN = {"file", "commit", "date", "status"}


def parse(data: dict[str, Any], source: str, layer: str = "") -> Provider:
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
        requires=_requires(data.get("requires", {}), source),
        checks=tuple(
            _check(c, f"checks[{i}]", source)
            for i, c in enumerate(_tables(data, "checks", source, required=False))
        ),
        origin=_origin(data["origin"], source) if "origin" in data else None,
        source=source,
        layer=layer,
    )


def _requires(data: Any, source: str) -> Requirements:
    if not isinstance(data, dict):
        raise ProviderError(source, "requires", "must be a table")
    for key, value in data.items():
        kind = _REQUIRES.get(key)
        if kind is None:
            raise ProviderError(source, f"requires.{key}", "unknown field")
        if not isinstance(value, kind) or (
            kind is list and not all(isinstance(v, str) for v in value)
        ):
            raise ProviderError(source, f"requires.{key}", f"must be a {kind.__name__}")
    paid = tuple(data.get("paid_plan", []))
    if any(p not in PROTOCOLS_IN + PROTOCOLS_OUT for p in paid):
        raise ProviderError(source, "requires.paid_plan", "a list of imap, pop3, smtp")
    issuer = data.get("oauth2_issuer", "")
    scopes = tuple(data.get("oauth2_scopes", []))
    if scopes and not issuer:
        raise ProviderError(source, "requires.oauth2_scopes", "needs oauth2_issuer")
    return Requirements(
        oauth2=OAuth2(issuer, scopes) if issuer else None,
        app_password=data.get("app_password", False),
        app_password_where=data.get("app_password_where", ""),
        imap_id=data.get("imap_id", False),
        paid_plan=paid,
        provider_login=data.get("provider_login", False),
        provider_login_where=data.get("provider_login_where", ""),
        pop_off_by_default=data.get("pop_off_by_default", False),
    )


def _requires_mapping(requires: Requirements) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if requires.oauth2:
        out["oauth2_issuer"] = requires.oauth2.issuer
        if requires.oauth2.scopes:
            out["oauth2_scopes"] = list(requires.oauth2.scopes)
    for key in (
        "app_password",
        "app_password_where",
        "imap_id",
        "paid_plan",
        "provider_login",
        "provider_login_where",
        "pop_off_by_default",
    ):
        value = getattr(requires, key)
        if value:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _check(data: Any, where: str, source: str) -> Check:
    if not isinstance(data, dict):
        raise ProviderError(source, where, "must be a table")
    unknown = set(data) - _CHECK
    if unknown:
        raise ProviderError(source, f"{where}.{sorted(unknown)[0]}", "unknown field")
    if not all(isinstance(v, str) for v in data.values()):
        raise ProviderError(source, where, "every field is a string")
    result = _choice(data, "result", CHECK_RESULTS, where, source)
    return Check(
        _string(data, "source", source), str(data.get("date", "")), result, data.get("about", "")
    )


def _origin(data: Any, source: str) -> Origin:
    if not isinstance(data, dict):
        raise ProviderError(source, "origin", "must be a table")
    unknown = set(data) - _ORIGIN
    if unknown:
        raise ProviderError(source, f"origin.{sorted(unknown)[0]}", "unknown field")
    if not all(isinstance(v, str) for v in data.values()):
        raise ProviderError(source, "origin", "every field is a string")
    return Origin(
        _string(data, "file", source),
        data.get("commit", ""),
        data.get("date", ""),
        data.get("status", ""),
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
    if provider.requires:
        out["requires"] = _requires_mapping(provider.requires)
    if provider.origin:
        out["origin"] = {k: v for k, v in vars(provider.origin).items() if v}
    if provider.incoming:
        out["incoming"] = [_server_mapping(s) for s in provider.incoming]
    if provider.outgoing:
        out["outgoing"] = [_server_mapping(s) for s in provider.outgoing]
    if provider.checks:
        out["checks"] = [{k: v for k, v in vars(c).items() if v} for c in provider.checks]
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
    """A server's host: a published name, so the looser rule (underscores allowed)."""
    if text == "127.0.0.1":  # a local bridge (Proton Mail Bridge)
        return text
    if text.count(DOMAIN_PLACEHOLDER) == 1 and text.endswith(DOMAIN_PLACEHOLDER):
        _published(text.replace(DOMAIN_PLACEHOLDER, "example.com"), key, source)
        return text
    return _published(text, key, source)


def _published(text: str, key: str, source: str) -> str:
    try:
        return normalize_published(text)
    except BadInput as exc:
        raise ProviderError(source, key, str(exc)) from None


def _mx_pattern(text: str, source: str) -> str:
    wildcard = text.startswith("*.")
    name = _domain(text[2:] if wildcard else text, "mx", source)
    return f"*.{name}" if wildcard else name


def _url(text: str, source: str) -> str:
    if not text.startswith("https://"):
        raise ProviderError(source, "help", f"{text!r}: links must be https:// URLs")
    return text
