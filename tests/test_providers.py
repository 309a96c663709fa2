"""The provider database: schema, lookup, MX matching, autoconfig XML in and out."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from diag.errors import BadInput
from diag.net.dns import Nameserver, make_resolver
from diag.providers import autoconfig
from diag.providers.database import load, read_entry, shipped_dir
from diag.providers.lookup import lookup, parse_query
from diag.providers.schema import ProviderError
from tests.clirun import maildiag as run_cli
from tests.lab import DNS

SHIPPED = sorted(shipped_dir().glob("*.toml"))


def find(text: str, extra: list[Path] | None = None, resolver=None):
    return asyncio.run(lookup(text, load(extra or []), resolver))


def maildiag(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, timeout=60, env=env)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_entry_validates(path):
    provider = read_entry(path)
    assert provider.id == path.stem
    assert provider.incoming or provider.retired
    assert all(s.port for s in (*provider.incoming, *provider.outgoing))


def test_coverage_of_the_database():
    database = load(strict_shipped=True)
    assert len(database.providers) >= 40
    required = [
        "gmail",
        "google-workspace",
        "outlook",
        "microsoft365",
        "yahoo",
        "aol",
        "icloud",
        "zoho",
        "fastmail",
        "proton",
        "gmx-net",
        "gmx-com",
        "web-de",
        "mail-com",
        "yandex",
        "mail-ru",
        "t-online",
        "comcast",
        "orange",
        "free",
        "sfr",
        "bouygues",
        "laposte",
        "ovhcloud",
        "ionos-fr",
        "gandi",
        "o2switch",
    ]
    assert not set(required) - set(database.providers)
    for domain in ("gmx.fr", "gmx.de", "gmx.com", "gmx.net", "wanadoo.fr", "neuf.fr", "live.fr"):
        assert database.by_domain(domain) is not None, domain


def test_docs_status_table_matches_the_entries():
    """docs/providers.md shows each entry's status; it must not drift from the data."""
    page = (Path(__file__).parent.parent / "docs" / "providers.md").read_text()
    rows = {}
    for line in page.split("## Status of the shipped entries")[1].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[3]
    database = load(strict_shipped=True)
    curated = {k: p for k, p in database.providers.items() if p.layer == "curated"}
    assert set(rows) == set(curated)
    for provider in curated.values():
        expected = f"checked {provider.checked}" if provider.checked else "**awaiting check**"
        assert rows[provider.id].startswith(expected), provider.id


def test_unchecked_entry_says_so():
    unchecked = maildiag("lookup", "someone@sfr.fr", "--no-mx")
    assert unchecked.returncode == 0
    assert "Not yet checked against the provider's own" in unchecked.stdout
    assert "maildiag check someone@sfr.fr" in " ".join(unchecked.stdout.split())
    assert "Not yet checked" not in maildiag("lookup", "x@gmail.com", "--no-mx").stdout


@pytest.mark.parametrize(
    ("text", "provider_id"),
    [
        ("jane@gmail.com", "gmail"),
        ("Jane.Doe@GoogleMail.COM.", "gmail"),  # alias, upper case, trailing dot
        ("gmail.com", "gmail"),
        ("someone@hotmail.fr", "outlook"),
        ("x@wanadoo.fr", "orange"),
        ("mailto:x@laposte.net", "laposte"),
    ],
)
def test_lookup_by_domain_and_alias(text, provider_id):
    match = find(text)
    assert match.provider.id == provider_id and match.via == "domain"


@pytest.mark.parametrize(
    "text", ["jane@@gmail.com", "ja ne@gmail.com", "jane\x1b]0;x@gmail.com", "ja\tne@gmail.com"]
)
def test_malformed_local_parts_are_refused(text):
    with pytest.raises(BadInput, match="bad local part"):
        parse_query(text)


@pytest.mark.parametrize("text", ["jane.doe+tag@gmail.com", "o'neil@gmail.com", "bücher@gmail.com"])
def test_ordinary_local_parts_pass(text):
    assert parse_query(text).address == text


def test_username_is_filled_in():
    match = find("Jane.Doe@free.fr")
    imap = match.provider.servers("imap")[0]
    assert match.username(imap) == "Jane.Doe"  # Free wants the local part
    gmail = find("jane@gmail.com")
    assert gmail.username(gmail.provider.servers("smtp")[0]) == "jane@gmail.com"


