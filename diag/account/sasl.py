"""SASL mechanisms (RFC 4422) as small client state machines, and the choice of one.

Each mechanism answers the server's challenges with bytes; the protocol modules frame
them (IMAP `+`, SMTP `334`, POP3 `+`) and base64 them. Every wire form of the secret
is registered with the Secret so server text echoing it can be scrubbed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from diag.account.secret import Secret, b64

PASSWORD_ORDER = ("PLAIN", "LOGIN", "CRAM-MD5")  # all safe inside verified TLS; PLAIN is one trip
OAUTH_ORDER = ("XOAUTH2", "OAUTHBEARER")
OAUTH = frozenset(OAUTH_ORDER)


class Mechanism:
    name: str
    initial_response = True  # may ride on the command with SASL-IR (RFC 4959) / AUTH (RFC 4954)

    def __init__(self, username: str, secret: Secret) -> None:
        self.username = username
        self.secret = secret

    def initial(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes | None:
        """The answer to one challenge; None: nothing more to say (cancel)."""
        return None

    def encoded(self, data: bytes) -> str:
        text = base64.b64encode(data).decode("ascii")
        self.secret.remember(text)
        return text


class Plain(Mechanism):
    name = "PLAIN"

    def initial(self) -> bytes:
        return b"\x00" + self.username.encode() + b"\x00" + self.secret.reveal().encode()

    def respond(self, challenge: bytes) -> bytes | None:
        return self.initial() if not challenge else None


class Login(Mechanism):
    """The obsolete but ubiquitous LOGIN mechanism: username, then password, on request."""

    name = "LOGIN"
    initial_response = False

    def __init__(self, username: str, secret: Secret) -> None:
        super().__init__(username, secret)
        self._step = 0

    def respond(self, challenge: bytes) -> bytes | None:
        self._step += 1
        prompt = challenge.lower()
        if self._step > 2:
            return None
        if b"pass" in prompt or self._step == 2:
            return self.secret.reveal().encode()
        return self.username.encode()


class CramMd5(Mechanism):
    name = "CRAM-MD5"
    initial_response = False

    def respond(self, challenge: bytes) -> bytes | None:
        if not challenge:
            return None
        digest = hmac.new(self.secret.reveal().encode(), challenge, hashlib.md5).hexdigest()
        return f"{self.username} {digest}".encode()


class XOAuth2(Mechanism):
    """Google's and Microsoft's bearer-token mechanism."""

    name = "XOAUTH2"

    def initial(self) -> bytes:
        token = self.secret.reveal()
        return f"user={self.username}\x01auth=Bearer {token}\x01\x01".encode()

    def respond(self, challenge: bytes) -> bytes | None:
        return b""  # after an error challenge (JSON), an empty answer ends the exchange


class OAuthBearer(Mechanism):
    """RFC 7628."""

    name = "OAUTHBEARER"

    def __init__(self, username: str, secret: Secret, host: str = "", port: int = 0) -> None:
        super().__init__(username, secret)
        self.host, self.port = host, port

    def initial(self) -> bytes:
        token = self.secret.reveal()
        return (
            f"n,a={self.username},\x01host={self.host}\x01port={self.port}"
            f"\x01auth=Bearer {token}\x01\x01"
        ).encode()

    def respond(self, challenge: bytes) -> bytes | None:
        return b"\x01"  # RFC 7628 3.2.3: the client acknowledges the error this way


MECHANISMS: dict[str, type[Mechanism]] = {
    m.name: m for m in (Plain, Login, CramMd5, XOAuth2, OAuthBearer)
}


@dataclass(frozen=True)
class Choice:
    mechanism: str | None  # a SASL name, "IMAP-LOGIN", "USER", or None (nothing usable)
    oauth_only: bool = False  # the server offers OAuth and nothing a password can use


def choose(
    offered: list[str], *, oauth: bool, legacy_login: bool, legacy_name: str = "IMAP-LOGIN"
) -> Choice:
    """The mechanism to use: OAuth with a token; else PLAIN, LOGIN, CRAM-MD5, then the
    protocol's own command (IMAP LOGIN, POP3 USER/PASS) when that is all there is."""
    upper = [m.upper() for m in offered]
    if oauth:
        pick = next((m for m in OAUTH_ORDER if m in upper), None)
        return Choice(pick)
    pick = next((m for m in PASSWORD_ORDER if m in upper), None)
    if pick:
        return Choice(pick)
    if legacy_login:
        return Choice(legacy_name)
    return Choice(None, oauth_only=bool(OAUTH.intersection(upper)))


def make(name: str, username: str, secret: Secret, host: str, port: int) -> Mechanism:
    if name == "OAUTHBEARER":
        return OAuthBearer(username, secret, host, port)
    return MECHANISMS[name](username, secret)


def decode_challenge(text: str) -> bytes:
    """A server challenge; servers that send junk get an empty challenge, not a crash."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (ValueError, base64.binascii.Error):
        return b""


__all__ = ["Choice", "Mechanism", "b64", "choose", "decode_challenge", "make"]
