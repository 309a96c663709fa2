"""SSL contexts for probing.

The probe must finish a handshake with a broken server to describe what is wrong, so
it never lets OpenSSL reject a certificate: verification is done afterwards, on the
chain the server sent (diag.tls.trust). SECLEVEL=0 keeps OpenSSL 3 from refusing
weak keys and old protocols that the probe exists to report.
"""

from __future__ import annotations

import functools
import ssl
import warnings
from _ssl import ENCODING_DER


@functools.cache
def probe_context() -> ssl.SSLContext:
    """The main handshake: whatever the server prefers, TLS 1.0 up to 1.3.

    Contexts are built once per process (OpenSSL 3 makes that slow) and never mutated.
    """
    context = _permissive()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    return context


def _permissive() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def peer_chain_der(ssl_object: ssl.SSLObject) -> list[bytes]:
    """The certificates exactly as the server sent them, leaf first.

    Python 3.11 exposes the unverified chain only on the private `_sslobj`
    (public as `get_unverified_chain()` from 3.13); fall back to the leaf alone.
    """
    public = getattr(ssl_object, "get_unverified_chain", None)
    inner = getattr(ssl_object, "_sslobj", None)
    getter = public or getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return [c if isinstance(c, bytes) else c.public_bytes(ENCODING_DER) for c in chain]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []
