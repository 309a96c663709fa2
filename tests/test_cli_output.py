"""The installed `maildiag` command against hostile servers, files and file names, and
at the command line's own edges: closed pipes, latin-1 terminals, JSON errors, -h/-V.

Scripted servers listen on 127.0.8.1-99 (this suite's loopback range).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.clirun import assert_invariants
from tests.hostile_text import RAW, SGR
from tests.lab.scripted import ScriptedServers

MAILDIAG = str(Path(sys.executable).with_name("maildiag"))  # the installed entry point
SMTP_HOSTILE = "127.0.8.1"
IMAPS_HOSTILE = "127.0.8.2"
SMTP_CHINESE = "127.0.8.3"

GREETING = "220 mail\x1b]0;pwned\x07 ESMTP [link=http://evil.example/]x[/link] \x9b31m\r\n"
EHLO = (
    "250-mail.example.test [reverse]\r\n"
    "250-AUTH PLAIN\x1b[2J [/x]\r\n"
    "250-X-EVIL \u202eevil\u202c \x00hidden\r\n"
    "250 HELP\r\n"
)
CN = "mail\x1b]0;pwned\x07\nOK fake line [reverse]"
SANS = ["[link=http://evil.example/]x[/link]", "good.example\x00.evil"]


def maildiag(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed command; check the invariants every run must keep."""
    result = subprocess.run(
        [MAILDIAG, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
    )
    for marker in ("Traceback", "internal error", "Exception ignored"):
        assert marker not in result.stderr, result.stderr
    assert 0 <= result.returncode <= 3, (result.returncode, result.stderr)
    assert_invariants(args, result)
    return result


def visible(text: str) -> str:
    return SGR.sub("", text)


def squash(text: str) -> str:
    """The text without spaces and line ends (a terminal wraps long lines)."""
    return "".join(text.split())


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def smtp(greeting: str, ehlo: str) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError):
            writer.write(greeting.encode("utf-8"))
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(ehlo.encode("utf-8"))
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"502 no\r\n")
                await writer.drain()
        writer.close()

    return handler


async def imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError, ssl.SSLError):
        writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
        while line := await reader.readline():
            tag, _, command = line.decode(errors="replace").strip().partition(" ")
            if command.upper() == "CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
            elif command.upper() == "LOGOUT":
                writer.write(b"* BYE\r\n")
            writer.write(tag.encode() + b" OK done\r\n")
            await writer.drain()
    writer.close()


