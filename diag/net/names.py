"""Host-name validation and normalisation (RFC 1123 labels, IDNA).

Two rules. Names the user types follow RFC 1123 strictly: a typo is caught before any
traffic. Names found in the wild (MX and SRV targets, autoconfig and Autodiscover
files, redirects) follow a looser rule, as resolvers and mail servers do: underscores
are common there (`mx_1.example.com`), and refusing them would abort a check over
something every mail client accepts. What even the loose rule refuses (spaces, control
characters, escaped bytes, empty labels) is unusable, and the source that published it
gets a finding.
"""

from __future__ import annotations

import re

from diag.errors import BadInput
from diag.quoting import quoted

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PUBLISHED_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")


def normalize_host(text: str) -> str:
    """Lower-case A-label form without the trailing dot; BadInput if not a host name.

    Unicode names (IDN) are converted to punycode so that `bücher.example` and
    `xn--bcher-kva.example` are the same host everywhere in the tool.
    """
    host = text.strip()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise BadInput("empty host name")
    if len(host) > 253:
        raise BadInput(f"host name too long ({len(host)} characters, at most 253)")
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadInput(f"invalid host name {quoted(text)}") from None
    labels = ascii_host.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise BadInput(f"invalid host name {quoted(text)}: bad label {quoted(label)}")
    if labels[-1].isdigit():
        raise BadInput(f"invalid host name {quoted(text)}: the last label is numeric")
    return ascii_host


def validate_target(text: str) -> str:
    """A host name or an IP literal, as typed on the command line."""
    from diag.net.connection import is_ip_literal

    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    if is_ip_literal(candidate):
        return candidate
    return normalize_host(candidate)


def normalize_published(text: str) -> str:
    """A host name found in DNS or a published file, by the looser rule; BadInput if
    even that refuses it (the message names the reason, without the caller's context)."""
    host = text.strip().rstrip(".") if text.strip() != "." else ""
    if not host:
        raise BadInput("empty host name")
    if len(host) > 253:
        raise BadInput(f"host name too long ({len(host)} characters, at most 253)")
    labels = []
    for label in host.split("."):
        if label.isascii():
            labels.append(label.lower())
            continue
        try:
            labels.append(label.encode("idna").decode("ascii").lower())
        except UnicodeError:
            raise BadInput(
                f"unusable host name {quoted(text)}: bad label {quoted(label)}"
            ) from None
    for label in labels:
        if not _PUBLISHED_LABEL.match(label):
            raise BadInput(f"unusable host name {quoted(text)}: bad label {quoted(label)}")
    if labels[-1].isdigit():
        raise BadInput(f"unusable host name {quoted(text)}: the last label is numeric")
    return ".".join(labels)


def published_target(text: str) -> str:
    """A host name (loose rule) or an IP literal, as found in DNS or a published file."""
    from diag.net.connection import is_ip_literal

    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    if is_ip_literal(candidate):
        return candidate
    return normalize_published(candidate)
