"""The trust store, loaded when first needed (cryptography costs tens of ms to import)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diag.tls.trust import TrustStore


def trust_store_loader(ca_file: Path | None) -> Callable[[], TrustStore]:
    """The trust store, built when the first certificate needs it.

    The system roots pull in cryptography (tens of ms): loading them lazily lets the
    first DNS query leave sooner. A --ca-file is read now, so a bad file is reported
    before any network work.
    """
    if ca_file is not None:
        from diag.tls.trust import system_store

        store = system_store().extended(ca_file)
        return lambda: store
    cache: list[TrustStore] = []

    def load() -> TrustStore:
        if not cache:
            from diag.tls.trust import system_store

            cache.append(system_store().extended(None))
        return cache[0]

    return load
