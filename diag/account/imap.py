"""IMAP after the greeting: log in, look around, watch for a message, delete it.

Replies are read by IMAP's own framing, literals included (`{n}` then n bytes), each
read bounded in bytes, lines and time. Literal contents are folded into the line as
quoted strings, so one small tokenizer reads every response.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diag.account.model import ImapFacts, Mailbox, Quota
from diag.account.sasl import Mechanism, decode_challenge
from diag.account.secret import Secret
from diag.net.connection import Connection, ProtocolError, StepTimeout
from diag.quoting import quoted

LITERAL_LIMIT = 64 * 1024  # one literal (a mailbox name, a header block)
RESPONSE_LINES = 5000  # one command's untagged lines (LIST of a big account)
RESPONSE_BYTES = 1024 * 1024
MAILBOX_LIMIT = 500  # mailboxes kept for the report
ROLES = ("sent", "drafts", "junk", "trash", "archive", "all", "flagged")

_LITERAL = re.compile(r"\{(\d{1,9})\+?\}$")
_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+)')


@dataclass
class Response:
    status: str  # OK, NO, BAD
    text: str  # the tagged line after the status
    untagged: list[str]


class ImapClient:
    def __init__(self, conn: Connection, budget_seconds: float) -> None:
        self.conn = conn
        self.seconds = budget_seconds
        self._tag = 0
        self.capabilities: list[str] = []

    def deadline(self) -> float:
        import asyncio

        return asyncio.get_running_loop().time() + self.seconds

    def _next(self) -> str:
        self._tag += 1
        return f"a{self._tag}"

    async def read_logical_line(self, deadline: float) -> str:
        """One response line with its literals folded in as quoted strings."""
        line = await self.conn.read_line(deadline)
        parts: list[str] = []
        total = len(line)
        while True:
            match = _LITERAL.search(line)
            if not match:
                parts.append(line)
                return "".join(parts)
            size = int(match.group(1))
            if size > LITERAL_LIMIT:
                raise ProtocolError(f"IMAP literal of {size} bytes exceeds {LITERAL_LIMIT}")
            data = await self.conn.read_exactly(size, deadline)
            parts.append(line[: match.start()] + quote(data.decode("utf-8", errors="replace")))
            line = await self.conn.read_line(deadline)
            total += size + len(line)
            if total > RESPONSE_BYTES:
                raise ProtocolError("IMAP response line too large")

    async def command(self, command: str) -> Response:
        tag = self._next()
        deadline = self.deadline()
        await self.conn.send(f"{tag} {command}", deadline)
        return await self.finish(tag, deadline)

    async def finish(self, tag: str, deadline: float) -> Response:
        untagged: list[str] = []
        size = 0
        while True:
            line = await self.read_logical_line(deadline)
            size += len(line)
            if len(untagged) > RESPONSE_LINES or size > RESPONSE_BYTES:
                raise ProtocolError(
                    f"IMAP reply longer than {RESPONSE_LINES} lines or {RESPONSE_BYTES} bytes"
                )
            if line.startswith(tag + " "):
                status, _, text = line[len(tag) + 1 :].partition(" ")
                status = status.upper()
                if status not in ("OK", "NO", "BAD"):
                    raise ProtocolError(f"malformed tagged reply: {quoted(line, 120)}")
                self._note_capabilities(text)
                return Response(status, text, untagged)
            if line.startswith("+"):
                raise ProtocolError("unexpected continuation request")
            if not line.startswith("* "):
                raise ProtocolError(f"unexpected IMAP line: {quoted(line, 120)}")
            if line.upper().startswith("* CAPABILITY "):
                self.capabilities = line.split()[2:]
            untagged.append(line)

    def _note_capabilities(self, text: str) -> None:
        match = re.match(r"\[CAPABILITY ([^\]]*)\]", text, re.IGNORECASE)
        if match:
            self.capabilities = match.group(1).split()

    def has(self, capability: str) -> bool:
        return capability.upper() in (c.upper() for c in self.capabilities)

    # -- login -------------------------------------------------------------------------

    async def authenticate(self, mechanism: Mechanism, sasl_ir: bool) -> Response:
        """AUTHENTICATE (RFC 9051 6.2.2), the initial response inline when SASL-IR allows."""
        tag = self._next()
        deadline = self.deadline()
        initial = mechanism.initial() if mechanism.initial_response else None
        command = f"{tag} AUTHENTICATE {mechanism.name}"
        if initial is not None and sasl_ir:
            command += " " + (mechanism.encoded(initial) if initial else "=")
            initial = None
        await self.conn.send(command, deadline)
        rounds = 0
        while True:
            line = await self.read_logical_line(deadline)
            if line.startswith("+"):
                rounds += 1
                if rounds > 5:
                    await self.conn.send("*", deadline)
                    continue
                challenge = decode_challenge(line[1:].strip())
                if initial is not None:
                    answer: bytes | None = initial
                    initial = None
                else:
                    answer = mechanism.respond(challenge)
                await self.conn.send(
                    mechanism.encoded(answer) if answer else ("" if answer == b"" else "*"),
                    deadline,
                )
                continue
            if line.startswith(tag + " "):
                status, _, text = line[len(tag) + 1 :].partition(" ")
                self._note_capabilities(text)
                return Response(status.upper(), text, [])
            if line.upper().startswith("* CAPABILITY "):
                self.capabilities = line.split()[2:]
            elif not line.startswith("* "):
                raise ProtocolError(f"unexpected IMAP line: {quoted(line, 120)}")

    async def login(self, username: str, secret: Secret) -> Response:
        """The LOGIN command, strings quoted, or as synchronising literals when they must be."""
        tag = self._next()
        deadline = self.deadline()
        pending = f"{tag} LOGIN "
        for index, text in enumerate((username, secret.reveal())):
            tail = " " if index == 0 else ""
            if all(0x20 <= ord(c) < 0x7F for c in text):
                pending += quote(text) + tail
                continue
            payload = text.encode("utf-8")
            await self.conn.send_bytes(f"{pending}{{{len(payload)}}}\r\n".encode(), deadline)
            line = await self.read_logical_line(deadline)
            if not line.startswith("+"):
                if line.startswith(tag + " "):
                    status, _, rest = line[len(tag) + 1 :].partition(" ")
                    return Response(status.upper(), rest, [])
                raise ProtocolError("the server did not accept the literal")
            await self.conn.send_bytes(payload, deadline)
            pending = tail
        await self.conn.send_bytes(pending.encode("utf-8") + b"\r\n", deadline)
        return await self.finish(tag, deadline)

    # -- after login -------------------------------------------------------------------

    async def refresh_capabilities(self) -> None:
        await self.command("CAPABILITY")  # finish() records the list it returns

    async def mailboxes(self) -> tuple[list[Mailbox], bool]:
        special = self.has("SPECIAL-USE") and self.has("LIST-EXTENDED")
        command = 'LIST "" "*" RETURN (SPECIAL-USE)' if special else 'LIST "" "*"'
        response = await self.command(command)
        if response.status != "OK" and special:
            response = await self.command('LIST "" "*"')
        if response.status != "OK":
            raise ProtocolError(f"LIST refused: {response.text[:200]}")
        boxes: list[Mailbox] = []
        for line in response.untagged:
            tokens = tokenize(line)
            if (
                len(tokens) < 5
                or str(tokens[1]).upper() != "LIST"
                or not isinstance(tokens[2], list)
            ):
                continue
            attributes = [str(a) for a in tokens[2]]
            name = str(tokens[4])
            boxes.append(Mailbox(name, _role(attributes, name), attributes))
        truncated = len(boxes) > MAILBOX_LIMIT
        return boxes[:MAILBOX_LIMIT], truncated

    async def status_messages(self, mailbox: str) -> int | None:
        response = await self.command(f"STATUS {quote(mailbox)} (MESSAGES)")
        for line in response.untagged:
            match = re.search(r"\bMESSAGES (\d+)", line, re.IGNORECASE)
            if match:
                return int(match.group(1))
        return None

    async def quota(self) -> list[Quota]:
        response = await self.command("GETQUOTAROOT INBOX")
        quotas: list[Quota] = []
        for line in response.untagged:
            tokens = tokenize(line)
            if (
                len(tokens) >= 4
                and str(tokens[1]).upper() == "QUOTA"
                and isinstance(tokens[3], list)
            ):
                items = [str(t) for t in tokens[3]]
                for i in range(0, len(items) - 2, 3):
                    try:
                        quotas.append(
                            Quota(
                                str(tokens[2]),
                                items[i].upper(),
                                int(items[i + 1]),
                                int(items[i + 2]),
                            )
                        )
                    except ValueError:
                        continue
        return quotas

    async def select(self, mailbox: str, *, readonly: bool = False) -> Response:
        verb = "EXAMINE" if readonly else "SELECT"
        return await self.command(f"{verb} {quote(mailbox)}")

    async def search_message_id(self, message_id: str) -> list[str]:
        response = await self.command(f"UID SEARCH HEADER Message-ID {quote(message_id)}")
        return _search_result(response)

    async def search(self, criteria: str) -> list[str]:
        return _search_result(await self.command(f"UID SEARCH {criteria}"))

    async def noop_changed(self) -> bool:
        """NOOP; True when the server reports new or vanished messages."""
        response = await self.command("NOOP")
        return any(
            re.match(r"\* \d+ (EXISTS|RECENT|EXPUNGE)", line, re.IGNORECASE)
            for line in response.untagged
        )

    async def idle_until_change(self, seconds: float) -> bool:
        """IDLE (RFC 2177) up to `seconds`; True when the server announced a change."""
        import asyncio

        tag = self._next()
        deadline = self.deadline()
        await self.conn.send(f"{tag} IDLE", deadline)
        line = await self.read_logical_line(deadline)
        if not line.startswith("+"):
            if line.startswith(tag + " "):
                return False
            raise ProtocolError(f"IDLE refused: {quoted(line, 120)}")
        changed = False
        until = asyncio.get_running_loop().time() + seconds
        lines = 0
        while True:
            try:
                line = await self.read_logical_line(until)
            except StepTimeout:
                break
            lines += 1
            if lines > RESPONSE_LINES:
                raise ProtocolError("too many lines while idling")
            if re.match(r"\* \d+ (EXISTS|RECENT)", line, re.IGNORECASE):
                changed = True
                break
        await self.conn.send("DONE", self.deadline())
        await self.finish(tag, self.deadline())
        return changed

    async def delete_uid(self, uid: str, uidplus: bool) -> tuple[bool, str, str | None]:
        """(deleted, method, note). Never expunges other messages marked \\Deleted."""
        if uidplus:
            store = await self.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
            if store.status != "OK":
                return False, "UID STORE", f"flagging refused: {store.text[:200]}"
            expunge = await self.command(f"UID EXPUNGE {uid}")
            if expunge.status != "OK":
                return False, "UID EXPUNGE", f"UID EXPUNGE refused: {expunge.text[:200]}"
            return True, "UID EXPUNGE", None
        others = await self.search("DELETED")
        if others:
            return (
                False,
                "none",
                f"no UIDPLUS, and {len(others)} other message(s) already marked deleted: "
                "a plain EXPUNGE would remove them too, so the test message was left in place",
            )
        store = await self.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
        if store.status != "OK":
            return False, "UID STORE", f"flagging refused: {store.text[:200]}"
        expunge = await self.command("EXPUNGE")
        if expunge.status != "OK":
            return False, "EXPUNGE", f"EXPUNGE refused: {expunge.text[:200]}"
        return True, "EXPUNGE (only the test message was marked deleted)", None

    async def logout(self) -> None:
        await self.command("LOGOUT")


async def gather_facts(client: ImapClient) -> ImapFacts:
    """Mailboxes with roles, INBOX count, quota, and the capabilities clients rely on."""
    facts = ImapFacts()
    try:
        await client.refresh_capabilities()  # they often change once logged in
        facts.capabilities = list(client.capabilities)
        facts.idle = client.has("IDLE")
        facts.condstore = client.has("CONDSTORE")
        facts.move = client.has("MOVE")
        facts.uidplus = client.has("UIDPLUS")
        facts.mailboxes, facts.mailboxes_truncated = await client.mailboxes()
        facts.inbox_messages = await client.status_messages("INBOX")
        if client.has("QUOTA"):
            facts.quota = await client.quota()
    except (ProtocolError, StepTimeout) as exc:
        facts.errors.append(str(exc))
    return facts


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tokenize(line: str) -> list:
    """Atoms, quoted strings (unquoted) and parenthesised lists of an IMAP response."""
    stack: list[list] = [[]]
    for match in _TOKEN.finditer(line):
        token = match.group(1)
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) > 1:
                done = stack.pop()
                stack[-1].append(done)
        elif token.startswith('"'):
            stack[-1].append(re.sub(r"\\(.)", r"\1", token[1:-1]))
        else:
            stack[-1].append(token)
    while len(stack) > 1:
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


def _role(attributes: list[str], name: str) -> str | None:
    for attribute in attributes:
        role = attribute.lstrip("\\").lower()
        if role in ROLES:
            return role
    if name.upper() == "INBOX":
        return "inbox"
    return None


def _search_result(response: Response) -> list[str]:
    uids: list[str] = []
    for line in response.untagged:
        words = line.split()
        if len(words) >= 2 and words[1].upper() == "SEARCH":
            uids.extend(w for w in words[2:] if w.isdigit())
    return uids


def status_items(response: Response) -> dict[str, int]:
    """`* STATUS name (MESSAGES 3 UIDNEXT 9)` -> {"MESSAGES": 3, "UIDNEXT": 9}."""
    for line in response.untagged:
        tokens = tokenize(line)
        if len(tokens) >= 4 and str(tokens[1]).upper() == "STATUS" and isinstance(tokens[-1], list):
            items = [str(t) for t in tokens[-1]]
            return {
                items[i].upper(): int(items[i + 1])
                for i in range(0, len(items) - 1, 2)
                if items[i + 1].isdigit()
            }
    return {}


def uidnext(response: Response) -> int | None:
    for line in response.untagged:
        match = re.search(r"\[UIDNEXT (\d+)\]", line, re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None
