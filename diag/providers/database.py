"""Load the provider entries once and index them by domain and MX pattern."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from diag.providers.schema import Provider, ProviderError, parse

ENV_DIRS = "MAILDIAG_PROVIDERS_DIR"  # extra entry folders, separated by os.pathsep
MAX_ENTRY_BYTES = 256 * 1024


def shipped_dir() -> Path:
    """providers/ in a checkout, or the copy a wheel installs inside the package."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "providers_data", package.parent / "providers"):
        if candidate.is_dir():
            return candidate
    return package / "providers_data"


@dataclass
class ProviderDatabase:
    providers: dict[str, Provider] = field(default_factory=dict)
    errors: list[ProviderError] = field(default_factory=list)
    _by_domain: dict[str, Provider] = field(default_factory=dict)
    _mx_exact: dict[str, Provider] = field(default_factory=dict)
    _mx_suffix: list[tuple[str, Provider]] = field(default_factory=list)

    def _reindex(self) -> None:
        self._by_domain.clear()
        self._mx_exact.clear()
        self._mx_suffix.clear()
        for provider in self.providers.values():
            for domain in provider.domains:
                self._by_domain[domain] = provider
            for pattern in provider.mx:
                if pattern.startswith("*."):
                    self._mx_suffix.append(("." + pattern[2:], provider))
                else:
                    self._mx_exact[pattern] = provider
        self._mx_suffix.sort(key=lambda item: -len(item[0]))  # most specific first

    def by_domain(self, domain: str) -> Provider | None:
        return self._by_domain.get(domain)

    def match(self, domain: str, mx_hosts: list[str]) -> tuple[Provider | None, str | None]:
        """By domain first, then by the first MX host (best preference first) that an `mx`
        pattern names. Returns the provider and the MX host it matched by, if any."""
        provider = self.by_domain(domain)
        if provider is not None:
            return provider, None
        for host in mx_hosts:
            provider = self.by_mx(host)
            if provider is not None:
                return provider, host
        return None, None

    def by_mx(self, mx_host: str) -> Provider | None:
        host = mx_host.rstrip(".").lower()
        if host in self._mx_exact:
            return self._mx_exact[host]
        for suffix, provider in self._mx_suffix:
            if host.endswith(suffix):
                return provider
        return None


def read_entry(path: Path) -> Provider:
    source = str(path)
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            raise ProviderError(source, "(file)", f"larger than {MAX_ENTRY_BYTES} bytes")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProviderError(source, "(file)", exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ProviderError(source, "(file)", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProviderError(source, "(syntax)", str(exc)) from None
    return parse(data, source)


def load(extra_dirs: list[Path] | None = None, *, strict_shipped: bool = False) -> ProviderDatabase:
    """Shipped entries, then each extra folder (later folders win).

    A broken file is recorded in `errors` and skipped; the others still load.
    """
    database = ProviderDatabase()
    folders = [shipped_dir(), *(extra_dirs or []), *_env_dirs()]
    for index, folder in enumerate(folders):
        if index > 0 and not folder.is_dir():
            database.errors.append(ProviderError(str(folder), "(folder)", "not a directory"))
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                provider = read_entry(path)
            except ProviderError as exc:
                if strict_shipped and index == 0:
                    raise
                database.errors.append(exc)
                continue
            database.providers[provider.id] = provider
    database._reindex()
    return database


def _env_dirs() -> list[Path]:
    value = os.environ.get(ENV_DIRS, "")
    return [Path(p) for p in value.split(os.pathsep) if p]
