"""nginx serving the lab's autoconfig and Autodiscover files, over HTTPS with the lab CA
(and plain HTTP where a scenario needs it). Files live in www/<host name>/."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.lab.pki import Pair
from tests.lab.servers import Process, ensure_free, require, wait_for_ports

HTTPS_ADDRESS = "127.0.0.40"  # HTTPS and HTTP
HTTP_ONLY_ADDRESS = "127.0.0.41"  # HTTP only: the port 443 there refuses
WWW = "@WWW@"  # in a server block (_serve): the folder that holds the files


def autoconfig(
    imap: tuple[str, int, str] | None,
    smtp: list[tuple[str, int, str]],
    pop3: tuple[str, int, str] | None = None,
    username: str = "%EMAILADDRESS%",
) -> str:
    def server(kind: str, tag: str, host: str, port: int, socket: str) -> str:
        return (
            f'<{tag} type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
            f"<socketType>{socket}</socketType><username>{username}</username>"
            f"<authentication>password-cleartext</authentication></{tag}>"
        )

    parts = []
    if imap:
        parts.append(server("imap", "incomingServer", *imap))
    if pop3:
        parts.append(server("pop3", "incomingServer", *pop3))
    parts += [server("smtp", "outgoingServer", *s) for s in smtp]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">'
        '<emailProvider id="lab"><domain>lab.test</domain><displayName>Lab mail'
        f"</displayName>{''.join(parts)}</emailProvider></clientConfig>\n"
    )


def autodiscover(protocols: list[tuple[str, str, int, str]]) -> str:
    entries = "".join(
        f"<Protocol><Type>{kind}</Type><Server>{host}</Server><Port>{port}</Port>"
        f"<SSL>{ssl}</SSL><LoginName>someone@lab.test</LoginName></Protocol>"
        for kind, host, port, ssl in protocols
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<Autodiscover xmlns="http://schemas.'
        'microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://'
        'schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account>'
        f"<AccountType>email</AccountType><Action>settings</Action>{entries}</Account>"
        "</Response></Autodiscover>\n"
    )


BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE b [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + ']>\n<clientConfig><emailProvider id="x"><displayName>&i;</displayName>'
    "</emailProvider></clientConfig>\n"
)


def write_site(www: Path, files: dict[str, str | bytes]) -> None:
    """files: "host/path" -> content."""
    for name, content in files.items():
        path = www / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
    for path in [www, *www.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def start_nginx(root: Path, pair: Pair, files: dict[str, str | bytes]) -> Process:
    endpoints = [(HTTPS_ADDRESS, 443), (HTTPS_ADDRESS, 80), (HTTP_ONLY_ADDRESS, 80)]
    server = f"""
        listen {HTTPS_ADDRESS}:443 ssl;
        listen {HTTPS_ADDRESS}:80;
        listen {HTTP_ONLY_ADDRESS}:80;
        server_name _;
        ssl_certificate {pair.cert_file};
        ssl_certificate_key {pair.key_file};
        root {WWW}/$host;
        # Redirect scenarios for the HTTP client: one followed, one refused (HTTPS to HTTP).
        if ($host = autoconfig.moved.lab.test) {{
            return 301 https://autoconfig.good.lab.test$request_uri;
        }}
        if ($host = autoconfig.downgrade.lab.test) {{
            return 302 http://autoconfig.good.lab.test$request_uri;
        }}
        # Autodiscover is a POST: serve the static response for it too.
        location / {{ error_page 405 =200 $uri; }}"""
    types = "types { text/xml xml; }\n    default_type text/plain;"
    return _serve(root / "nginx", files, endpoints, types, server)


def start_static(root: Path, name: str, address: str, files: dict[str, str | bytes]) -> Process:
    """A second nginx, plain HTTP on address:80, serving `files` ("path" -> content), e.g.
    the certificates a CA publishes at the AIA URLs of the certificates it issues."""
    server = f"""
        listen {address}:80;
        server_name _;
        root {WWW};"""
    types = "types { application/pkix-cert crt; }\n    default_type application/octet-stream;"
    return _serve(root / f"nginx-{name}", files, [(address, 80)], types, server)


def _serve(
    directory: Path,
    files: dict[str, str | bytes],
    endpoints: list[tuple[str, int]],
    types: str,
    server: str,
) -> Process:
    """nginx from a private configuration in `directory`; `server` is the body of its one
    server block."""
    require("nginx")
    ensure_free(endpoints, "nginx")
    www = directory / "www"
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    write_site(www, files)
    log = directory / "error.log"
    conf = directory / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {directory}/nginx.pid;
error_log {log} info;
events {{ worker_connections 64; }}
http {{
    access_log {directory}/access.log;
    {_temp_paths(directory)}
    {types}
    server {{{server.replace(WWW, str(www))}
    }}
}}
""")
    return _launch(conf, log, endpoints)


def _temp_paths(directory: Path) -> str:
    return " ".join(
        f"{kind}_temp_path {directory}/tmp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


def _launch(conf: Path, log: Path, endpoints: list[tuple[str, int]]) -> Process:
    check = subprocess.run(["nginx", "-t", "-c", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        from tests.lab.servers import LabError

        raise LabError(f"nginx -t failed:\n{check.stderr}")
    popen = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off;"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process("nginx", popen, log)
    wait_for_ports(endpoints, process)
    return process
