"""Hostile servers for tests: scripted DNS, HTTP(S) and mail that say anything at all.

Real servers (the lab) cannot be made to send a negative chunk size, a port of 99999,
an MX name with an escape character or 300 SRV records. These can. Everything runs in
one background event loop started by the test; nothing is installed.

    from tests.hostile import Hostile, imap_ok
    h = Hostile(tmp_path)                       # its own CA: pass h.ca_file as --ca-file
    h.dns("127.0.3.53")                         # serves h.zone on UDP and TCP port 53
    h.zone.add("x.hostile.test", "MX", "10 mx_1.x.hostile.test.")
    h.zone.add("mx_1.x.hostile.test", "A", "127.0.3.10")
    h.zone.fault("dead.hostile.test", "servfail")       # nxdomain, refused, silence
    h.mail("127.0.3.10", 993, *imap_ok(), tls=h.tls("*.x.hostile.test"))
    h.http("127.0.3.31", 443, lambda request: b"HTTP/1.1 200 OK\\r\\n...", tls=h.tls(...))
    h.drop("127.0.3.100", 993)                  # SYNs go unanswered
    ...
    h.stats.total["127.0.3.10"], h.stats.peak[("127.0.3.10", 993)]   # connections seen
    h.requests                                  # every HTTP request received (headers, body)
    h.stop()

- DNS (`tests/hostile/dns.py`): any record type, as zone-file text or as a dnspython
  Rdata object (so names and TXT strings can hold any byte); NXDOMAIN, SERVFAIL, REFUSED
  or silence per name; large answers truncated over UDP and served over TCP. `h.zone.queries`
  counts the questions asked.
- HTTP: `respond(request)` returns the raw reply: bytes, or a list of bytes and float
  pauses (drip-feed). Status line, headers, chunking, redirects are whatever you write.
- Mail: a greeting script and answers by command verb (`EHLO`, `CAPABILITY`, `CAPA`,
  `STARTTLS`, `QUIT`...), `{tag}` standing for the IMAP tag; any bytes, any pauses.
- Certificates: `h.tls(*names)` issues a leaf from the fixture's CA (trustme); build
  odder ones with cryptography or openssl and load them into an SSLContext yourself.
- Every connection to a server started here is counted (`h.stats`: total and highest
  simultaneous count, per address and per address and port), so tests can assert
  that the tool stays within its connection caps.

Addresses: use your own loopback range (this suite's network tests use 127.0.3.0/24)
and run inside a private network namespace, as every test here does.
"""

from tests.hostile.dns import Zone
from tests.hostile.servers import Hostile, Request, Stats, imap_ok, play

__all__ = ["Hostile", "Request", "Stats", "Zone", "imap_ok", "play"]
