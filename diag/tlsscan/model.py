"""What the scanner learns about one service (plain data, part of the JSON contract)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WeakClass:
    accepted: bool | None  # None: could not be tested
    suite: str | None = None  # the suite the server chose, when accepted
    version: str | None = None  # with which protocol version


@dataclass
class TlsScan:
    # "SSLv3" ... "TLSv1.3" -> True accepted, False refused, None could not test
    versions: dict[str, bool | None] = field(default_factory=dict)
    # "NULL", "anonymous", "EXPORT", "RC4", "3DES"
    weak: dict[str, WeakClass] = field(default_factory=dict)
    # per hello ("TLSv1", "RC4", ...): the server's answer when it was not a ServerHello
    answers: dict[str, str] = field(default_factory=dict)
    hellos: int = 0
    retries: int = 0  # hellos asked again after the server turned the session away
    elapsed_ms: float = 0.0

    @property
    def weak_accepted(self) -> dict[str, WeakClass]:
        return {name: w for name, w in self.weak.items() if w.accepted}