def hostile_tls(directory: Path) -> ssl.SSLContext:
    """A self-signed certificate whose CN and SANs hold escapes, newlines and markup."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in SANS]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    servers = ScriptedServers()
    try:
        servers.serve(SMTP_HOSTILE, 25, smtp(GREETING, EHLO))
        servers.serve(SMTP_CHINESE, 25, smtp("220 邮件服务器 准备好了 ready\r\n", "250 OK\r\n"))
        servers.serve(IMAPS_HOSTILE, 993, imap, hostile_tls(tmp_path_factory.mktemp("pki")))
        yield servers
    finally:
        servers.stop()


PROBE = ("--timeout", "3", "--no-legacy-tls")


@pytest.mark.parametrize("env", [{"FORCE_COLOR": "1"}, {}], ids=["terminal", "plain"])
def test_greeting_and_ehlo_are_shown_escaped(hostile, env):
    result = maildiag("probe", SMTP_HOSTILE, "-p", "25", *PROBE, env=env)
    out = visible(result.stdout)
    assert not RAW.search(out), out
    assert "\x1b]" not in result.stdout and "\x1b[2J" not in result.stdout
    assert "mail\\x1b]" in out  # the greeting, escaped where it is shown
    assert "PLAIN\\x1b[2J[/x]X-EVIL\\u202eevil\\u202c\\x00hidden" in squash(out)  # EHLO
    data = json.loads(maildiag("probe", SMTP_HOSTILE, "-p", "25", *PROBE, "--json").stdout)
    service = data["services"][0]
    assert service["greeting"]["text"].startswith("mail\x1b]0;pwned\x07")  # exact data
    capabilities = " ".join(service["before_tls"]["capabilities"])
    assert "\u202e" in capabilities and "[/x]" in capabilities


@pytest.mark.parametrize("env", [{"FORCE_COLOR": "1"}, {}], ids=["terminal", "plain"])
def test_certificate_names_are_shown_escaped(hostile, env):
    result = maildiag("probe", IMAPS_HOSTILE, "-p", "993", *PROBE, env=env)
    out = visible(result.stdout)
    assert not RAW.search(out), out
    assert "\\x0aOK fake line [reverse]" in out  # newline in the CN: no forged line
    assert not any(line.startswith("OK fake line") for line in out.splitlines())
    assert "[link=http://evil.example/]x[/link]" in out  # markup shown as typed
    assert "\x1b]8;" not in result.stdout  # ... never a hyperlink
    assert "good.example\\x00.evil" in out  # NUL does not hide the rest of the SAN
    data = json.loads(maildiag("probe", IMAPS_HOSTILE, "-p", "993", *PROBE, "--json").stdout)
    leaf = data["services"][0]["tls"]["chain"][0]
    assert leaf["common_name"] == CN and leaf["dns_names"] == SANS


def test_latin1_stdout_with_a_chinese_banner(hostile):
    env = {"PYTHONIOENCODING": "latin-1"}
    result = maildiag("probe", SMTP_CHINESE, "-p", "25", *PROBE, env=env)
    assert "\\u90ae" in result.stdout  # 邮, escaped for a terminal that cannot show it
    as_json = maildiag("probe", SMTP_CHINESE, "-p", "25", *PROBE, "--json", env=env)
    data = json.loads(as_json.stdout)
    assert data["services"][0]["greeting"]["text"].startswith("邮件服务器")
    assert data["exit_code"] == as_json.returncode


def closed_pipe(*args: str) -> tuple[int, str]:
    """Run with stdout's reader gone before anything is written."""
    process = subprocess.Popen(
        [MAILDIAG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read()
    return process.wait(60), stderr


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_closed_pipe_keeps_the_exit_code_and_stderr_quiet(hostile, json_flag):
    args = ["probe", IMAPS_HOSTILE, "-p", "993", *PROBE, *json_flag]
    expected = maildiag(*args).returncode
    assert expected == 2  # self-signed: an error verdict
    code, stderr = closed_pipe(*args)
    assert (code, stderr) == (expected, "")
    for other in (["providers", "list", *json_flag], ["providers", "show", "gmail", *json_flag]):
        assert closed_pipe(*other) == (0, "")


def test_json_pipe_closed_after_100_bytes():
    shell = f"{MAILDIAG} providers list --json | head -c 100 >/dev/null; echo $PIPESTATUS"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "0" and result.stderr == ""


def provider_toml(**fields: str) -> str:
    values = {"id": "hostile", "name": "Hostile Mail", "notes": "", "limit": "", **fields}
    return (
        f'id = "{values["id"]}"\nname = "{values["name"]}"\ndomains = ["hostile.example"]\n'
        f'limits = ["{values["limit"]}"]\n\n[[incoming]]\nprotocol = "imap"\n'
        f'host = "imap.hostile.example"\nport = 993\nsocket = "ssl"\n'
        f'notes = "{values["notes"]}"\n'
    )


# TOML escapes: the file itself is valid, its strings hold ESC, C1, bidi and markup.
HOSTILE_TOML = provider_toml(
    name="Evil\\u001b]0;pwned\\u0007 [link=http://evil.example/]x[/link] \\u009b31m",
    notes="\\u202eevil\\u202c [reverse]r [/x]",
    limit="line one\\nOK fake line",
)


@pytest.mark.parametrize("env", [{"FORCE_COLOR": "1"}, {}], ids=["terminal", "plain"])
def test_provider_file_text_is_shown_escaped(tmp_path, env):
    (tmp_path / "hostile.toml").write_text(HOSTILE_TOML)
    folder = ("--providers-dir", str(tmp_path))
    for args in (
        ["providers", "show", "hostile"],
        ["providers", "list"],
        ["lookup", "jane@hostile.example", "--offline"],
    ):
        result = maildiag(*args, *folder, env=env)
        assert result.returncode == 0, result.stderr
        out = visible(result.stdout)
        assert not RAW.search(out), (args, out)
        assert "\x1b]8;" not in result.stdout
    shown = visible(maildiag("providers", "show", "hostile", *folder, env=env).stdout)
    assert "Evil\\x1b]0;pwned\\x07 [link=http://evil.example/]x[/link] \\x9b31m" in shown
    assert "\\u202eevil\\u202c [reverse]r [/x]" in shown
    assert "line one\\x0aOK fake line" in shown
    data = json.loads(maildiag("providers", "show", "hostile", *folder, "--json").stdout)
    assert data["provider"]["name"].startswith("Evil\x1b]0;pwned\x07")
    assert "\\u009b" in maildiag("providers", "show", "hostile", *folder, "--json").stdout


def test_file_names_are_shown_escaped(tmp_path):
    entries = tmp_path / "entries"
    entries.mkdir()
    (entries / "evil\x1b]0;pwned\x07.toml").write_text("not = [toml")
    result = maildiag("providers", "list", "--providers-dir", str(entries))
    assert result.returncode == 0
    assert "evil\\x1b]0;pwned\\x07.toml" in result.stderr and "\x1b" not in result.stderr
    xml = tmp_path / "ispdb"
    xml.mkdir()
    (xml / "bad\x1b[2J\u202e.xml").write_text("<clientConfig/>")
    result = maildiag("providers", "import", str(xml), "--to", str(tmp_path / "out"))
    assert result.returncode == 3
    assert "bad\\x1b[2J\\u202e.xml" in result.stderr and "\x1b" not in result.stderr


def test_deeply_nested_toml_is_a_one_line_warning(tmp_path):
    (tmp_path / "deep.toml").write_text("id = " + "[" * 120_000 + "]" * 120_000 + "\n")
    result = maildiag("providers", "list", "--providers-dir", str(tmp_path))
    assert result.returncode == 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nested deeper than" in lines[0]


def test_imported_long_id_and_control_name_read_back(tmp_path):
    long_id = "a" * 300
    name = "Evil\x7f \u202eName\u202c"
    (tmp_path / "config.xml").write_text(
        f'<clientConfig version="1.1"><emailProvider id="{long_id}">'
        f"<domain>long.example</domain><displayName>{name}</displayName>"
        '<incomingServer type="imap"><hostname>imap.long.example</hostname><port>993</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
        "</emailProvider></clientConfig>",
        encoding="utf-8",
    )
    out = tmp_path / "entries"
    result = maildiag("providers", "import", str(tmp_path / "config.xml"), "--to", str(out))
    assert result.returncode == 0, result.stderr
    assert "\x7f" not in result.stderr and "\\x7f" in result.stderr
    shown = maildiag("providers", "show", long_id, "--providers-dir", str(out), "--json")
    assert shown.returncode == 0 and "skipped" not in shown.stderr, shown.stderr
    assert json.loads(shown.stdout)["provider"]["name"] == name


def test_export_to_a_missing_folder_is_a_one_line_error(tmp_path):
    target = tmp_path / "missing" / "config.xml"
    result = maildiag("providers", "export", "gmail", "-o", str(target))
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "No such file or directory" in result.stderr


def test_check_export_to_a_missing_folder_fails_before_the_network(tmp_path):
    target = tmp_path / "missing" / "config.xml"
    dead = ("--nameserver", "127.0.8.99:53", "--timeout", "5")  # nothing answers there
    args = ("check", "jane@example.test", "--export", "thunderbird", "-o", str(target))
    result = maildiag(*args, *dead)
    assert result.returncode == 3
    assert "does not exist" in result.stderr and "DNS" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["probe", "bad host!", "--json"],
        ["probe", "x.example", "--timeout", "0", "--json"],
        ["probe", "x.example", "--bogus", "--json"],
        ["lookup", "not an address", "--json"],
        ["providers", "show", "nonexistent", "--json"],
    ],
)
def test_json_bad_input_is_a_json_error_object(args):
    result = maildiag(*args)
    assert result.returncode == 3
    data = json.loads(result.stdout)
    assert data["schema"] == "maildiag.error/1"
    assert data["error"]["exit_code"] == 3 == data["exit_code"]
    assert data["error"]["message"]
    assert result.stderr.strip()  # the human line stays on stderr


