"""Does the chain a server sent lead to a trusted root, and for which names is it valid?

Trust is decided as mail clients decide it: RFC 5280 path building with signatures,
basic constraints and key usage (cryptography's verifier with relaxed extension
policies), not the stricter CA/Browser Forum web profile. Where the strict profile
disagrees, the rules it applies are listed (`nonconforming`). Verification runs on the
chain as sent, decoupled from the clock and the host name, so that an expired
certificate for the wrong host is still known to be trusted or not: each problem is its
own finding.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import ssl
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from diag.errors import BadInput
from diag.localfile import LocalFileError, read_local
from diag.model import TrustResult
from diag.tls import hostname
from diag.tls.certificate import ca_issuer_urls, is_self_signed, subject_alt_names

SYSTEM_STORE_BYTES = 64 * 1024 * 1024  # the system bundle is ~200 KiB; a cap all the same


@dataclass(frozen=True)
class TrustStore:
    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()  # known, but not trust anchors
    verdicts: dict = field(default_factory=dict, compare=False, repr=False)

    def extended(self, pem_path: Path | None) -> TrustStore:
        with warnings.catch_warnings():  # odd serials in a CA file are not ours to report
            warnings.simplefilter("ignore")
            return self._extended(pem_path)

    def _extended(self, pem_path: Path | None) -> TrustStore:
        if pem_path is None:
            return TrustStore(self.roots, self.intermediates)  # its own verdict memo
        certs = read_pem_bundle(pem_path)
        roots = tuple(c for c in certs if is_self_signed(c))
        others = tuple(c for c in certs if not is_self_signed(c))
        if not roots and not others:
            raise BadInput(f"--ca-file {pem_path}: no PEM certificates found")
        # An intermediate given alone is what the user chose to trust: make it an anchor
        # unless its own root is in the file too.
        if not roots:
            roots, others = others, ()
        return TrustStore(self.roots + roots, self.intermediates + others)


def read_pem_bundle(path: Path) -> list[x509.Certificate]:
    data = read_local(path, what="--ca-file")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise BadInput(f"--ca-file {path}: not a PEM certificate bundle ({exc})") from None


@functools.cache
def system_store() -> TrustStore:
    """The operating system's roots (the same file OpenSSL uses)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            try:
                data = read_local(candidate, max_bytes=SYSTEM_STORE_BYTES)
                with warnings.catch_warnings():  # some shipped roots have odd serials
                    warnings.simplefilter("ignore")
                    roots = x509.load_pem_x509_certificates(data)
            except (LocalFileError, ValueError):
                continue
            return TrustStore(tuple(roots))
    return TrustStore(())


def assess(chain: list[x509.Certificate], host: str, store: TrustStore) -> TrustResult:
    """Verdict on a chain; memoised, since one certificate usually serves every port."""
    key = (tuple(c.fingerprint(_SHA256) for c in chain), host)
    cached = store.verdicts.get(key)
    if cached is None:
        cached = store.verdicts[key] = _assess(chain, host, store)
    return dataclasses.replace(
        cached, valid_names=list(cached.valid_names), nonconforming=list(cached.nonconforming)
    )


_SHA256 = hashes.SHA256()


