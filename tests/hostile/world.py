"""The hostile world of tests/test_hostile_net.py (and tests/bench_hostile.py): every
scenario under hostile.test on 127.0.3.0/24, each domain with a well-behaved IMAP server
published by SRV beside its hostile part.

Imports nothing from the tool, so the benchmark can run it against older versions.
"""

from __future__ import annotations

import dns.name
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.IN.SRV import SRV

from tests.hostile.servers import Hostile, Request, imap_ok

NS = ("127.0.3.53", 53)
IMAP = "127.0.3.10"  # a well-behaved IMAP server (993, implicit TLS)
SRV300, AC300, ONE40, CAP7, DRIP_SMTP = (
    "127.0.3.20",
    "127.0.3.21",
    "127.0.3.22",
    "127.0.3.25",
    "127.0.3.24",
)
WEB = "127.0.3.31"  # HTTPS and HTTP, answering by Host and path
DROPPED = [f"127.0.3.{i}" for i in range(100, 130)]
BASE = "hostile.test"
GOOD = "imap.hostile.test"
IN = dns.rdataclass.IN


def http(status: bytes, headers: list[bytes], body: bytes = b"") -> bytes:
    return b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def ok_xml(body: bytes) -> bytes:
    return http(b"200 OK", [b"Content-Type: text/xml", b"Content-Length: %d" % len(body)], body)


def autoconfig_xml(servers: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f'<incomingServer type="imap"><hostname>{host}</hostname><port>{port}</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username></incomingServer>"
        for host, port in servers
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><clientConfig version="1.1">'
        f'<emailProvider id="h"><domain>{BASE}</domain><displayName>H</displayName>'
        f"{entries}</emailProvider></clientConfig>"
    ).encode()


def autodiscover_xml(entries: list[tuple[str, str, str]]) -> bytes:
    protocols = "".join(
        f"<Protocol><Type>{kind}</Type><Server>{server}</Server><Port>{port}</Port>"
        "<SSL>on</SSL></Protocol>"
        for kind, server, port in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft'
        '.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.'
        'microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account>'
        f"{protocols}</Account></Response></Autodiscover>"
    ).encode()


# autoconfig.<name>.hostile.test answers with the reply; the source must end in an error
# whose detail holds the text, and the rest of the check must go on.
HTTP_FAULTS = {
    "negchunk": (
        http(b"200 OK", [b"Transfer-Encoding: chunked"], b"-5\r\nhello\r\n0\r\n\r\n"),
        "bad chunk size",
    ),
    "supchunk": (
        http(b"200 OK", [b"Transfer-Encoding: chunked"], "²\r\nhi\r\n0\r\n\r\n".encode()),
        "bad chunk size",
    ),
    "hugechunk": (
        http(b"200 OK", [b"Transfer-Encoding: chunked"], b"f" * 4000 + b"\r\nhi\r\n"),
        "bad chunk size",
    ),
    "suplength": (http(b"200 OK", ["Content-Length: ²".encode()], b"ab"), "bad Content-Length"),
    "longlength": (http(b"200 OK", [b"Content-Length: " + b"9" * 5000], b"ab"), "Content-Length"),
    "neglength": (http(b"200 OK", [b"Content-Length: -1"], b"ab"), "bad Content-Length"),
    "supstatus": (http("²00 OK".encode(), [b"Content-Length: 0"]), "not an HTTP response"),
    "longstatus": (http(b"2" * 5000 + b" OK", [b"Content-Length: 0"]), "not an HTTP response"),
    "redirport": (
        http(b"301 Moved", [b"Location: https://autoconfig.redirport.hostile.test:99999/x"]),
        "out of range",
    ),
    "redirbroken": (http(b"302 Found", [b"Location: https://[broken"]), "unusable URL"),
    "redirspace": (http(b"302 Found", [b"Location: https://a b.hostile.test/"]), "unusable URL"),
}