def test_help_version_and_completion():
    for args in ([], ["-h"], ["--help"], ["providers"], ["probe", "-h"]):
        result = maildiag(*args)
        assert result.returncode == 0, args
        assert result.stdout.startswith("Usage: maildiag"), args
    assert maildiag("-V").stdout.startswith("maildiag ")
    assert maildiag("--version").stdout == maildiag("-V").stdout
    assert "--install-completion" in maildiag("--help").stdout
    completion = subprocess.run(  # from bash, as a user would: the shell is detected
        ["bash", "-c", f"{MAILDIAG} --show-completion; exit $?"], capture_output=True, text=True
    )
    assert completion.returncode == 0 and "_maildiag_completion" in completion.stdout


IMAP_HOSTILE = "127.0.8.4"
POP3_HOSTILE = "127.0.8.5"
IMAP_GREETING = "* OK \x1b]0;pwned\x07imap [reverse]ready\x9b31m [/x]\r\n"
POP3_GREETING = "+OK pop\x1b]0;pwned\x07 [link=http://evil.example/]x[/link] \u202eevil\r\n"


async def imap_plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Port 143 without STARTTLS; the greeting and capabilities carry escapes and markup."""
    with suppress(ConnectionError):
        writer.write(IMAP_GREETING.encode())
        while line := await reader.readline():
            tag, _, command = line.decode(errors="replace").strip().partition(" ")
            if command.upper() == "CAPABILITY":
                writer.write("* CAPABILITY IMAP4rev1 X-\x1b[2J \u202eevil [/x]\r\n".encode())
            writer.write(tag.encode() + b" OK done\r\n")
            await writer.drain()
    writer.close()


async def pop3_plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError):
        writer.write(POP3_GREETING.encode())
        while line := await reader.readline():
            verb = line.strip().upper()
            if verb == b"CAPA":
                writer.write(b"+OK\r\nUSER\r\nX-\x1b[2J [/x]\x00\r\n.\r\n")
            elif verb == b"QUIT":
                writer.write(b"+OK bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"-ERR no\r\n")
            await writer.drain()
    writer.close()


@pytest.fixture(scope="module")
def plain_hostile():
    servers = ScriptedServers()
    try:
        servers.serve(IMAP_HOSTILE, 143, imap_plain)
        servers.serve(POP3_HOSTILE, 110, pop3_plain)
        yield servers
    finally:
        servers.stop()


@pytest.mark.parametrize(
    ("address", "port", "greeting"),
    [(IMAP_HOSTILE, "143", IMAP_GREETING), (POP3_HOSTILE, "110", POP3_GREETING)],
    ids=["imap", "pop3"],
)
@pytest.mark.parametrize("env", [{"FORCE_COLOR": "1"}, {}], ids=["terminal", "plain"])
def test_imap_and_pop3_greetings_are_shown_escaped(plain_hostile, env, address, port, greeting):
    result = maildiag("probe", address, "-p", port, *PROBE, env=env)
    out = visible(result.stdout)
    assert not RAW.search(out), out
    assert "\x1b]" not in result.stdout and "\x1b[2J" not in result.stdout
    assert "\x1b]8;" not in result.stdout  # markup is never a hyperlink
    assert "\\x1b]0;pwned\\x07" in squash(out)  # the greeting, escaped where it is shown
    data = json.loads(maildiag("probe", address, "-p", port, *PROBE, "--json").stdout)
    service = data["services"][0]
    assert service["greeting"]["text"] in greeting  # the exact data, escaped by JSON only
    assert "\x1b[2J" in " ".join(service["before_tls"]["capabilities"])
