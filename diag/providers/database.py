"""The layered provider database: who wins for a domain, and where each answer comes from.

Layers, highest precedence first:
  user       your folders ($XDG_CONFIG_HOME/maildiag/providers, --providers-dir,
             MAILDIAG_PROVIDERS_DIR): *.toml entries and autoconfig *.xml files
  curated    maildiag's own entries (providers/*.toml), checked against providers' pages
  ispdb      facts from Thunderbird's ISPDB (providers/public/ispdb/, MPL-2.0)
  deltachat  facts from Delta Chat's provider database (providers/public/deltachat/, MPL-2.0)

The shipped layers are reached through a prebuilt index (diag/providers/index.py): a
lookup parses only the entries that name the domain. The user's folders are small and are
read on every run. A broken file in any layer is recorded in `errors` (with its name) and
skipped; the rest still answers.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diag.localfile import LocalFileError, read_local
from diag.providers.nesting import MAX_NESTING, nesting_depth
from diag.providers.schema import LAYERS, Provider, ProviderError, parse

ENV_DIRS = "MAILDIAG_PROVIDERS_DIR"  # extra entry folders, separated by os.pathsep
MAX_ENTRY_BYTES = 256 * 1024
_TWO_LEVEL = {"co", "com", "net", "org", "ne", "or", "ac", "gov", "edu", "gr", "ad"}


def shipped_dir() -> Path:
    """providers/ in a checkout, or the copy a wheel installs inside the package."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "providers_data", package.parent / "providers"):
        if candidate.is_dir():
            return candidate
    return package / "providers_data"


def user_dir() -> Path:
    """The folder maildiag reads by default and `providers import` writes to."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "maildiag" / "providers"


def read_bounded(path: Path, limit: int = MAX_ENTRY_BYTES) -> bytes:
    """A regular file's bytes, at most `limit` (diag.localfile, the one bounded reader):
    a FIFO or device never blocks the read, a huge file is refused. ProviderError."""
    try:
        return read_local(path, max_bytes=limit)
    except LocalFileError as exc:
        raise ProviderError(str(path), "(file)", str(exc).removeprefix(f"{path}: ")) from None


def read_entry(path: Path, layer: str = "") -> Provider:
    source = str(path)
    try:
        text = read_bounded(path).decode("utf-8")
        if nesting_depth(text) > MAX_NESTING:
            raise ProviderError(source, "(syntax)", f"nested deeper than {MAX_NESTING} levels")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ProviderError(source, "(file)", exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ProviderError(source, "(file)", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProviderError(source, "(syntax)", str(exc)) from None
    except RecursionError:  # only if the depth check above were ever loosened
        raise ProviderError(source, "(syntax)", "nested too deeply") from None
    return parse(data, source, layer)


def read_user_file(path: Path) -> list[Provider]:
    """A user's *.toml entry, or an autoconfig *.xml file (one entry per emailProvider)."""
    if path.suffix == ".toml":
        return [read_entry(path, "user")]
    from diag.providers.autoconfig import MAX_XML_BYTES, AutoconfigError, read

    try:
        return read(read_bounded(path, MAX_XML_BYTES), str(path), layer="user")
    except OSError as exc:
        raise ProviderError(str(path), "(file)", exc.strerror or str(exc)) from None
    except AutoconfigError as exc:
        raise ProviderError(str(path), "(xml)", str(exc).removeprefix(f"{path}: ")) from None


def mx_names(host: str) -> list[str]:
    """Names Thunderbird also looks up for an MX host: the host minus its first label,
    then its base domain (mx1.mail.ovh.net -> mail.ovh.net, ovh.net). The base domain
    is guessed without the public-suffix list: two labels, three under co.uk-style
    second levels."""
    labels = host.rstrip(".").lower().split(".")
    names = []
    if len(labels) > 2:
        names.append(".".join(labels[1:]))
    keep = 3 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _TWO_LEVEL else 2
    base = ".".join(labels[-keep:])
    if len(labels) > keep and base not in names:
        names.append(base)
    return names


@dataclass(frozen=True)
class MxMatch:
    provider: Provider
    host: str  # the MX host it matched by
    how: str  # "pattern *.x" or "name x" (host minus first label / base domain)