def test_idn_unicode_and_punycode_match_the_same_entry(tmp_path):
    (tmp_path / "buecher.toml").write_text(
        'id = "buecher"\nname = "Bücher Mail"\ndomains = ["bücher.example"]\n'
        '[[incoming]]\nprotocol = "imap"\nhost = "imap.bücher.example"\nport = 993\n'
        'socket = "ssl"\n'
    )
    for text in ("anna@bücher.example", "anna@xn--bcher-kva.example", "BÜCHER.example."):
        match = find(text, [tmp_path])
        assert match.provider is not None and match.provider.id == "buecher", text
    assert match.provider.incoming[0].host == "imap.xn--bcher-kva.example"


@pytest.mark.parametrize(
    "text", ["", "@", "a@", "@b.com", "a b@c.com", "x@bad_domain.com", "x@-a.com"]
)
def test_malformed_input(text):
    with pytest.raises(BadInput):
        parse_query(text)


def test_unknown_domain_offline():
    match = find("someone@unknown-domain.example")
    assert match.provider is None and not match.mx_checked


def test_broken_user_entry_is_named_and_others_load(tmp_path):
    (tmp_path / "good.toml").write_text(
        'id = "good"\nname = "Good"\ndomains = ["good.example"]\n[[incoming]]\n'
        'protocol = "imap"\nhost = "imap.good.example"\nport = 993\nsocket = "ssl"\n'
    )
    (tmp_path / "bad.toml").write_text(
        'id = "bad"\nname = "Bad"\ndomains = ["bad.example"]\n[[incoming]]\n'
        'protocol = "imap"\nhost = "imap.bad.example"\nport = 99999\nsocket = "ssl"\n'
    )
    (tmp_path / "syntax.toml").write_text("id = \n")
    database = load([tmp_path])
    assert "good" in database.providers and "bad" not in database.providers
    errors = {Path(e.source).name: e.field for e in database.errors}
    assert errors == {"bad.toml": "incoming[0].port", "syntax.toml": "(syntax)"}
    result = maildiag("lookup", "x@good.example", "--offline", "--providers-dir", str(tmp_path))
    assert result.returncode == 0
    assert "bad.toml: incoming[0].port" in result.stderr


def test_user_entry_overrides_shipped(tmp_path):
    (tmp_path / "gmail.toml").write_text(
        'id = "gmail"\nname = "Gmail (our proxy)"\ndomains = ["gmail.com"]\n[[incoming]]\n'
        'protocol = "imap"\nhost = "imap-proxy.corp.example"\nport = 993\nsocket = "ssl"\n'
    )
    assert find("a@gmail.com", [tmp_path]).provider.name == "Gmail (our proxy)"


def test_schema_errors_name_the_field():
    from diag.providers.schema import parse

    base = {
        "id": "x",
        "name": "X",
        "domains": ["x.example"],
        "incoming": [{"protocol": "imap", "host": "imap.x.example", "port": 993, "socket": "ssl"}],
    }
    cases = {
        "socket": ({"incoming": [{**base["incoming"][0], "socket": "tls"}]}, "incoming[0].socket"),
        "auth": ({"incoming": [{**base["incoming"][0], "auth": ["kerberos"]}]}, "incoming[0].auth"),
        "typo": ({"domain": ["x"]}, "domain"),
        "url": ({"help": ["http://x.example"]}, "help"),
        "id": ({"id": "Bad Id"}, "id"),
    }
    for name, (change, field) in cases.items():
        with pytest.raises(ProviderError) as info:
            parse({**base, **change}, "case.toml")
        assert info.value.field == field, name


# --- autoconfig XML --------------------------------------------------------------------------

CONFIG = b"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.net">
    <domain>example.net</domain>
    <domain>example.org</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="imap">
      <hostname>imap.example.net</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.net</hostname><port>110</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.net</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
    <enable visiturl="https://example.net/settings">
      <instruction>Turn on IMAP in the settings.</instruction>
    </enable>
    <documentation url="https://example.net/help"><descr>Help</descr></documentation>
  </emailProvider>