def _assess(chain: list[x509.Certificate], host: str, store: TrustStore) -> TrustResult:
    leaf = chain[0]
    dns_names, ips = subject_alt_names(leaf)
    result = TrustResult(
        trusted=False,
        self_signed=is_self_signed(leaf),
        hostname_checked=host,
        hostname_matches=hostname.matches(host, dns_names, ips),
        valid_names=dns_names + ips,
    )
    if not dns_names and not ips:
        result.names_note = "the certificate has no subjectAltName; clients ignore the CN"
    path, raw = _verify(leaf, chain[1:], store.roots)
    if path is not None:
        result.trusted = True
        result.nonconforming, result.nonconforming_detail = _strict_deviations(
            leaf, chain, path, store
        )
        return result
    result.error, result.error_detail = plain_reason(raw, leaf), raw
    if store.intermediates:
        path, _ = _verify(leaf, chain[1:] + list(store.intermediates), store.roots)
        if path is not None:
            missing = [c for c in path[1:-1] if c not in chain]
            result.incomplete_chain = True
            result.missing_issuer = _name(missing[0].subject) if missing else _name(leaf.issuer)
            result.incomplete_reason = (
                f"the chain leads to a trusted root once {result.missing_issuer} "
                "(found in --ca-file) is added"
            )
            return result
    if len(chain) == 1 and not result.self_signed and _issuer_unknown(leaf, store):
        known = [c for c in store.intermediates if c.subject == leaf.issuer]
        if known:  # we hold its issuer, and even so the chain leads nowhere: untrusted
            result.error = (
                f"{result.error}; adding its issuer {_name(leaf.issuer)} from --ca-file "
                "does not help"
            )
            return result
        # Roots do not issue server certificates directly: a leaf sent alone whose issuer
        # is no trust anchor is, in practice, a missing intermediate.
        result.incomplete_chain = True
        result.missing_issuer = _name(leaf.issuer)
        result.issuer_url = _aia(leaf)
        where = (
            f"; it is published at {result.issuer_url}"
            if result.issuer_url
            else "; the certificate does not say where to download it (no AIA)"
        )
        result.incomplete_reason = (
            f"the server sent only its own certificate, issued by {result.missing_issuer}, "
            f"which is not a trusted root{where}"
        )
    return result


def with_downloaded_issuer(
    result: TrustResult,
    chain: list[x509.Certificate],
    certificates: list[x509.Certificate],
    error: str | None,
    store: TrustStore,
) -> TrustResult:
    """Check the guess "a leaf sent alone lacks its intermediate" with the issuer its AIA
    URL gave: still incomplete (and now known to be fixable), or untrusted for good."""
    if not (result.incomplete_chain and result.issuer_url):
        return result
    url, missing = result.issuer_url, result.missing_issuer
    if error is not None or not certificates:
        result.issuer_downloaded = False
        result.incomplete_reason = (
            f"{result.incomplete_reason}; downloading it failed ({error}), so whether the "
            "chain would then lead to a trusted root is not known"
        )
        return result
    result.issuer_downloaded = True
    leaf = chain[0]
    path, raw = _verify(leaf, chain[1:] + certificates + list(store.intermediates), store.roots)
    if path is not None:
        result.incomplete_reason = (
            f"the server sent only its own certificate, issued by {missing}; with that "
            f"issuer, downloaded from {url}, the chain leads to the trusted root "
            f"{_name(path[-1].subject)}"
        )
        return result
    issuer = next((c for c in certificates if c.subject == leaf.issuer), certificates[0])
    reason = (
        f"its issuer is in turn issued by {_name(issuer.issuer)}, which is not a trusted root"
        if _no_issuer_found(raw)
        else plain_reason(raw, leaf)
    )
    result.incomplete_chain = False
    result.error = (
        f"even with its issuer {missing}, downloaded from {url}, the chain does not lead to "
        f"a trusted root: {reason}"
    )
    result.error_detail = raw
    return result


# --- the two profiles ------------------------------------------------------------------------
#
# Mail clients (OpenSSL, NSS, Apple, Microsoft) apply RFC 5280 path building with basic
# constraints and key usage, not the CA/Browser Forum web profile that cryptography's
# verifier enforces by default (Authority Key Identifier required, critical basic
# constraints, key usage present on every CA, ...). Trust is decided by the first; the
# second only yields `nonconforming`, a warning that strict verifiers refuse the chain.

_MAIL_RULE = "mail-client rule: "


