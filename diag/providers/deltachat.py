"""Delta Chat's provider pages (`_providers/*.md`): the facts of their YAML front matter.

The front matter has a fixed, small shape (scalars, block text, a list of domains, a
list of server mappings, one level of option mappings), so it is read by the few lines
that shape needs instead of a general YAML loader: no tags, anchors, aliases or flow
collections are accepted, and anything else is refused with the file's name and line.
Only facts are kept (domains, servers, status, last check date, website); the hints and
the page body are prose and are not read.
"""

from __future__ import annotations

from typing import Any

from diag.errors import BadInput

MAX_PAGE_BYTES = 256 * 1024
_SOCKETS = {"ssl": "ssl", "starttls": "starttls", "plain": "plain"}
_USERNAMES = {"email": "address", "emaillocalpart": "localpart"}
PAGE_URL = "https://providers.delta.chat/"


class FrontMatterError(BadInput):
    pass


class NothingToKeep(BadInput):
    """A well-formed page with no fact maildiag can use (only wildcard domains)."""


def front_matter(text: str, source: str) -> dict[str, Any]:
    """The front matter between the opening and closing `---` lines, as plain data."""
    if len(text.encode("utf-8", "replace")) > MAX_PAGE_BYTES:
        raise FrontMatterError(f"{source}: larger than {MAX_PAGE_BYTES // 1024} KiB")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise FrontMatterError(f"{source}: no front matter (first line is not ---)")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise FrontMatterError(f"{source}: front matter never closed (no second ---)") from None
    reader = _Reader(lines[1:end], source)
    first = reader._peek()
    return reader.mapping(first[0] if first else 0)


class _Reader:
    """Indentation-driven reader of the subset described in the module docstring."""

    def __init__(self, lines: list[str], source: str) -> None:
        self.lines = lines
        self.source = source
        self.pos = 0

    def fail(self, message: str) -> FrontMatterError:
        return FrontMatterError(f"{self.source}: line {self.pos + 2}: {message}")

    def _peek(self) -> tuple[int, str] | None:
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise self.fail("tab in indentation")
            stripped = raw.strip()
            if stripped and not stripped.startswith("#"):
                return len(raw) - len(raw.lstrip(" ")), stripped
            self.pos += 1
        return None

    def mapping(self, indent: int, first: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if first is not None:  # the first pair of a mapping that is a list item
            self._pair(first, indent, out)
        while (item := self._peek()) is not None:
            level, text = item
            if level < indent:
                break
            if level > indent or text.startswith("- "):
                raise self.fail("unexpected indentation")
            self._pair(text, indent, out)
        return out

    def _pair(self, text: str, indent: int, out: dict[str, Any]) -> None:
        key, sep, rest = text.partition(":")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise self.fail("expected key: value")
        if key in out:
            raise self.fail(f"duplicate key {key!r}")
        self.pos += 1
        rest = rest.strip()
        if rest in ("|", ">", "|-", ">-"):
            out[key] = self._block(indent)
        elif rest == "" or rest.startswith("#"):
            out[key] = self._nested(indent)
        else:
            out[key] = self._scalar(rest)

    def _nested(self, indent: int) -> Any:
        item = self._peek()
        if item is None or item[0] < indent or (item[0] == indent and not item[1].startswith("-")):
            return None
        level, text = item
        if text.startswith("- ") or text == "-":
            return self._sequence(level)
        return self.mapping(level)

    def _sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while (item := self._peek()) is not None:
            level, text = item
            if level < indent or not text.startswith("-"):
                break
            if level > indent:
                raise self.fail("unexpected indentation")
            body = text[1:].strip()
            key, sep, _ = body.partition(":")
            if sep and key.replace("_", "").isalnum() and not body.startswith(("'", '"')):
                out.append(self.mapping(indent + 2, first=body))
            else:
                self.pos += 1
                out.append(self._scalar(body))
        return out

    def _block(self, indent: int) -> str:
        parts = []
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            if raw.strip() and len(raw) - len(raw.lstrip(" ")) <= indent:
                break
            parts.append(raw.strip())
            self.pos += 1
        return "\n".join(parts)

    def _scalar(self, text: str) -> str:
        if text[0] in "&*!{[|>%@`":
            raise self.fail(f"unsupported YAML ({text[0]!r}): anchors, tags, flow collections")
        if text[0] in "'\"":
            quote = text[0]
            if len(text) < 2 or not text.endswith(quote):
                raise self.fail("unterminated quoted string")
            return text[1:-1]
        return text.split(" #", 1)[0].strip()


def to_entry(meta: dict[str, Any], file: str, commit: str, warnings: list[str]) -> dict[str, Any]:
    """A maildiag entry mapping (for schema.parse) from one page's front matter."""
    stem = file.rsplit("/", 1)[-1].removesuffix(".md")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise FrontMatterError(f"{file}: no name")
    domains = meta.get("domains")
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise FrontMatterError(f"{file}: domains must be a list of names")
    for wildcard in (d for d in domains if "*" in d):
        warnings.append(f"{file}: wildcard domain {wildcard!r} left out")
    if all("*" in d for d in domains):
        raise NothingToKeep(f"{file}: only wildcard domains, nothing to look up by")
    servers = meta.get("server") or []
    if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
        raise FrontMatterError(f"{file}: server must be a list of mappings")
    incoming, outgoing = [], []
    for index, server in enumerate(servers):
        row = _server(server, f"{file}: server[{index}]")
        (outgoing if row["protocol"] == "smtp" else incoming).append(row)
    status = str(meta.get("status", "")).lower()
    entry: dict[str, Any] = {
        "id": "dc-" + "".join(c if c.isalnum() else "-" for c in stem.lower()).strip("-"),
        "name": name,
        "domains": [d for d in domains if "*" not in d],
        "incoming": incoming,
        "outgoing": outgoing,
        "help": [PAGE_URL + stem.replace(".", "-")],
        "origin": {
            "file": file,
            "commit": commit,
            "date": str(meta.get("last_checked", "")),
            "status": status,
        },
    }
    if not incoming:
        entry["retired"] = ["No IMAP or POP3 server listed."]
    return entry


def _server(data: dict[str, Any], where: str) -> dict[str, Any]:
    kind = str(data.get("type", "")).lower()
    if kind not in ("imap", "smtp"):
        raise FrontMatterError(f"{where}: type must be imap or smtp")
    socket = _SOCKETS.get(str(data.get("socket", "")).lower())
    username = _USERNAMES.get(str(data.get("username_pattern", "email")).lower())
    try:
        port = int(str(data.get("port", "")))
    except ValueError:
        raise FrontMatterError(f"{where}: port is not a number") from None
    if socket is None or username is None:
        raise FrontMatterError(f"{where}: unknown socket or username_pattern")
    return {
        "protocol": kind,
        "host": str(data.get("hostname", "")),
        "port": port,
        "socket": socket,
        "username": username,
        "auth": ["password"],
    }