</clientConfig>
"""


def test_import_autoconfig():
    (provider,) = autoconfig.read(CONFIG, "config.xml")
    assert provider.domains == ("example.net", "example.org")
    imap, pop = provider.incoming
    assert (imap.host, imap.port, imap.socket, imap.username) == (
        "imap.example.net",
        993,
        "ssl",
        "localpart",
    )
    assert imap.auth == ("oauth2", "password")
    assert (pop.socket, pop.port) == ("starttls", 110)
    assert provider.outgoing[0].port == 587
    assert provider.enable["imap"] == "https://example.net/settings"  # the page, not its prose
    assert provider.help == ("https://example.net/help",)


def test_export_import_round_trip_of_every_shipped_entry():
    database = load(strict_shipped=True)
    for provider in database.providers.values():
        if not provider.domains or not provider.incoming:
            continue
        (back,) = autoconfig.read(autoconfig.write(provider).encode(), provider.id)
        assert back.domains == provider.domains
        assert [(s.protocol, s.host, s.port, s.socket, s.username) for s in back.incoming] == [
            (s.protocol, s.host, s.port, s.socket, s.username) for s in provider.incoming
        ]
        assert [(s.host, s.port, s.socket) for s in back.outgoing] == [
            (s.host, s.port, s.socket) for s in provider.outgoing
        ]
        assert {a for s in back.incoming for a in s.auth} <= {"password", "oauth2"}


def test_toml_round_trip(tmp_path):
    from diag.providers.tomlfile import dumps

    (provider,) = autoconfig.read(CONFIG, "config.xml")
    path = tmp_path / "x.toml"
    path.write_text(dumps(provider))
    again = read_entry(path)
    assert (again.domains, again.incoming, again.outgoing, again.enable) == (
        provider.domains,
        provider.incoming,
        provider.outgoing,
        provider.enable,
    )


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<clientConfig><emailProvider id="x"><displayName>&lol4;</displayName></emailProvider></clientConfig>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<clientConfig><emailProvider id="x"><displayName>&xxe;</displayName></emailProvider></clientConfig>
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "refused unsafe XML"),
        (EXTERNAL, "refused unsafe XML"),
        (b"<clientConfig>" + b"<x/>" * 300_000 + b"</clientConfig>", "larger than"),
        (b"<clientConfig><emailProvider>", "not well-formed"),
        (b"<html><body>hello</body></html>", "not a clientConfig"),
        (b"<clientConfig version='1.1'></clientConfig>", "no <emailProvider>"),
    ],
)
def test_hostile_xml_is_refused_quickly(data, message):
    start = time.monotonic()
    with pytest.raises(BadInput, match=message):
        autoconfig.read(data, "hostile.xml")
    assert time.monotonic() - start < 1


def test_cli_import_then_lookup_and_export(tmp_path):
    source = tmp_path / "ispdb"
    source.mkdir()
    (source / "example.net").write_bytes(CONFIG)  # ISPDB names files after the domain
    (source / "broken.xml").write_bytes(BOMB)
    target = tmp_path / "entries"
    result = maildiag("providers", "import", str(source), "--to", str(target))
    assert result.returncode == 1, result.stderr  # one imported, one refused
    assert "refused unsafe XML" in result.stderr
    found = maildiag(
        "lookup", "bob@example.org", "--no-mx", "--providers-dir", str(target), "--json"
    )
    data = json.loads(found.stdout)
    assert found.returncode == 0 and data["found"] and data["via"] == "domain"
    imap = data["provider"]["incoming"][0]
    assert imap["username_value"] == "bob" and imap["host"] == "imap.example.net"
    exported = maildiag("providers", "export", "gmail")
    assert exported.returncode == 0 and "<hostname>imap.gmail.com</hostname>" in exported.stdout
    listed = json.loads(maildiag("providers", "list", "--json").stdout)
    assert listed["schema"] == "maildiag.providers/1" and len(listed["providers"]) >= 40
    shown = maildiag("providers", "show", "nope")
    assert shown.returncode == 3 and "no provider with id" in shown.stderr


# --- MX matching against the lab's DNS server -------------------------------------------------


@pytest.mark.lab
@pytest.mark.parametrize(
    ("domain", "provider_id", "mx"),
    [
        ("workspace.lab.test", "google-workspace", "aspmx.l.google.com"),
        ("m365.lab.test", "microsoft365", "contoso-com.mail.protection.outlook.com"),
    ],
)
def test_lookup_by_mx(lab, domain, provider_id, mx):
    match = find(f"boss@{domain}", resolver=make_resolver(Nameserver(*DNS), 3))
    assert match.provider.id == provider_id and match.via == "mx" and match.mx_hosts == [mx]


@pytest.mark.lab
def test_lookup_unknown_mx_and_no_mx(lab):
    resolver = make_resolver(Nameserver(*DNS), 3)
    hosted = find("x@hosted.lab.test", resolver=resolver)
    assert hosted.provider is None and hosted.mx_hosts == ["mx.unknown-host.test"]
    assert find("x@nomx.lab.test", resolver=resolver).mx_hosts == []
    result = maildiag("lookup", "x@hosted.lab.test", "--nameserver", lab.nameserver)
    assert result.returncode == 1 and "mx.unknown-host.test" in result.stdout


def test_lookup_with_dead_dns_exits_3():
    result = maildiag(
        "lookup", "x@unknown.example", "--nameserver", "127.0.0.54:5399", "--timeout", "1"
    )
    assert result.returncode == 3 and "could not be looked up" in result.stdout
