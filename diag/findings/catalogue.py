"""Every finding code maildiag can emit, with its default severity and fix.

Codes are a stable contract (scripts match on them); docs/findings.md documents each
one and a test keeps that page and this table in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from diag.model import Finding, Severity

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class Entry:
    severity: Severity
    title: str
    fix: str


CATALOGUE: dict[str, Entry] = {
    "dns.no_address": Entry(
        E,
        "the host name has no address",
        "Check the spelling; publish A and/or AAAA records for the host at its DNS provider.",
    ),
    "dns.resolution_failed": Entry(
        E,
        "DNS did not answer",
        "Check the network and the DNS server (--nameserver); retry: nothing was checked.",
    ),
    "port.closed": Entry(
        INFO,
        "the port refuses connections",
        "If this service should be offered, start it or open the port in the firewall.",
    ),
    "port.timeout": Entry(
        W,
        "the port does not answer (filtered)",
        "A firewall drops the connection: allow the port, or reject it so clients fail fast.",
    ),
    "port.blocked_locally": Entry(
        INFO,
        "port 25 seems blocked on this network",
        "Many ISPs and company networks block outbound port 25: test from another network "
        "(or ask the network's administrator). Mail clients send on 465 or 587, which answer.",
    ),
    "port.unreachable": Entry(
        E,
        "the host cannot be reached",
        "Check routing and firewalls between the client and the server.",
    ),
    "port.none_open": Entry(
        E,
        "no mail service answered",
        "Check that this is the mail server's name and that its services are running.",
    ),
    "probe.internal_error": Entry(
        E,
        "maildiag failed while checking this service",
        "A fault in maildiag, not necessarily in the server: report it to maildiag's "
        "developers with the command and the evidence. The other services' results stand.",
    ),
    "banner.invalid": Entry(
        E,
        "the greeting is not valid for the protocol",
        "Make sure the port runs the expected protocol, and that no proxy or firewall "
        "mangles the session.",
    ),
    "banner.timeout": Entry(
        E,
        "the server accepted the connection but never greeted",
        "The service is hung or overloaded, or a firewall or load balancer holds the "
        "connection: restart or inspect it.",
    ),
    "banner.rejected": Entry(
        E,
        "the server refuses the session",
        "Read the greeting: the server is shutting down, overloaded, or blocks this client.",
    ),
    "banner.slow": Entry(
        INFO,
        "the server is slow to greet",
        "A greeting pause (e.g. Postfix postscreen_greet_wait) is deliberate on port 25; on "
        "the ports mail clients use, check the server's load and its DNS (reverse lookups "
        "of clients can stall the greeting).",
    ),
    "starttls.not_offered": Entry(
        E,
        "STARTTLS is not offered",
        "Configure a certificate and enable STARTTLS, or point clients to the implicit-TLS "
        "port (993, 995, 465).",
    ),
    "starttls.failed": Entry(
        E,
        "STARTTLS is offered but does not work",
        "Check the server's TLS settings (certificate and key files, permissions).",
    ),
    "starttls.pipelined_response": Entry(
        E,
        "the server sends extra text after its STARTTLS go-ahead",
        "A correct server sends nothing after its go-ahead until the handshake. Check for a "
        "broken server or a man in the middle (a proxy or firewall that rewrites the "
        "session); mail clients that read this text as if it were encrypted can be misled.",
    ),
    "starttls.injection": Entry(
        E,
        "plaintext commands sent with STARTTLS are executed inside TLS (CVE-2011-0411)",
        "Update the server: after STARTTLS it must discard everything received before the "
        "handshake. A man in the middle can otherwise inject commands into the encrypted "
        "session.",
    ),
    "tls.handshake_failed": Entry(
        E,
        "the TLS handshake failed",
        "Check that the port really speaks TLS and that the certificate and key load.",
    ),
    "tls.legacy_protocol": Entry(
        W,
        "SSLv3, TLS 1.0 or TLS 1.1 is still accepted",
        "Set the minimum protocol to TLS 1.2 (Dovecot: ssl_min_protocol = TLSv1.2; "
        "Postfix: smtpd_tls_protocols = >=TLSv1.2; Exim: tls_require_ciphers with "
        "-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1 for GnuTLS).",
    ),
    "tls.weak_cipher": Entry(
        W,
        "weak cipher suites are accepted (NULL, anonymous, EXPORT, RC4 or 3DES)",
        "Allow only modern suites (Dovecot: ssl_cipher_list; Postfix: "
        "smtpd_tls_mandatory_ciphers = high and smtpd_tls_exclude_ciphers = aNULL, eNULL, "
        "EXPORT, RC4, 3DES; Exim/GnuTLS: tls_require_ciphers = SECURE128:-VERS-TLS1.0).",
    ),
    "tls.cert.expired": Entry(
        E, "the certificate has expired", "Renew the certificate and reload the service."
    ),
    "tls.cert.not_yet_valid": Entry(
        E,
        "the certificate is not valid yet",
        "Check the server's clock, or install the currently valid certificate.",
    ),
    "tls.cert.expires_soon": Entry(
        W,
        "the certificate expires soon",
        "Renew it now; check that automatic renewal also reloads the mail services.",
    ),
    "tls.cert.hostname_mismatch": Entry(
        E,
        "the certificate is not valid for this host name",
        "Use a host name the certificate covers in mail clients, or add this name to the "
        "certificate.",
    ),
    "tls.cert.self_signed": Entry(
        E,
        "the certificate is self-signed",
        "Install a certificate from a public CA (e.g. Let's Encrypt); users must not click "
        "through certificate warnings.",
    ),
    "tls.cert.untrusted": Entry(
        E,
        "the certificate does not chain to a trusted root",
        "Use a certificate from a CA that clients trust, or (private CA) pass --ca-file.",
    ),
    "tls.cert.incomplete_chain": Entry(
        E,
        "the server does not send the intermediate certificate(s)",
        "Configure the full chain file (leaf followed by intermediates), e.g. Let's "
        "Encrypt's fullchain.pem, and reload.",
    ),
    "tls.cert.malformed": Entry(
        W,
        "the certificate breaks encoding rules that strict parsers enforce",
        "Reissue the certificate with a current tool (UTF8String or PrintableString names, "
        "ASCII host names, a positive serial, attributes within RFC 5280's bounds).",
    ),
    "tls.cert.nonconforming": Entry(
        W,
        "the certificate breaks rules that strict verifiers enforce",
        "Reissue the certificate (or have the CA reissue it) following the CA/Browser Forum "
        "profile: version 3, Authority Key Identifier on the server certificate, critical "
        "basic constraints and key usage on every CA (for a version 1 root: a new version 3 "
        "root, distributed to the clients).",
    ),
    "tls.cert.weak_key": Entry(
        E,
        "the certificate's key is too small",
        "Issue a new certificate with RSA 2048+ bits or ECDSA P-256+.",
    ),
    "tls.cert.weak_signature": Entry(
        E,
        "the certificate is signed with a broken hash (MD5/SHA-1)",
        "Reissue the certificate (and intermediates) with SHA-256 signatures.",
    ),
    "auth.plaintext_before_tls": Entry(
        E,
        "passwords can be sent before encryption",
        "Refuse logins before TLS (Dovecot: disable_plaintext_auth = yes; Postfix: "
        "smtpd_tls_auth_only = yes).",
    ),
    "auth.none_offered": Entry(
        W,
        "no login method is offered after encryption",
        "Enable authentication on this service (Postfix: smtpd_sasl_auth_enable = yes), "
        "or tell users to use another port.",
    ),
    "smtp.no_submission": Entry(
        E,
        "no usable submission port (465 or 587)",
        "Enable submissions on 465 (implicit TLS, preferred by RFC 8314) and/or "
        "submission on 587 with STARTTLS and authentication.",
    ),
    "dns.nxdomain": Entry(
        E,
        "the domain does not exist",
        "Check the spelling of the address; if it is right, the domain has expired or its "
        "DNS delegation is broken: contact the registrar.",
    ),
    "dns.no_mx": Entry(
        E,
        "the domain has no MX record",
        "Publish MX records naming the servers that receive mail for the domain.",
    ),
    "dns.null_mx": Entry(
        INFO,
        "the domain says it accepts no mail (null MX, RFC 7505)",
        'If the domain should receive mail, replace the "." MX with real mail hosts.',
    ),
    "dns.mx_unresolvable": Entry(
        E,
        "an MX host has no address",
        "Give each MX host an A and/or AAAA record, or remove it from the MX records.",
    ),
    "dns.mx_unusable": Entry(
        E,
        "an MX record names something that is not a host name",
        "Make each MX record name a host (letters, digits, hyphens, dots; no spaces or "
        "control characters), or remove it.",
    ),
    "dns.spf_missing": Entry(
        W,
        "no SPF record",
        'Publish a TXT record such as "v=spf1 mx -all" listing the servers that send '
        "mail for the domain.",
    ),
    "dns.spf_invalid": Entry(
        E,
        "the SPF record does not parse",
        "Keep exactly one TXT record starting with v=spf1, made of valid mechanisms (RFC 7208).",
    ),
    "dns.dmarc_missing": Entry(
        W,
        "no DMARC record",
        'Publish a TXT record at _dmarc.DOMAIN, e.g. "v=DMARC1; p=none; '
        'rua=mailto:dmarc@DOMAIN", then tighten the policy.',
    ),
    "dns.dmarc_invalid": Entry(
        E,
        "the DMARC record does not parse",
        "Keep exactly one TXT record at _dmarc.DOMAIN starting with v=DMARC1 and with a "
        "p= policy of none, quarantine or reject (RFC 7489).",
    ),
    "discovery.published_broken": Entry(
        E,
        "a published setting does not work",
        "Fix the server, or correct the published setting (autoconfig file, Autodiscover, "
        "SRV record) so clients are not sent to it.",
    ),
    "providers.entry_broken": Entry(
        E,
        "a provider-database entry does not work",
        "Whoever maintains the entry (maildiag's providers/ folder, or your --providers-dir) "
        "should correct it against the provider's own documentation.",
    ),
    "dns.resolver_suspect": Entry(
        E,
        "the DNS server denies a well-known mail domain",
        "Your DNS server (or a filter in front of it) is wrong, not the domain: retry with "
        "another one, e.g. --nameserver 1.1.1.1, and have the network's resolver fixed.",
    ),
    "discovery.sources_disagree": Entry(
        W,
        "published settings disagree",
        "Make the autoconfig file, Autodiscover and SRV records name the same servers; "
        "clients that read different sources end up configured differently.",
    ),
    "discovery.insecure_config": Entry(
        W,
        "a configuration is served over plain HTTP only",
        "Serve the autoconfig file over HTTPS with a valid certificate: a file fetched over "
        "HTTP can be forged to send passwords elsewhere.",
    ),
    "discovery.unusable_entry": Entry(
        W,
        "a published source names a server that cannot be used",
        "Correct the entry in the autoconfig file, Autodiscover response or SRV record: "
        "a host name (no spaces or control characters) and a port from 1 to 65535.",
    ),
    "discovery.too_many_servers": Entry(
        W,
        "more servers published than a client would try",
        "Publish the few servers clients should use (one or two per protocol); a long list "
        "slows every client down and looks like an attempt to make clients flood a host.",
    ),
    "discovery.no_secure_incoming": Entry(
        E,
        "no way to receive mail securely",
        "Offer IMAP on 993 (or POP3 on 995) with a valid certificate, or STARTTLS on 143/110.",
    ),
    "discovery.no_secure_outgoing": Entry(
        E,
        "no way to send mail securely",
        "Offer submission on 465 (implicit TLS) or 587 (STARTTLS) with authentication.",
    ),
    # The account test (maildiag login / roundtrip).
    "auth.rejected": Entry(
        E,
        "the server rejected the username or password",
        "Check the username form the provider wants (full address or local part) and the "
        "password; reset the password if unsure.",
    ),
    "auth.app_password_required": Entry(
        E,
        "the provider requires an app password",
        "Turn on two-step verification, create an app password in the account's security "
        "settings and use it instead of the account password.",
    ),
    "auth.basic_disabled": Entry(
        E,
        "password logins are switched off for this account or tenant",
        "Use a mail client that signs in with OAuth2 (modern authentication), or ask the "
        "administrator to enable SMTP AUTH / IMAP / POP for this mailbox.",
    ),
    "auth.web_login_required": Entry(
        E,
        "the provider wants a sign-in through a web browser first",
        "Sign in to webmail from the same network, answer any security prompt, then retry.",
    ),
    "auth.account_unavailable": Entry(
        E,
        "the account is locked, disabled, expired or over quota",
        "Contact the provider or administrator; free space if the mailbox is full.",
    ),
    "auth.mechanism_unsupported": Entry(
        E,
        "no login method in common with the server",
        "Enable PLAIN or LOGIN authentication over TLS on the server, or use a client that "
        "supports what the server offers.",
    ),
    "auth.oauth_required": Entry(
        E,
        "the server accepts only OAuth2 logins",
        "Use a mail client with OAuth2 support; to test, get a token from the provider and "
        "pass it with --oauth-token-env.",
    ),
    "auth.temporary": Entry(
        W,
        "temporary login failure or rate limit",
        "Wait a few minutes and retry; repeated attempts can lock the account for a while.",
    ),
    "auth.refused": Entry(
        E,
        "the server refused the login",
        "Read the server's answer in the evidence; check the username and password.",
    ),
    "auth.plaintext_refused": Entry(
        E,
        "credentials not sent: the channel is not encrypted",
        "Use the implicit-TLS port (993, 995, 465) or enable STARTTLS on the server.",
    ),
    "auth.unverified_refused": Entry(
        E,
        "credentials not sent: the certificate does not verify for this host",
        "Fix the certificate (see maildiag probe HOST), or knowingly retry with --insecure.",
    ),
    "auth.insecure_channel": Entry(
        W,
        "the password crossed a channel whose certificate did not verify (--insecure)",
        "Fix the certificate; change the password if the network was not trusted.",
    ),
    "auth.connection_failed": Entry(
        E,
        "the login could not be tested",
        "Check the server with maildiag probe HOST; retry if the network was unstable.",
    ),
    "imap.quota_nearly_full": Entry(
        W,
        "the mailbox is nearly full",
        "Delete or archive old mail, or ask the provider for more space.",
    ),
    "smtp.sender_refused": Entry(
        W,
        "the server does not accept this address as sender",
        "Send from the address the account owns, or ask the administrator for send-as rights.",
    ),
    "delivery.submission_refused": Entry(
        E,
        "the submission server refused the test message",
        "Read the server's answer in the evidence (sender, recipient, size or policy).",
    ),
    "delivery.junk": Entry(
        W,
        "the test message landed in the Junk folder",
        "Check SPF, DKIM and DMARC for the sending domain and the server's spam filter rules.",
    ),
    "delivery.timeout": Entry(
        E,
        "the test message did not arrive in time",
        "Look the queue ID up in the mail server's log (postqueue -p, exim -bp), or retry "
        "with a longer --wait.",
    ),
    "delivery.cleanup_failed": Entry(
        W,
        "the test message could not be deleted",
        "Delete the message with the subject shown in the evidence by hand.",
    ),
}


def finding(
    code: str,
    service: str | None,
    message: str,
    evidence: str = "",
    *,
    severity: Severity | None = None,
    fix: str | None = None,
    detail: str | None = None,
) -> Finding:
    entry = CATALOGUE[code]
    return Finding(
        code=code,
        severity=severity or entry.severity,
        service=service,
        message=message,
        evidence=evidence,
        fix=fix or entry.fix,
        detail=detail,
    )
