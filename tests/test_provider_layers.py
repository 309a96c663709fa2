"""The layered provider database: precedence, provenance, MX across layers, disagreements,
hostile files in every layer, the prebuilt index, import into the default folder, and
tools/sync-providers against snapshot repositories made here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diag.providers import autoconfig, index
from diag.providers.compare import compare
from diag.providers.database import load, shipped_dir
from diag.providers.deltachat import FrontMatterError, front_matter
from diag.providers.lookup import lookup_offline, parse_query

ROOT = Path(__file__).resolve().parent.parent


def entry(provider_id: str, domains: list[str], host: str, *, mx: list[str] = (), extra="") -> str:
    return (
        f'id = "{provider_id}"\nname = "{provider_id}"\ndomains = {json.dumps(domains)}\n'
        f"mx = {json.dumps(list(mx))}\n{extra}\n"
        f'[[incoming]]\nprotocol = "imap"\nhost = "{host}"\nport = 993\nsocket = "ssl"\n'
    )


@pytest.fixture
def shipped(tmp_path):
    """A shipped folder of three layers, all claiming example.org, plus one domain each."""
    root = tmp_path / "providers"
    (root / "public" / "ispdb").mkdir(parents=True)
    (root / "public" / "deltachat").mkdir(parents=True)
    (root / "ex.toml").write_text(entry("ex", ["example.org", "cur.example"], "imap.cur.example"))
    (root / "public" / "ispdb" / "ispdb-ex.toml").write_text(
        entry("ispdb-ex", ["example.org", "isp.example"], "imap.isp.example")
        + '\n[origin]\nfile = "ispdb/example.org.xml"\ndate = "2025-01-02"\n'
    )
    (root / "public" / "deltachat" / "dc-ex.toml").write_text(
        entry("dc-ex", ["example.org", "dc.example"], "imap.cur.example")
        + '\n[origin]\nfile = "_providers/ex.md"\ndate = "2024-11"\nstatus = "preparation"\n'
    )
    return root


def find(root: Path, text: str, user: list[Path] | None = None):
    database = load(user or [], root=root)
    return lookup_offline(parse_query(text), database), database


def test_lookup_through_every_layer_of_the_shipped_data(tmp_path):
    database = load()
    layers = {
        d: lookup_offline(parse_query(d), database).provider.layer
        for d in ("gmail.com", "126.com", "systemli.org", "hotmail.nl")
    }
    assert layers == {
        "gmail.com": "curated",
        "126.com": "ispdb",
        "systemli.org": "deltachat",
        "hotmail.nl": "ispdb",
    }
    user = tmp_path / "mine"
    user.mkdir()
    (user / "corp.toml").write_text(entry("corp", ["corp.example"], "imap.corp.example"))
    assert lookup_offline(parse_query("a@corp.example"), load([user])).provider.layer == "user"


def test_override_order(shipped, tmp_path):
    match, _ = find(shipped, "a@example.org")
    assert (match.provider.id, match.provider.layer) == ("ex", "curated")
    (shipped / "ex.toml").unlink()
    match, _ = find(shipped, "a@example.org")
    assert match.provider.id == "ispdb-ex"
    (shipped / "public" / "ispdb" / "ispdb-ex.toml").unlink()
    match, _ = find(shipped, "a@example.org")
    assert match.provider.id == "dc-ex"
    # the user's folders beat every shipped layer; later folders beat earlier ones,
    # and the default folder ($XDG_CONFIG_HOME/maildiag/providers) is read first
    default = Path(os.environ["XDG_CONFIG_HOME"]) / "maildiag" / "providers"
    default.mkdir(parents=True)
    (default / "a.toml").write_text(entry("mine", ["example.org"], "imap.default.example"))
    match, _ = find(shipped, "a@example.org")
    assert (match.provider.id, match.provider.layer) == ("mine", "user")
    later = tmp_path / "later"
    later.mkdir()
    (later / "b.toml").write_text(entry("theirs", ["example.org"], "imap.later.example"))
    match, _ = find(shipped, "a@example.org", [later])
    assert match.provider.id == "theirs"
    # a user entry with a shipped id replaces that entry everywhere
    (later / "b.toml").write_text(entry("dc-ex", ["other.example"], "imap.x.example"))
    match, database = find(shipped, "a@dc.example", [later])
    assert match.provider is None
    assert database.get("dc-ex").layer == "user"


def test_every_answer_says_layer_file_and_age(shipped):
    match, _ = find(shipped, "a@isp.example")
    assert match.provider.display_source() == "ispdb/example.org.xml"
    assert match.provider.checked == "" and match.provider.origin.date == "2025-01-02"
    out = subprocess.run(
        [sys.executable, "-m", "diag", "lookup", "--no-mx", "--json", "a@gmail.com"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(out.stdout)
    assert data["provenance"]["layer"] == "curated"
    assert data["provenance"]["file"] == "providers/gmail.toml"
    assert data["provenance"]["checked"] and data["provenance"]["age_days"] >= 0
    gmail = subprocess.run(
        [sys.executable, "-m", "diag", "lookup", "--no-mx", "--lang", "en", "a@126.com"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Thunderbird ISPDB, ispdb/126.com.xml" in gmail.stdout
    assert "days ago" in gmail.stdout


def test_mx_matching_across_layers(shipped, tmp_path):
    (shipped / "public" / "ispdb" / "ispdb-mxbase.toml").write_text(
        entry("ispdb-mxbase", ["mxbase.example"], "imap.mxbase.example")
    )
    (shipped / "public" / "deltachat" / "dc-mxhost.toml").write_text(
        entry("dc-mxhost", ["mail.mxhost.example"], "imap.mxhost.example")
    )
    (shipped / "pat.toml").write_text(
        entry("pat", [], "imap.pat.example", mx=["*.pattern.mxbase.example"])
    )
    database = load(root=shipped)
    # the ISPDB lists MX base domains as <domain>: mx3.mail.mxbase.example -> mxbase.example
    found = database.by_mx_host("mx3.mail.mxbase.example")
    assert (found.provider.id, found.how) == ("ispdb-mxbase", "name mxbase.example")
    # Thunderbird also tries the MX host minus its first label
    found = database.by_mx_host("in1.mail.mxhost.example.")
    assert (found.provider.id, found.how) == ("dc-mxhost", "name mail.mxhost.example")
    # an explicit MX pattern (any layer) comes before the derived names
    found = database.by_mx_host("a.pattern.mxbase.example")
    assert (found.provider.id, found.how) == ("pat", "pattern *.pattern.mxbase.example")
    user = tmp_path / "u"
    user.mkdir()
    (user / "u.toml").write_text(entry("u", [], "imap.u.example", mx=["*.pattern.mxbase.example"]))
    assert load([user], root=shipped).by_mx("a.pattern.mxbase.example").id == "u"
    # the shipped data: Microsoft's DNSSEC MX form, and iCloud+ custom domains
    real = load()
    assert real.by_mx("contoso-com.a1b2.mx.microsoft").id == "microsoft365"
    icloud = real.by_mx("mx01.mail.icloud.com")
    assert icloud.id == "icloud-custom-domain"
    assert icloud.incoming[0].username_for("me@custom.example") is None
    assert icloud.requires.provider_login


def test_disagreements_are_reported(shipped):
    database = load(root=shipped)
    curated = database.get("ex")
    results = {o.id: compare(curated, o) for o in database.rivals(curated)}
    assert results["dc-ex"].result == "confirms"
    assert results["ispdb-ex"].result == "contradicts"
    assert "imap.isp.example" in results["ispdb-ex"].differences[0]
    env = {**os.environ, "MAILDIAG_PROVIDERS_DIR": ""}
    shown = subprocess.run(
        [sys.executable, "-m", "diag", "providers", "show", "--json", "laposte"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    data = json.loads(shown.stdout)
    assert {c["id"]: c["result"] for c in data["comparisons"]} == {"ispdb-laposte-net": "confirms"}
    assert data["provider"]["checks"][0]["source"] == "ispdb/laposte.net.xml"
    zoho = subprocess.run(
        [sys.executable, "-m", "diag", "providers", "show", "zoho-workplace-eu"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Other layers for the same domains" in zoho.stdout
    assert "ispdb-zoho-eu" in zoho.stdout and "contradicts" in zoho.stdout


def test_awaiting_entries_say_which_source_confirms_or_contradicts():
    database = load()
    for provider_id in ("sfr", "laposte", "bouygues", "gandi", "o2switch", "netease-163"):
        provider = database.get(provider_id)
        assert provider.checks, provider_id
        assert all(
            c.result in ("confirms", "contradicts", "partial", "absent") for c in provider.checks
        )


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><clientConfig>&b;</clientConfig>'
)


def test_hostile_files_in_every_layer(shipped, tmp_path):
    (shipped / "bad.toml").write_text('id = "bad"\nname = [')  # TOML syntax
    (shipped / "public" / "ispdb" / "ispdb-bad.toml").write_bytes(b"\xff\xfe not utf-8")
    (shipped / "public" / "deltachat" / "dc-bad.toml").write_text('id = "dc-bad"\n')  # schema
    user = tmp_path / "user"
    user.mkdir()
    (user / "bomb.xml").write_bytes(BOMB)
    (user / "broken.xml").write_bytes(b"<clientConfig><emailProvider>")
    (user / "fifo.toml").unlink(missing_ok=True)
    os.mkfifo(user / "fifo.toml")  # a read that would block forever
    (user / "huge.toml").write_bytes(b"#" * (300 * 1024))
    (user / "ok.toml").write_text(entry("ok", ["ok.example"], "imap.ok.example"))
    database = load([user], root=shipped)
    named = " ".join(str(e) for e in database.errors)
    for name in ("bad.toml", "ispdb-bad.toml", "dc-bad.toml", "bomb.xml", "broken.xml"):
        assert name in named, name
    assert "fifo.toml" in named and "not a regular file" in named
    assert "huge.toml" in named and "larger than" in named
    assert "refused unsafe XML" in named
    assert lookup_offline(parse_query("a@ok.example"), database).provider.id == "ok"
    assert lookup_offline(parse_query("a@example.org"), database).provider.id == "ex"
    # with a prebuilt index the broken shipped file is found when it is needed, and named
    index.write(shipped)
    (shipped / "public" / "ispdb" / "ispdb-ex.toml").write_text("id = ")
    later = load(root=shipped)  # fingerprint differs (size changed): rebuilt, error named
    assert any("ispdb-ex.toml" in str(e) for e in later.errors)
    assert lookup_offline(parse_query("a@isp.example"), later).provider is None
    assert lookup_offline(parse_query("a@cur.example"), later).provider.id == "ex"


@pytest.mark.parametrize(
    "text, message",
    [
        ("no front matter", "no front matter"),
        ("---\nname: x\n", "never closed"),
        ("---\nname: &a x\n---\n", "unsupported YAML"),
        ("---\nname: !!python/object x\n---\n", "unsupported YAML"),
        ("---\ndomains: [a, b]\n---\n", "unsupported YAML"),
        ("---\nname: x\n\tdomains: y\n---\n", "tab"),
        ('---\nname: "x\n---\n', "unterminated"),
        ("---\nname: x\nname: y\n---\n", "duplicate key"),
        ("---\n   - a\n  b: c\n---\n", "line"),
    ],
)
def test_bad_yaml_is_refused_with_the_file_name(text, message):
    with pytest.raises(FrontMatterError) as info:
        front_matter(text, "_providers/evil.md")
    assert "_providers/evil.md" in str(info.value) and message in str(info.value)


def test_front_matter_of_the_fixed_shape():
    meta = front_matter(
        "---\nname: Ex\nstatus: OK\ndomains:\n  - a.example\n  - 'b.example'\n"
        "server:\n  - type: imap\n    socket: SSL\n    hostname: imap.a.example\n    port: 993\n"
        "before_login_hint: |\n  prose that is skipped\n  on two lines\n"
        "opt:\n  strict_tls: true\nlast_checked: 2024-11\n---\nbody\n",
        "x.md",
    )
    assert meta["domains"] == ["a.example", "b.example"]
    assert meta["server"][0] == {
        "type": "imap",
        "socket": "SSL",
        "hostname": "imap.a.example",
        "port": "993",
    }
    assert meta["opt"] == {"strict_tls": "true"} and meta["last_checked"] == "2024-11"


def test_index_is_in_step_with_the_data():
    root = shipped_dir()
    shipped_index = index.load_index(root)
    assert shipped_index is not None, (
        "providers/index.json is stale: python -m diag.providers.index"
    )
    built, errors = index.build(root)
    assert not errors
    assert shipped_index == built


def test_every_public_entry_round_trips_through_autoconfig():
    database = load(strict_shipped=True)
    public = [
        p for p in database.providers.values() if p.layer in ("ispdb", "deltachat") and p.incoming
    ]
    assert len(public) > 200
    for provider in public:
        (back,) = autoconfig.read(autoconfig.write(provider).encode(), provider.id)
        assert back.domains == provider.domains, provider.id
        assert [(s.protocol, s.host, s.port, s.socket, s.username) for s in back.incoming] == [
            (s.protocol, s.host, s.port, s.socket, s.username) for s in provider.incoming
        ], provider.id
        assert back.requires.oauth2 == provider.requires.oauth2, provider.id


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diag", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


GMAIL_XML = b"""<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="googlemail.com">
<domain>gmail.com</domain><domain>googlemail.com</domain><displayName>Google Mail</displayName>
<incomingServer type="imap"><hostname>imap.proxy.example</hostname><port>993</port>
<socketType>SSL</socketType><username>%EMAILADDRESS%</username>
<authentication>OAuth2</authentication></incomingServer>
</emailProvider></clientConfig>"""


def test_import_goes_to_the_folder_the_loader_reads(tmp_path):
    source = tmp_path / "googlemail.com"
    source.write_bytes(GMAIL_XML)
    first = run("providers", "import", str(source))
    assert first.returncode == 0, first.stderr
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "maildiag" / "providers"
    assert (folder / "gmail.toml").exists()  # mapped onto the entry answering for gmail.com
    assert "replaces curated entry gmail" in first.stderr
    found = run("lookup", "--no-mx", "--json", "a@gmail.com")
    data = json.loads(found.stdout)
    assert data["provider"]["incoming"][0]["host"] == "imap.proxy.example"
    assert data["provenance"]["layer"] == "user"
    again = run("providers", "import", str(source))  # never overwrites silently
    assert again.returncode == 3 and "not overwritten" in again.stderr
    forced = run("providers", "import", "--force", str(source))
    assert forced.returncode == 0
    new = tmp_path / "new.xml"
    new.write_bytes(
        GMAIL_XML.replace(b"<domain>gmail.com</domain><domain>googlemail.com</domain>", b"")
        .replace(b"googlemail.com", b"brandnew.example")
        .replace(b"<displayName>", b"<domain>brandnew.example</domain><displayName>")
    )
    kept = run("providers", "import", str(new))
    assert kept.returncode == 0, kept.stderr
    assert (folder / "brandnew-example.toml").exists()  # nothing covers it: the source's id


SYNC = ROOT / "tools" / "sync-providers"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
            "GIT_AUTHOR_DATE": "2025-06-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2025-06-01T00:00:00Z",
        },
    )


def snapshot(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "snapshot")
    return path / ".git"


DC_PAGE = b"""---
name: Example Chat Mail
status: PREPARATION
domains:
  - chat.example