def build(h: Hostile) -> None:
    z = h.zone
    h.dns(*NS)
    wildcard = [f"*.{BASE}", BASE]

    def domain(name: str, *, srv: bool = True, web: bool = True) -> str:
        d = f"{name}.{BASE}"
        wildcard.extend([d, f"*.{d}"])
        z.add(d, "MX", f"10 {GOOD}.")
        if srv:
            z.add(f"_imaps._tcp.{d}", "SRV", f"0 1 993 {GOOD}.")
        if web:
            z.add(d, "A", WEB)
            z.add(f"autoconfig.{d}", "A", WEB)
        return d

    z.add(GOOD, "A", IMAP)
    routes: dict[tuple[str, str], object] = {}

    for name, (reply, _) in HTTP_FAULTS.items():
        routes[(f"autoconfig.{domain(name)}", "/mail/config-v1.1.xml")] = reply

    d = domain("drip")
    routes[(f"autoconfig.{d}", "/mail/config-v1.1.xml")] = [
        b"HTTP/1.1 200 OK\r\n",
        *[step for _ in range(200) for step in (b"X-Drip: 1\r\n", 0.8)],
    ]

    d = domain("acbad")
    routes[(f"autoconfig.{d}", "/mail/config-v1.1.xml")] = ok_xml(
        autoconfig_xml([(GOOD, "99999"), ("bad host", "993"), (GOOD, "²"), (GOOD, "993")])
    )
    d = domain("adport", srv=False)
    routes[(d, "/autodiscover/autodiscover.xml")] = ok_xml(
        autodiscover_xml([("IMAP", GOOD, "99999"), ("POP3", GOOD, "²"), ("IMAP", GOOD, "993")])
    )

    # names found in the wild
    d = domain("names", srv=False)
    z.records.pop((dns.name.from_text(d), dns.rdatatype.MX))
    z.add(d, "MX", f"10 mx_1.{d}.")
    z.add(f"mx_1.{d}", "A", IMAP)
    z.add(f"_imaps._tcp.{d}", "SRV", f"0 1 993 imap_1.{d}.")
    z.add(f"imap_1.{d}", "A", IMAP)
    d = domain("badmx")
    z.add(d, "MX", MX(IN, dns.rdatatype.MX, 20, _raw_name(b"mx\x1b bad", d)))
    d = domain("badsrv")
    z.add(
        f"_imaps._tcp.{d}",
        "SRV",
        SRV(IN, dns.rdatatype.SRV, 1, 1, 993, _raw_name(b"bad host", d)),
        f"2 1 0 {GOOD}.",
    )

    # DNS faults on some SRV names: SERVFAIL, REFUSED, silence
    d = domain("dnsfault")
    z.fault(f"_imap._tcp.{d}", "servfail")
    z.fault(f"_pop3s._tcp.{d}", "refused")
    z.fault(f"_submissions._tcp.{d}", "silence")

    # amplification
    d = domain("srv300", srv=False)
    z.add(f"_imaps._tcp.{d}", "SRV", *(f"0 1 993 s{i}.{d}." for i in range(300)))
    for i in range(300):
        z.add(f"s{i}.{d}", "A", SRV300)
    routes[(f"autoconfig.{d}", "/mail/config-v1.1.xml")] = ok_xml(autoconfig_xml([(GOOD, "993")]))
    d = domain("ac300")
    routes[(f"autoconfig.{d}", "/mail/config-v1.1.xml")] = ok_xml(
        autoconfig_xml([(f"a{i}.{d}", "993") for i in range(300)])
    )
    for i in range(300):
        z.add(f"a{i}.{d}", "A", AC300)
    d = domain("one40")
    z.add(f"one40host.{BASE}", "A", ONE40)
    for index, label in enumerate(("_imaps", "_imap", "_pop3s", "_submissions")):
        ports = range(30001 + 10 * index, 30011 + 10 * index)
        z.add(f"{label}._tcp.{d}", "SRV", *(f"10 1 {p} one40host.{BASE}." for p in ports))
    z.add(f"many30.{BASE}", "A", *DROPPED)
    z.add(f"race.{BASE}", "A", DROPPED[0], IMAP)  # the first address drops, the second answers
    z.add(f"cap7.{BASE}", "A", CAP7)
    z.add(f"dripsmtp.{BASE}", "A", DRIP_SMTP)

    # credentials in --ispdb-url
    domain("creds")
    z.add(f"ispdb.{BASE}", "A", WEB)
    z.add(f"elsewhere.{BASE}", "A", WEB)
    routes[(f"ispdb.{BASE}", f"/ispdb/creds.{BASE}")] = http(
        b"302 Found", [f"Location: https://elsewhere.{BASE}/ispdb/creds".encode()]
    )

    def respond(request: Request):
        host = request.host.split(":")[0]
        path = request.target.split("?")[0]
        return routes.get((host, path), http(b"404 Not Found", [b"Content-Length: 0"]))

    web_tls = h.tls(*wildcard)
    h.http(WEB, 443, respond, tls=web_tls)
    h.http(WEB, 80, respond)
    greeting, answers = imap_ok()
    h.mail(IMAP, 993, greeting, answers, tls=h.tls(GOOD, f"*.{BASE}", f"*.names.{BASE}"))
    h.mail(SRV300, 993, greeting, answers, tls=h.tls(f"*.srv300.{BASE}"))
    h.mail(AC300, 993, greeting, answers, tls=h.tls(f"*.ac300.{BASE}"))
    slow = [0.5, b"* OK slow\r\n"]  # then reads until the client leaves
    for port in range(30001, 30041):
        h.mail(ONE40, port, slow)
    for port in (25, 110, 143, 465, 587, 993, 995):
        h.mail(CAP7, port, slow)
    h.mail(DRIP_SMTP, 25, [step for _ in range(100) for step in (b"220-drip\r\n", 0.8)])
    for address in DROPPED:
        h.drop(address, 993)


def _raw_name(label: bytes, parent: str) -> dns.name.Name:
    return dns.name.Name([label, *dns.name.from_text(parent).labels])
