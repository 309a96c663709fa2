"""Why a login was refused: the server's words, classified into codes a helpdesk can act on.

Three layers, most specific first: provider phrases (one table, each with where the
phrase was seen), then standard response codes (RFC 5530 for IMAP, RFC 2449/3206 for
POP3, enhanced status codes for SMTP), then the bare protocol status. Phrases are
facts about what servers say, matched case-insensitively as substrings.
"""

from __future__ import annotations

import re

REJECTED = "auth.rejected"
APP_PASSWORD = "auth.app_password_required"
BASIC_DISABLED = "auth.basic_disabled"
WEB_LOGIN = "auth.web_login_required"
UNAVAILABLE = "auth.account_unavailable"
MECHANISM = "auth.mechanism_unsupported"
TEMPORARY = "auth.temporary"
UNKNOWN = "auth.refused"

# (phrase, code). Sources are public transcripts and provider help pages.
PHRASES: tuple[tuple[str, str], ...] = (
    # Gmail, IMAP `NO [ALERT] Application-specific password required: <help link>` and SMTP
    # `534-5.7.9 Application-specific password required`: transcripts in mutt-wizard issue
    # 831, mageplaza/magento-2-smtp issue 181; Google Account Help answer 185833.
    ("application-specific password required", APP_PASSWORD),
    # Gmail SMTP's help link for the same refusal (support.google.com/mail/?p=InvalidSecondFactor).
    ("invalidsecondfactor", APP_PASSWORD),
    # Microsoft 365 / Outlook.com SMTP `535 5.7.139 Authentication unsuccessful, basic
    # authentication is disabled.`: transcripts in nodemailer issue 1714, mailR issue 107.
    ("basic authentication is disabled", BASIC_DISABLED),
    # Microsoft 365 SMTP `535 5.7.139 ... SmtpClientAuthentication is disabled for the
    # Tenant. Visit https://aka.ms/smtp_auth_disabled`: nodemailer issue 1484,
    # email-oauth2-proxy issue 193; Microsoft Learn "Enable or disable SMTP AUTH".
    ("smtpclientauthentication is disabled", BASIC_DISABLED),
    # The short link in that same Microsoft 365 reply (same transcripts).
    ("aka.ms/smtp_auth_disabled", BASIC_DISABLED),
    # Microsoft's enhanced status code for both texts above (Exchange Online NDR reference).
    ("5.7.139", BASIC_DISABLED),
    # Gmail `534-5.7.14 Please log in via your web browser and then try again` (SMTP) and
    # the same words in IMAP's `[ALERT]`: Gmail SMTP error reference (Google Workspace
    # Admin Help answer 3726730).
    ("log in via your web browser", WEB_LOGIN),
    # The enhanced status code of that Gmail reply (same reference page).
    ("5.7.14", WEB_LOGIN),
    # Gmail's IMAP response code for "go to the web first" (it carries a URL to visit).
    ("[webalert", WEB_LOGIN),
    # Gmail POP3 `-ERR [AUTH] Web login required: https://support.google.com/mail/answer/78754`
    # (the help page Gmail links for blocked sign-ins from mail clients).
    ("web login required", WEB_LOGIN),
)

# IMAP response codes (RFC 5530), POP3 response codes (RFC 2449, RFC 3206).
RESPONSE_CODES: dict[str, str] = {
    "AUTHENTICATIONFAILED": REJECTED,
    "AUTHORIZATIONFAILED": REJECTED,
    "EXPIRED": UNAVAILABLE,
    "CONTACTADMIN": UNAVAILABLE,
    "UNAVAILABLE": UNAVAILABLE,
    "OVERQUOTA": UNAVAILABLE,
    "LIMIT": TEMPORARY,
    "AUTH": REJECTED,
    "IN-USE": UNAVAILABLE,
    "SYS/PERM": UNAVAILABLE,
    "SYS/TEMP": TEMPORARY,
    "LOGIN-DELAY": TEMPORARY,
}

# SMTP enhanced status codes (RFC 3463, RFC 4954 section 6).
ENHANCED: dict[str, str] = {
    "5.7.8": REJECTED,  # authentication credentials invalid
    "5.7.9": MECHANISM,  # mechanism too weak (Gmail's app-password text is caught above)
    "4.7.0": TEMPORARY,  # temporary authentication failure
    "4.7.12": TEMPORARY,
    "5.7.11": MECHANISM,  # encryption required for requested mechanism
    "5.7.0": UNKNOWN,
}

# Account words that turn a bare SMTP 454/554 or IMAP NO into "account unavailable".
ACCOUNT_WORDS = ("locked", "disabled", "suspended", "blocked", "quota", "expired", "inactive")

_RESP_CODE = re.compile(r"\[([A-Z][A-Z0-9/-]*)(?:[ \]])", re.IGNORECASE)
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def classify(protocol: str, text: str, status: str | int | None = None) -> str:
    """The code for one refusal; `status` is the SMTP reply code or IMAP/POP3 status word."""
    lowered = text.lower()
    for phrase, code in PHRASES:
        if phrase in lowered:
            return code
    if protocol in ("imap", "pop3"):
        for match in _RESP_CODE.finditer(text):
            code = RESPONSE_CODES.get(match.group(1).upper())
            if code:
                return code
    if protocol == "smtp":
        number = int(status) if isinstance(status, int) or str(status).isdigit() else 0
        if number in (454, 554) and any(w in lowered for w in ACCOUNT_WORDS):
            return UNAVAILABLE
        enhanced = _ENHANCED.search(text)
        if enhanced and enhanced.group(1) in ENHANCED:
            found = ENHANCED[enhanced.group(1)]
            if found != UNKNOWN:
                return found
        if number == 535:
            return REJECTED
        if number == 504:
            return MECHANISM
        if 400 <= number < 500:
            return TEMPORARY
    elif any(w in lowered for w in ACCOUNT_WORDS):
        return UNAVAILABLE
    return UNKNOWN
