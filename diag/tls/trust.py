"""Does the chain a server sent lead to a trusted root, and for which names is it valid?

Verification runs on the chain as sent (cryptography's RFC 5280 / Web PKI verifier),
decoupled from the clock and the host name, so that an expired certificate for the
wrong host is still known to be trusted or not: each problem is its own finding.
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
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import verification

from diag.errors import BadInput
from diag.model import TrustResult
from diag.tls import hostname
from diag.tls.certificate import ca_issuer_urls, is_self_signed, subject_alt_names


@dataclass(frozen=True)
class TrustStore:
    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()  # known, but not trust anchors
    verdicts: dict = field(default_factory=dict, compare=False, repr=False)

    def extended(self, pem_path: Path | None) -> TrustStore:
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
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read --ca-file {path}: {exc.strerror}") from None
    if len(data) > 10 * 1024 * 1024:
        raise BadInput(f"--ca-file {path} is larger than 10 MiB")
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
                with warnings.catch_warnings():  # some shipped roots have odd serials
                    warnings.simplefilter("ignore")
                    roots = x509.load_pem_x509_certificates(Path(candidate).read_bytes())
            except (OSError, ValueError):
                continue
            return TrustStore(tuple(roots))
    return TrustStore(())


def assess(chain: list[x509.Certificate], host: str, store: TrustStore) -> TrustResult:
    """Verdict on a chain; memoised, since one certificate usually serves every port."""
    key = (tuple(c.fingerprint(_SHA256) for c in chain), host)
    cached = store.verdicts.get(key)
    if cached is None:
        cached = store.verdicts[key] = _assess(chain, host, store)
    return dataclasses.replace(cached, valid_names=list(cached.valid_names))


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
    error = _verify(leaf, chain[1:], store.roots)
    if error is None:
        result.trusted = True
        return result
    result.error = error
    if (
        store.intermediates
        and _verify(leaf, chain[1:] + list(store.intermediates), store.roots) is None
    ):
        result.incomplete_chain = True
        result.incomplete_reason = "the chain verifies once the missing intermediate is added"
    elif len(chain) == 1 and not result.self_signed and _issuer_unknown(leaf, store):
        aia = _aia(leaf)
        if aia:
            result.incomplete_chain = True
            result.incomplete_reason = (
                f"the server sent only its own certificate; its issuer is published at {aia}"
            )
    return result


def _verify(
    leaf: x509.Certificate, intermediates: list[x509.Certificate], roots: tuple
) -> str | None:
    if not roots:
        return "no trusted root certificates available"
    subject = _subject_for(leaf)
    if subject is None:
        return "the certificate names no host (no subjectAltName)"
    builder = verification.PolicyBuilder().store(verification.Store(list(roots)))
    builder = builder.time(_inside_validity(leaf)).max_chain_depth(8)
    try:
        builder.build_server_verifier(subject).verify(leaf, intermediates)
    except verification.VerificationError as exc:
        return _clean(str(exc))
    except (ValueError, TypeError) as exc:
        return f"cannot verify: {exc}"
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
    urls = ca_issuer_urls(leaf)
    return urls[0] if urls else None


_REASONS = (
    ("Forbidden signature algorithm", "signed with an algorithm clients no longer accept"),
    ("Forbidden public key algorithm", "a key type or size clients no longer accept"),
    ("signature does not match", "a signature in the chain does not verify"),
    ("no issuer", "the issuer is not a trusted root and was not sent"),
)


def _clean(message: str) -> str:
    """cryptography's messages name Rust types; say what they mean, keep the original."""
    for marker, meaning in _REASONS:
        if marker in message:
            return f"{meaning} ({marker})"
    return message.replace("validation failed: ", "").strip() or "the chain does not verify"


def load_chain(der_chain: list[bytes]) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(der) for der in der_chain]
