"""Choose what to type into the mail client: implicit TLS over STARTTLS over plain
(RFC 8314), a trusted certificate for the right name over one that is not, published
over guessed."""

from __future__ import annotations

from diag.check.model import Checked, Setting
from diag.discovery.model import SOURCE_ORDER
from diag.model import Security
from diag.providers.schema import username_value

SECURITY_SCORE = {Security.TLS: 3, Security.STARTTLS: 2, Security.PLAIN: 0}
OAUTH = {"XOAUTH2", "OAUTHBEARER"}


def rank(
    checked: list[Checked], protocol: str, address: str | None, *, live: bool
) -> list[Setting]:
    pool = [c for c in checked if c.merged.candidate.protocol == protocol]
    if protocol == "smtp":
        pool = [c for c in pool if c.merged.candidate.port != 25]  # relay, not submission
    if live:
        working = [
            c for c in pool if c.usable and c.merged.candidate.security is not Security.PLAIN
        ]
        # Nothing verified: offer what was published but could not be tried (DNS did not
        # answer for its host), clearly marked unverified, rather than nothing.
        pool = working or [c for c in pool if c.merged.published and not c.dns_definite]
    else:
        pool = [c for c in pool if c.merged.published]
    pool.sort(key=_score, reverse=True)
    return [_setting(c, address) for c in pool]


def best_settings(settings: list[Setting]) -> list[Setting]:
    """The first (best ranked) setting of each protocol: IMAP, POP3, then SMTP."""
    return [
        next(s for s in settings if s.protocol == protocol)
        for protocol in ("imap", "pop3", "smtp")
        if any(s.protocol == protocol for s in settings)
    ]


def _score(c: Checked) -> tuple:
    candidate = c.merged.candidate
    first_source = min(SOURCE_ORDER.index(s) for s in c.merged.sources)
    return (SECURITY_SCORE[candidate.security], c.trusted_name, c.merged.published, -first_source)


def _setting(c: Checked, address: str | None) -> Setting:
    candidate = c.merged.candidate
    username = candidate.username or "address"
    value = None
    if address:
        value = username_value(username, address)
    return Setting(
        protocol=candidate.protocol,
        host=candidate.host,
        port=candidate.port,
        security=candidate.security.value,
        username=username,
        username_value=value,
        auth=list(candidate.auth) or _auth_from_probe(c),
        verified=c.usable,
        trusted=c.trusted_name,
        sources=list(c.merged.sources),
    )


def _auth_from_probe(c: Checked) -> list[str]:
    stage = c.result.after_tls if c.result else None
    if stage is None:
        return []
    mechanisms = set(stage.auth.mechanisms)
    out = []
    if stage.auth.plaintext_login or mechanisms & {"PLAIN", "LOGIN"}:
        out.append("password")
    if mechanisms & OAUTH:
        out.append("oauth2")
    return out