def _ca_key_usage(_policy: object, _cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    if usage is not None and not usage.key_cert_sign:
        raise ValueError(_MAIL_RULE + "CA key usage without keyCertSign")


def _ee_key_usage(_policy: object, _cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    if usage is not None and not (
        usage.digital_signature or usage.key_encipherment or usage.key_agreement
    ):
        raise ValueError(_MAIL_RULE + "server key usage allows no TLS use")


def _ee_extended_usage(
    _policy: object, _cert: x509.Certificate, usage: x509.ExtendedKeyUsage | None
) -> None:
    if usage is not None and not {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }.intersection(usage):
        raise ValueError(_MAIL_RULE + "extended key usage without serverAuth")


@functools.cache
def _mail_policies() -> tuple[verification.ExtensionPolicy, verification.ExtensionPolicy]:
    either = verification.Criticality.AGNOSTIC
    ee = (
        verification.ExtensionPolicy.permit_all()
        .may_be_present(x509.KeyUsage, either, _ee_key_usage)
        .may_be_present(x509.ExtendedKeyUsage, either, _ee_extended_usage)
    )
    ca = (
        verification.ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, either, None)
        .may_be_present(x509.KeyUsage, either, _ca_key_usage)
    )
    return ee, ca


def _verify(
    leaf: x509.Certificate, intermediates: list[x509.Certificate], roots: tuple
) -> tuple[list[x509.Certificate] | None, str | None]:
    """The path a mail client builds (leaf first, root last), or None and the reason.

    A client verifier builds the path without a name (names are judged apart) and,
    with these policies, without the web profile's extension rules.
    """
    if not roots:
        return None, "no trusted root certificates available"
    when = _inside_validity(leaf)
    path, raw = _verify_v3(leaf, intermediates, roots, when)
    if path is None and raw is not None and _V1_REFUSED in raw:
        path = _v1_path(leaf, intermediates, roots, when)
    return (path, None) if path is not None else (None, raw)


def _verify_v3(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: tuple | list,
    when: datetime,
    *,
    leaf_is_ca: bool = False,
) -> tuple[list[x509.Certificate] | None, str | None]:
    """cryptography's verifier with the mail-client policies; `leaf_is_ca` checks the
    bottom certificate as a CA (the issuer of a v1 server certificate)."""
    ee, ca = _mail_policies()
    builder = verification.PolicyBuilder().store(verification.Store(list(roots)))
    builder = builder.time(when).max_chain_depth(8)
    builder = builder.extension_policies(ee_policy=ca if leaf_is_ca else ee, ca_policy=ca)
    try:
        verified = builder.build_client_verifier().verify(leaf, intermediates)
    except verification.VerificationError as exc:
        return None, str(exc)
    except (ValueError, TypeError) as exc:  # e.g. an unreadable name in the chain
        return None, f"cannot verify: {exc}"
    return list(verified.chain), None


# --- X.509 version 1 at the ends of a path ---------------------------------------------------
#
# OpenSSL, NSS, Apple and Microsoft accept a version 1 certificate (no extensions) as a
# self-signed trust anchor, as old in-house CAs made them, and as the server certificate;
# never as an intermediate CA, which must say it is one. cryptography's verifier refuses
# any v1 certificate. So the v1 ends are checked here (issuer name, signature, validity)
# and the v3 middle, if any, by the verifier, anchored at the certificate the v1 root
# signed.

_V1_REFUSED = "must be an X509v3 certificate"


def _v1_path(
    leaf: x509.Certificate,
    pool: list[x509.Certificate],
    roots: tuple,
    when: datetime,
) -> list[x509.Certificate] | None:
    if leaf.version is not x509.Version.v1:
        return _below_v1_root(leaf, pool, roots, when, leaf_is_ca=False)
    for issuer in _issuers(leaf, [*pool, *roots], when):
        if any(issuer is root for root in roots):
            return [leaf, issuer]
        if issuer.version is x509.Version.v1 or not _can_issue(issuer):
            continue
        rest = [c for c in pool if c is not issuer]
        upper, _ = _verify_v3(issuer, rest, roots, when, leaf_is_ca=True)
        upper = upper or _below_v1_root(issuer, rest, roots, when, leaf_is_ca=True)
        if upper is not None:
            return [leaf, *upper]
    return None


def _below_v1_root(
    bottom: x509.Certificate,
    pool: list[x509.Certificate],
    roots: tuple,
    when: datetime,
    *,
    leaf_is_ca: bool,
) -> list[x509.Certificate] | None:
    """A path from `bottom` (v3) to a v1 root."""
    for root in roots:
        if root.version is not x509.Version.v1 or not _valid_at(root, when):
            continue
        for below in [bottom, *pool]:
            if below.version is x509.Version.v1 or not _signed_by(below, root):
                continue
            if below is bottom:  # its own anchor: the verifier still applies its policy
                checked, _ = _verify_v3(bottom, [], (bottom,), when, leaf_is_ca=leaf_is_ca)
                return [bottom, root] if checked is not None else None
            if not (_can_issue(below) and _valid_at(below, when)):
                continue
            rest = [c for c in pool if c is not below]
            path, _ = _verify_v3(bottom, rest, (below,), when, leaf_is_ca=leaf_is_ca)
            if path is not None:
                return [*path, root]
    return None


def _issuers(
    cert: x509.Certificate, candidates: list[x509.Certificate], when: datetime
) -> list[x509.Certificate]:
    return [c for c in candidates if c is not cert and _valid_at(c, when) and _signed_by(cert, c)]


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _valid_at(cert: x509.Certificate, when: datetime) -> bool:
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc


def _can_issue(cert: x509.Certificate) -> bool:
    """A v3 CA as RFC 5280 wants it: basic constraints saying so, keyCertSign if usage."""
    constraints = _extension(cert, x509.BasicConstraints)
    usage = _extension(cert, x509.KeyUsage)
    return (
        constraints is not None
        and constraints.value.ca
        and (usage is None or usage.value.key_cert_sign)
    )


def _strict_deviations(
    leaf: x509.Certificate,
    chain: list[x509.Certificate],
    path: list[x509.Certificate],
    store: TrustStore,
) -> tuple[list[str], str | None]:
    """Rules of the web profile the accepted path breaks (empty if strict verifiers agree)."""
    subject = _subject_for(leaf)
    if subject is None:
        return [], None  # no subjectAltName: the name finding says it
    builder = verification.PolicyBuilder().store(verification.Store(list(store.roots)))
    builder = builder.time(_inside_validity(leaf)).max_chain_depth(8)
    try:
        builder.build_server_verifier(subject).verify(leaf, chain[1:])
    except verification.VerificationError as exc:
        raw = str(exc)
    except (ValueError, TypeError) as exc:
        raw = str(exc)
    else:
        return [], None
    rules = profile_rules(path)
    return (rules or [plain_reason(raw, leaf)]), raw


_STRICT_CLIENTS = (
    "Mail clients built on OpenSSL, NSS (Thunderbird), Apple and Microsoft accept this; "
    "verifiers that apply the CA/Browser Forum profile strictly (Python's cryptography, "
    "some Go and rustls-based tools) refuse it"
)


def profile_rules(path: list[x509.Certificate]) -> list[str]:
    """The web-profile rules each certificate of an accepted path breaks, in plain words."""
    rules: list[str] = []
    leaf = path[0]
    if leaf.version is x509.Version.v1:
        rules.append(_V1_RULE.format(who="the server certificate"))
    elif _extension(leaf, x509.AuthorityKeyIdentifier) is None:
        rules.append("the server certificate has no Authority Key Identifier extension")
    constraints = _extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.value.ca:
        rules.append(
            "the server certificate is marked as a CA certificate (rustls-based clients refuse it)"
        )
    usage = _extension(leaf, x509.KeyUsage)
    if usage is not None and usage.value.key_cert_sign:
        rules.append("the server certificate's key usage allows signing other certificates")
    for cert in path[1:]:
        who = _name(cert.subject)
        if cert.version is x509.Version.v1:
            rules.append(_V1_RULE.format(who=f"root {who}"))
            continue
        constraints = _extension(cert, x509.BasicConstraints)
        if constraints is not None and not constraints.critical:
            rules.append(f"CA {who}: its basic constraints are not marked critical")
        if _extension(cert, x509.KeyUsage) is None:
            rules.append(f"CA {who}: it has no key usage extension")
    return rules


_V1_RULE = "{who} is an X.509 version 1 certificate (strict verifiers accept only version 3)"


def strict_clients_note() -> str:
    return _STRICT_CLIENTS


def _extension(cert: x509.Certificate, kind: type) -> x509.Extension | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except (x509.ExtensionNotFound, ValueError):
        return None


def _subject_for(leaf: x509.Certificate) -> verification.Subject | None:
    """Verify against a name the leaf itself carries: name matching is judged apart."""
    dns_names, ips = subject_alt_names(leaf)
    for name in dns_names:
        candidate = name.replace("*.", "wildcard.", 1) if name.startswith("*.") else name
        try:
            return x509.DNSName(candidate)
        except ValueError:
            continue
    if ips:
        return x509.IPAddress(ipaddress.ip_address(ips[0]))
    return None


def _inside_validity(leaf: x509.Certificate) -> datetime:
    """Now, clamped into the leaf's validity: expiry is reported as its own finding."""
    now = datetime.now(UTC)
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if now > end:
        return end - timedelta(seconds=1)
    if now < start:
        return start + timedelta(seconds=1)
    return now


def _issuer_unknown(leaf: x509.Certificate, store: TrustStore) -> bool:
    return all(root.subject != leaf.issuer for root in store.roots)


def _aia(leaf: x509.Certificate) -> str | None:
    """The issuer's URL a client can download: http(s) before ldap:// (older Microsoft CAs
    list an LDAP location first)."""
    urls = ca_issuer_urls(leaf)
    web = [u for u in urls if u.lower().startswith(("http://", "https://"))]
    return (web or urls or [None])[0]


def _name(name: x509.Name) -> str:
    """A distinguished name for a sentence: its CN when it has one, else the whole name."""
    try:
        cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cns and isinstance(cns[0].value, str):
            return f'"{cns[0].value}"'
        return f'"{name.rfc4514_string()}"'
    except ValueError:
        return "(an unreadable name)"


# The verifier's messages name Rust types and RFC fields; each is mapped to a sentence.
# Order matters: the first marker found wins.
_REASONS = (
    ("no trusted root certificates available", "no trusted root certificates are available"),
    ("CA key usage without keyCertSign", "a CA's key usage does not allow it to sign certificates"),
    ("keyUsage.keyCertSign", "a CA's key usage does not allow it to sign certificates"),
    ("server key usage allows no TLS use", "the certificate's key usage does not allow TLS"),
    (
        "extended key usage without serverAuth",
        "the certificate is not meant for servers (its extended key usage lacks serverAuth)",
    ),
    (
        "required EKU not found",
        "the certificate is not meant for servers (its extended key usage lacks serverAuth)",
    ),
    (
        "has no basicConstraints",
        "a certificate used as a CA is not marked as a CA (no basic constraints)",
    ),
    ("basicConstraints.cA must be asserted", "a certificate used as a CA is not marked as a CA"),
    (
        "Forbidden signature algorithm",
        "a certificate is signed with an algorithm clients no longer accept (e.g. SHA-1)",
    ),
    (
        "Forbidden public key algorithm",
        "a certificate has a key type or size clients no longer accept",
    ),
    ("signature does not match", "a signature in the chain does not verify"),
    ("signature", "a signature in the chain does not verify"),
    ("path length", "the chain is longer than a CA allows (path length constraint)"),
    (
        "name constraint",
        "the certificate's names are outside what its CA may issue for (name constraints)",
    ),
    ("maximum depth", "the chain is too long"),
    (
        _V1_REFUSED,
        "a certificate in the chain is an old X.509 version 1 certificate, which clients "
        "accept only as the server's own certificate or as a trusted root, not as an "
        "intermediate CA",
    ),
    ("2.5.29.35", "the server certificate has no Authority Key Identifier extension"),
    ("incorrect criticality", "an extension is marked critical (or not) against the rules"),
    ("missing required extension", "a certificate lacks an extension the rules require"),
    ("cannot verify", "the chain could not be checked: a certificate in it is malformed"),
)


def plain_reason(raw: str | None, leaf: x509.Certificate) -> str:
    """A verifier failure as a sentence a helpdesk can read (the raw text goes to `detail`)."""
    text = raw or ""
    for marker, meaning in _REASONS:
        if marker in text:
            return meaning
    if _no_issuer_found(text):
        return (
            f"it does not lead to a trusted root: its issuer {_name(leaf.issuer)} is neither "
            "a trusted root nor among the certificates the server sent"
        )
    return "the chain does not lead to a trusted root"


def _no_issuer_found(raw: str | None) -> bool:
    """The verifier found no certificate to continue the path with."""
    return bool(raw) and ("candidates exhausted" in raw or "no issuer" in raw)


def load_chain(der_chain: list[bytes]) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(der) for der in der_chain]
