"""Does a certificate name a host? RFC 6125 section 6, as current clients apply it.

Only subjectAltName entries count (clients stopped reading the CN long ago); a
wildcard is a whole left-most label and stands for exactly one label; IDNs are
compared in their A-label (punycode) form: the host the user named is converted, the
certificate's entries are not (a dNSName is ASCII by definition; one in Unicode is a
malformed entry clients compare byte for byte, and never match); IP addresses match
only IP entries.
"""

from __future__ import annotations

import ipaddress


def to_alabel(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def matches(host: str, dns_names: list[str], ip_addresses: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return any(_same_ip(ip, candidate) for candidate in ip_addresses)
    reference = to_alabel(host)
    return any(_dns_match(reference, _entry(pattern)) for pattern in dns_names)


def _entry(pattern: str) -> str:
    """A certificate's dNSName as clients compare it: ASCII, case-insensitive."""
    pattern = pattern.strip().rstrip(".").lower()
    return pattern if pattern.isascii() else ""


def _same_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, candidate: str) -> bool:
    try:
        return ipaddress.ip_address(candidate) == ip
    except ValueError:
        return False


def _dns_match(reference: str, pattern: str) -> bool:
    if not pattern:
        return False
    if "*" not in pattern:
        return reference == pattern
    first, _, rest = pattern.partition(".")
    if first != "*" or "*" in rest or rest.count(".") < 1:
        return False  # partial (w*.example) or too broad (*.com) wildcards never match
    ref_first, _, ref_rest = reference.partition(".")
    return bool(ref_first) and ref_rest == rest