@dataclass
class ProviderDatabase:
    root: Path | None = None  # shipped folder; None: no shipped layers (tests)
    errors: list[ProviderError] = field(default_factory=list)
    _index: dict[str, Any] = field(default_factory=dict)
    _user: dict[str, Provider] = field(default_factory=dict)
    _user_domains: dict[str, list[str]] = field(default_factory=dict)
    _user_mx: dict[str, list[str]] = field(default_factory=dict)
    _loaded: dict[str, Provider] = field(default_factory=dict)
    _all: dict[str, Provider] | None = None
    _suffixes: list[tuple[str, str]] | None = None

    # -- entries -------------------------------------------------------------------
    def _get(self, key: str) -> Provider | None:
        """A shipped entry by its index key (layer:id), parsed on first use."""
        if key in self._loaded:
            return self._loaded[key]
        layer, _, provider_id = key.partition(":")
        if layer == "user":
            return self._user.get(provider_id)
        if provider_id in self._user or self.root is None:
            return None  # a user entry with the same id replaces it
        relative = self._index.get("entries", {}).get(key)
        if relative is None:
            return None
        try:
            provider = read_entry(self.root / relative, layer)
        except ProviderError as exc:
            self.errors.append(exc)
            provider = None
        if provider is not None:
            self._loaded[key] = provider
        return provider

    @property
    def providers(self) -> dict[str, Provider]:
        """Every entry of every layer by id (user entries replace same-id shipped ones)."""
        if self._all is None:
            out: dict[str, Provider] = {}
            for key in self._index.get("entries", {}):
                provider = self._get(key)
                if provider is not None:
                    out[provider.id] = provider
            out.update(self._user)
            self._all = out
        return self._all

    def get(self, provider_id: str) -> Provider | None:
        if provider_id in self._user:
            return self._user[provider_id]
        for layer in LAYERS[1:]:
            provider = self._get(f"{layer}:{provider_id}")
            if provider is not None:
                return provider
        return None

    # -- by domain ------------------------------------------------------------------
    def candidates(self, domain: str) -> list[Provider]:
        """Every entry naming the domain, highest layer first: the first one answers,
        the others are its rivals (shown when they disagree)."""
        keys = [
            *self._user_domains.get(domain, []),
            *self._index.get("domains", {}).get(domain, []),
        ]
        found = [p for p in (self._get(k) for k in keys) if p is not None]
        return list({id(p): p for p in found}.values())

    def by_domain(self, domain: str) -> Provider | None:
        found = self.candidates(domain)
        return found[0] if found else None

    def rivals(self, provider: Provider) -> list[Provider]:
        """Entries of other layers that name one of this entry's domains, or (for an entry
        known by MX only) a name its MX patterns lead to, as an MX lookup would."""
        names = list(provider.domains)
        for pattern in provider.mx:
            bare = pattern.removeprefix("*.")
            names += [bare, *mx_names(bare)]
        out: dict[str, Provider] = {}
        for domain in dict.fromkeys(names):
            for other in self.candidates(domain):
                if other.layer != provider.layer and other.id != provider.id:
                    out.setdefault(other.id, other)
        return list(out.values())

    # -- by MX --------------------------------------------------------------------------
    def _patterns(self) -> list[tuple[str, str]]:
        """(pattern, key) for every MX pattern, user layer first, then shipped order."""
        if self._suffixes is None:
            pairs = [(p, k) for p, keys in self._user_mx.items() for k in keys]
            pairs += [(p, k) for p, keys in self._index.get("mx", {}).items() for k in keys]
            order = {layer: i for i, layer in enumerate(LAYERS)}
            # most specific pattern first; among equals, the higher layer
            pairs.sort(key=lambda pk: (-len(pk[0].lstrip("*")), order[pk[1].partition(":")[0]]))
            self._suffixes = pairs
        return self._suffixes

    def by_mx_host(self, mx_host: str) -> MxMatch | None:
        host = mx_host.rstrip(".").lower()
        for pattern, key in self._patterns():
            hit = host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))
            if hit and (provider := self._get(key)) is not None:
                return MxMatch(provider, host, f"pattern {pattern}")
        for name in mx_names(host):
            provider = self.by_domain(name)
            if provider is not None:
                return MxMatch(provider, host, f"name {name}")
        return None

    def by_mx(self, mx_host: str) -> Provider | None:
        found = self.by_mx_host(mx_host)
        return found.provider if found else None

    def match(self, domain: str, mx_hosts: list[str]) -> tuple[Provider | None, str | None]:
        """By domain first, then by the first MX host (best preference first) that an `mx`
        pattern or an MX-derived name identifies. Returns the provider and that MX host."""
        provider = self.by_domain(domain)
        if provider is not None:
            return provider, None
        for host in mx_hosts:
            found = self.by_mx_host(host)
            if found is not None:
                return found.provider, host
        return None, None

    # -- building -------------------------------------------------------------------------
    def add_user(self, provider: Provider) -> None:
        self._user[provider.id] = provider
        for domain in provider.domains:
            self._user_domains.setdefault(domain, []).insert(0, f"user:{provider.id}")
        for pattern in provider.mx:
            self._user_mx.setdefault(pattern, []).insert(0, f"user:{provider.id}")


def load(
    extra_dirs: list[Path] | None = None,
    *,
    strict_shipped: bool = False,
    shipped: bool = True,
    default_user: bool = True,
    root: Path | None = None,
) -> ProviderDatabase:
    """Shipped layers through their index, then the user's folders (later folders win).

    A broken file is recorded in `errors` and skipped; the others still load.
    """
    from diag.providers import index

    root = (root or shipped_dir()) if shipped else None
    database = ProviderDatabase(root=root)
    if root is not None:
        data = index.load_index(root)
        if data is None or strict_shipped:
            data, problems = index.build(root)
            if problems and strict_shipped:
                raise problems[0]
            database.errors.extend(p for p in problems if isinstance(p, ProviderError))
        database._index = data
    folders = [*([user_dir()] if default_user else []), *(extra_dirs or []), *_env_dirs()]
    for position, folder in enumerate(folders):
        if not folder.is_dir():
            if position > 0 or not default_user:  # the default folder may well not exist
                database.errors.append(ProviderError(str(folder), "(folder)", "not a directory"))
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".toml", ".xml") or path.name.startswith("."):
                continue
            try:
                entries = read_user_file(path)
            except ProviderError as exc:
                database.errors.append(exc)
                continue
            for provider in entries:
                database.add_user(provider)
    return database


def _env_dirs() -> list[Path]:
    value = os.environ.get(ENV_DIRS, "")
    return [Path(p) for p in value.split(os.pathsep) if p]