server:
  - type: imap
    socket: SSL
    hostname: imap.chat.example
    port: 993
  - type: smtp
    socket: STARTTLS
    hostname: smtp.chat.example
    port: 587
    username_pattern: EMAILLOCALPART
before_login_hint: |
  Some prose that must not be copied.
last_checked: 2024-05
---
More prose that must not be copied.
"""


def test_sync_tool_from_snapshots(tmp_path):
    ispdb = snapshot(
        tmp_path / "autoconfig",
        {
            "ispdb/googlemail.com.xml": GMAIL_XML.replace(
                b"</emailProvider>",
                b"<enable visiturl='https://x.example/on'><instruction>Prose here</instruction>"
                b"</enable><oAuth2><issuer>accounts.example</issuer><scope>a b</scope></oAuth2>"
                b"</emailProvider>",
            ),
            "ispdb/bomb.example.xml": BOMB,
            "ispdb/broken.example.xml": b"<clientConfig>",
        },
    )
    dc = snapshot(
        tmp_path / "provider-db",
        {"_providers/chat.md": DC_PAGE, "_providers/evil.md": b"---\nname: &x y\n---\n"},
    )
    out = tmp_path / "providers" / "public"
    out.mkdir(parents=True)
    cmd = [sys.executable, str(SYNC), "--ispdb", str(ispdb), "--deltachat", str(dc)]
    first = subprocess.run(
        [*cmd, "--out", str(out), "--date", "2026-01-01"], capture_output=True, text=True
    )
    assert first.returncode == 1  # some refused, each named; the others written
    assert "ispdb/bomb.example.xml" in first.stderr and "unsafe XML" in first.stderr
    assert "ispdb/broken.example.xml" in first.stderr and "_providers/evil.md" in first.stderr
    assert "added   ispdb/ispdb-googlemail-com" in first.stdout
    assert "added   deltachat/dc-chat" in first.stdout
    written = (out / "deltachat" / "dc-chat.toml").read_text()
    google = (out / "ispdb" / "ispdb-googlemail-com.toml").read_text()
    for text in (written, google):
        assert "prose" not in text.lower() and "Mozilla Public" in text
    assert 'date = "2024-05"' in written and 'status = "preparation"' in written
    assert 'username = "localpart"' in written
    assert 'file = "ispdb/googlemail.com.xml"' in google and 'date = "2025-06-01"' in google
    assert 'oauth2_issuer = "accounts.example"' in google
    assert 'imap = "https://x.example/on"' in google
    readme = (out / "README.md").read_text()
    assert "MPL" in readme and "2026-01-01" in readme and "deltachat/provider-db" in readme
    assert (out.parent / "index.json").exists()
    database = load(root=out.parent, default_user=False)
    assert database.by_domain("chat.example").layer == "deltachat"
    # a second sync prints what changed
    (tmp_path / "provider-db" / "_providers" / "chat.md").write_bytes(
        DC_PAGE.replace(b"  - chat.example\n", b"  - chat.example\n  - chat2.example\n")
    )
    git(tmp_path / "provider-db", "commit", "-qam", "more")
    second = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True)
    assert "changed deltachat/dc-chat: +domains chat2.example" in second.stdout
    assert "googlemail" not in second.stdout  # unchanged entries are not listed


VERIFY_ENTRIES = {
    "good": [("imap", "mail.lab.test", 993, "ssl"), ("smtp", "mail.lab.test", 587, "starttls")],
    "wrongport": [("imap", "mail.lab.test", 1993, "ssl")],
    "wrongsec": [("imap", "mail.lab.test", 143, "ssl"), ("pop3", "mail.lab.test", 995, "starttls")],
    "wrongname": [("imap", "wrongname.lab.test", 993, "ssl")],
    "gone": [("imap", "gone.lab.test", 993, "ssl")],
}


@pytest.mark.lab
def test_providers_verify_against_the_lab(lab, tmp_path):
    folder = tmp_path / "lab-entries"
    folder.mkdir()
    for provider_id, servers in VERIFY_ENTRIES.items():
        lines = [f'id = "{provider_id}"', f'name = "{provider_id}"', "domains = []"]
        lines.append(f'mx = ["{provider_id}.mx.lab.test"]')
        for protocol, host, port, socket in servers:
            table = "outgoing" if protocol == "smtp" else "incoming"
            lines += [
                f"[[{table}]]",
                f'protocol = "{protocol}"',
                f'host = "{host}"',
                f"port = {port}",
                f'socket = "{socket}"',
            ]
        (folder / f"{provider_id}.toml").write_text("\n".join(lines) + "\n")
    args = ["providers", "verify", *VERIFY_ENTRIES, "--providers-dir", str(folder)]
    args += ["--nameserver", lab.nameserver, "--ca-file", str(lab.pki.root_file)]
    args += ["--timeout", "3", "--per-provider", "1", "--concurrency", "4"]
    done = run(*args, "--json")
    assert done.returncode == 1, done.stderr  # some servers are not as described
    data = json.loads(done.stdout)
    verdicts = {(s["provider_id"], s["port"]): s["status"] for s in data["servers"]}
    assert verdicts == {
        ("good", 993): "ok",
        ("good", 587): "ok",
        ("wrongport", 1993): "no_answer",
        ("wrongsec", 143): "wrong_security",
        ("wrongsec", 995): "wrong_security",
        ("wrongname", 993): "wrong_name",
        ("gone", 993): "no_such_host",
    }
    assert data["stale"] == 5
    details = {(s["provider_id"], s["port"]): s["detail"] for s in data["servers"]}
    assert "speaks STARTTLS" in details[("wrongsec", 143)]
    assert "speaks implicit TLS" in details[("wrongsec", 995)]
    assert "mail.other.test" in details[("wrongname", 993)]
    table = run(*args, env={"COLUMNS": "250"})
    assert "port does not answer" in table.stdout and "wrong security" in table.stdout
    assert "certificate does not name the host" in table.stdout
    only_good = run("providers", "verify", "good", *args[len(VERIFY_ENTRIES) + 2 :])
    assert only_good.returncode == 0, only_good.stdout


def test_verify_is_polite_and_bounded():
    """At most --per-provider connections to one provider, --concurrency in all (scripted
    listeners on this helper's loopback range; no timing is asserted)."""
    import asyncio

    from diag.net.dns import make_resolver
    from diag.probe import ProbeOptions, trust_store_loader
    from diag.providers.schema import Provider, Server
    from diag.providers.verify import VerifyOptions, verify

    peak: dict[str, int] = {}
    now: dict[str, int] = {}

    async def scenario():
        async def handler(reader, writer):
            ip = writer.get_extra_info("sockname")[0]
            now[ip] = now.get(ip, 0) + 1
            peak[ip] = max(peak.get(ip, 0), now[ip])
            await asyncio.sleep(0.05)
            writer.write(b"* BYE not today\r\n")  # a refusal: no usable greeting
            await writer.drain()
            writer.close()
            now[ip] -= 1

        ports = range(20143, 20147)
        servers = [
            await asyncio.start_server(handler, ip, port)
            for ip in ("127.0.7.1", "127.0.7.2")
            for port in ports
        ]
        providers = [
            Provider(
                id=f"p{n}",
                name=f"p{n}",
                domains=(),
                incoming=tuple(Server("imap", f"127.0.7.{n}", p, "starttls") for p in ports),
                outgoing=(),
            )
            for n in (1, 2)
        ]
        options = VerifyOptions(ProbeOptions(timeout=2, legacy_tls=False), 2, 1)
        try:
            return await verify(
                providers, options, make_resolver(None, 2), trust_store_loader(None)
            )
        finally:
            for server in servers:
                server.close()

    checks = asyncio.run(scenario())
    assert len(checks) == 8 and all(c.status == "no_greeting" for c in checks)
    assert peak == {"127.0.7.1": 1, "127.0.7.2": 1}


def test_offline_lookup_loads_no_network_machinery():
    """`lookup --no-mx` answers from the index: no dnspython, asyncio, probe or TOML
    parsing of the whole database (only the entries that name the domain)."""
    code = (
        "import sys, tomllib\ncount = [0]\nreal = tomllib.loads\n"
        "def counting(*a, **k):\n    count[0] += 1\n    return real(*a, **k)\n"
        "tomllib.loads = counting\nfrom diag.cli import main\n"
        "main(['lookup', '--no-mx', 'a@hotmail.nl'])\n"
        "heavy = [m for m in ('asyncio', 'dns.resolver', 'diag.probe', 'cryptography')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy) + ' PARSED=' + str(count[0]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    last = result.stdout.strip().splitlines()[-1]
    heavy, parsed = last.split(" ")
    assert heavy == "HEAVY="
    assert int(parsed.removeprefix("PARSED=")) <= 3  # the answer and its rivals
