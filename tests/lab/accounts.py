"""A scripted mail system for the account tests: IMAP, POP3 and SMTP sharing a mailbox.

Real servers (Dovecot, an MTA) cover the ordinary paths once the lab runs them; these
servers script what real ones cannot do on demand: provider refusal texts (Gmail,
Microsoft), OAuth-only offers, a plaintext-only host whose log proves no credential
arrived, a connection dropped in the middle of AUTH, and a mailbox without UIDPLUS
holding someone else's deleted mail. Everything listens in 127.0.5.0/24.

Each host is a `Profile`; servers on one host share one `Store`, and SMTP delivers
into it after `delivery_delay` (an MTA's queue), so a round trip really travels
submission -> queue -> mailbox -> IMAP/POP3.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import ssl
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import pki

USER = "alice@account.test"
PASSWORD = 'Tr0ub4dor&3 "x"\\y'  # a quote and a backslash: IMAP quoting is exercised
TOKEN = "ya29.scripted-bearer-token"
OTHER = "other@account.test"
BOB, BOB_PASSWORD = "bob@account.test", "pässwörd ✓ 9"  # not ASCII: IMAP LOGIN needs literals

HOSTS = {
    "good": "127.0.5.1",  # TLS everywhere, SASL-IR, IDLE, UIDPLUS, SPECIAL-USE, QUOTA
    "plain": "127.0.5.2",  # no TLS at all: nothing may be sent
    "untrusted": "127.0.5.3",  # self-signed certificate
    "oauth": "127.0.5.4",  # offers only XOAUTH2/OAUTHBEARER
    "refusals": "127.0.5.5",  # provider refusal texts, chosen by username
    "drop": "127.0.5.6",  # hangs up in the middle of AUTH
    "legacy": "127.0.5.7",  # IMAP LOGIN only, no IDLE, no UIDPLUS; POP3 USER/PASS
}

# username -> (IMAP tagged answer, POP3 answer, SMTP reply). Texts as the providers send them.
REFUSALS: dict[str, tuple[str, str, str]] = {
    "wrong@account.test": (
        "NO [AUTHENTICATIONFAILED] Authentication failed.",
        "-ERR [AUTH] Authentication failed.",
        "535 5.7.8 Error: authentication failed: authentication failure",
    ),
    "gmail-app@account.test": (
        "NO [ALERT] Application-specific password required: "
        "https://support.google.com/accounts/answer/185833 (Failure)",
        "-ERR [AUTH] Application-specific password required: "
        "https://support.google.com/accounts/answer/185833",
        "534-5.7.9 Application-specific password required. Learn more at\r\n"
        "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor x1-gsmtp",
    ),
    "m365@account.test": (
        "NO LOGIN failed.",
        "-ERR Logon failure: unknown user name or bad password.",
        "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. "
        "[AM0PR01CA0001.eurprd01.prod.outlook.com]",
    ),
    "tenant@account.test": (
        "NO AUTHENTICATE failed.",
        "-ERR Authentication failure",
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
        "the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
    ),
    "webalert@account.test": (
        "NO [WEBALERT https://accounts.google.com/signin/continue?x=1] Web login required.",
        "-ERR [AUTH] Web login required: https://support.google.com/mail/answer/78754",
        "534-5.7.14 <https://accounts.google.com/signin/continue?x=1> Please log in via\r\n"
        "534 5.7.14 your web browser and then try again. x1-gsmtp",
    ),
    "quota@account.test": (
        "NO [OVERQUOTA] Mailbox is over quota",
        "-ERR [SYS/PERM] Mailbox is over quota",
        "554 5.7.0 Account disabled: mailbox over quota",
    ),
    "locked@account.test": (
        "NO [UNAVAILABLE] Account is locked",
        "-ERR [IN-USE] Mailbox locked by another session",
        "454 4.7.0 Account locked, try again later",
    ),
    "busy@account.test": (
        "NO [LIMIT] Too many login attempts, try later",
        "-ERR [SYS/TEMP] Too many connections",
        "454 4.7.0 Temporary authentication failure",
    ),
    "odd@account.test": (
        "NO Computer says no.",
        "-ERR Computer says no.",
        "535 Computer says no.",
    ),
    "echo@account.test": ("", "", ""),  # echoes the credentials back in its refusal
}


@dataclass
class Message:
    uid: int
    data: bytes
    flags: set[str] = field(default_factory=set)

    def header(self, name: str) -> str:
        head = self.data.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        for line in head.split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return ""


@dataclass
class Folder:
    name: str
    role: str | None = None
    uidnext: int = 1
    messages: list[Message] = field(default_factory=list)

    def add(self, data: bytes, flags: set[str] | None = None) -> Message:
        message = Message(self.uidnext, data, set(flags or ()))
        self.uidnext += 1
        self.messages.append(message)
        return message


@dataclass
class Profile:
    name: str
    address: str
    tls: bool = True  # implicit-TLS ports and STARTTLS on the others
    trusted: bool = True
    imap_auth: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5")
    imap_login_disabled: bool = True
    sasl_ir: bool = True
    idle: bool = True
    uidplus: bool = True
    special_use: bool = True
    quota: tuple[int, int] | None = (2048, 1048576)  # KiB used, limit
    pop3_sasl: tuple[str, ...] = ("PLAIN",)
    pop3_user: bool = False
    smtp_auth: tuple[str, ...] = ("PLAIN", "LOGIN")
    drop_on_auth: bool = False
    refusals: bool = False
    delivery_delay: float = 0.2


def sample(subject: str, message_id: str) -> bytes:
    return (
        f"From: <{OTHER}>\r\nTo: <{USER}>\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n\r\nHello.\r\n"
    ).encode()


class Store:
    """One mailbox shared by a host's IMAP, POP3 and SMTP servers."""

    def __init__(self) -> None:
        self.folders = {
            "INBOX": Folder("INBOX"),
            "Sent": Folder("Sent", "sent"),
            "Drafts": Folder("Drafts", "drafts"),
            "Junk": Folder("Junk", "junk"),
            "Trash": Folder("Trash", "trash"),
        }
        self.changed = asyncio.Condition()
        self.log: list[str] = []
        self.queue_counter = 0
        inbox = self.folders["INBOX"]
        inbox.add(sample("first", "<one@account.test>"), {"\\Seen"})
        inbox.add(sample("second", "<two@account.test>"))

    def snapshot(self) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
        return {
            name: [(m.uid, tuple(sorted(m.flags))) for m in f.messages]
            for name, f in self.folders.items()
        }

    async def deliver(self, recipient: str, data: bytes) -> None:
        local = recipient.partition("@")[0].lower()
        if local == "void":
            return  # accepted by the queue, never delivered
        folder = self.folders["Junk" if local == "spam" else "INBOX"]
        folder.add(data)
        async with self.changed:
            self.changed.notify_all()


def check_password(username: str, password: str) -> bool:
    return {USER: PASSWORD, BOB: BOB_PASSWORD}.get(username) == password


class Servers:
    """Runs every scripted host in a background event loop (like tests/lab/scripted.py)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers: list[asyncio.Server] = []
        self.stores: dict[str, Store] = {}
        self.profiles: dict[str, Profile] = {}
        self._pki()
        self.thread.start()

    def _pki(self) -> None:
        directory = self.root / "account-pki"
        directory.mkdir(parents=True, exist_ok=True)
        root = pki.make_ca("maildiag account lab root")
        (directory / "root.pem").write_bytes(pki.pem(root.cert))
        self.ca_file = directory / "root.pem"
        trusted = [a for n, a in HOSTS.items() if n != "untrusted"]
        good = pki.write_pair(directory, "good", pki.make_leaf(trusted, root), [])
        bad = pki.write_pair(directory, "selfsigned", pki.make_leaf([HOSTS["untrusted"]], None), [])
        self.contexts = {}
        for key, pair in (("good", good), ("bad", bad)):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pair.cert_file, pair.key_file)
            self.contexts[key] = context

    def call(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, profiles: list[Profile]) -> None:
        for profile in profiles:
            self.call(self._start(profile))

    async def _start(self, profile: Profile) -> None:
        store = Store()
        if not profile.uidplus:  # someone else's mail, already marked deleted
            store.folders["INBOX"].add(sample("theirs", "<three@account.test>"), {"\\Deleted"})
        self.stores[profile.name] = store
        self.profiles[profile.name] = profile
        context = self.contexts["good" if profile.trusted else "bad"]
        plans: list[tuple[int, Callable, bool]] = [
            (143, Imap, False),
            (110, Pop3, False),
            (587, Smtp, False),
        ]
        if profile.tls:
            plans += [(993, Imap, True), (995, Pop3, True), (465, Smtp, True)]
        for port, kind, implicit in plans:

            async def handler(reader, writer, kind=kind, implicit=implicit):
                session = kind(profile, store, reader, writer, context, implicit)
                with suppress(Exception):
                    await session.run()
                with suppress(Exception):
                    writer.close()

            server = await asyncio.start_server(
                handler,
                profile.address,
                port,
                ssl=context if implicit else None,
                reuse_address=True,
            )
            self.servers.append(server)

    def stop(self) -> None:
        async def close() -> None:
            for server in self.servers:
                server.close()
                with suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 1)

        with suppress(Exception):
            self.call(close(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Session:
    label = "?"

    def __init__(self, profile, store, reader, writer, context, implicit) -> None:
        self.profile: Profile = profile
        self.store: Store = store
        self.reader: asyncio.StreamReader = reader
        self.writer: asyncio.StreamWriter = writer
        self.context: ssl.SSLContext = context
        self.secure = implicit
        self.user: str | None = None

    async def send(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def line(self) -> str | None:
        raw = await asyncio.wait_for(self.reader.readline(), 30)
        if not raw:
            return None
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        self.store.log.append(f"{self.label} {'tls' if self.secure else 'plain'}: {text}")
        return text

    async def upgrade(self) -> None:
        await self.writer.start_tls(self.context)
        self.secure = True

    def refusal(self, index: int, username: str, secret: str) -> str | None:
        """The scripted refusal for this username, or None to check the password."""
        if not self.profile.refusals:
            return None
        if username == "echo@account.test":
            return [
                f"NO unknown user {username} with password {secret}",
                f"-ERR bad password {secret}",
                f"535 5.7.8 bad credentials {base64.b64encode(secret.encode()).decode()}",
            ][index]
        scripted = REFUSALS.get(username)
        return scripted[index] if scripted else None


def _sasl_plain(blob: str) -> tuple[str, str]:
    try:
        parts = base64.b64decode(blob).decode().split("\x00")
    except Exception:
        return "", ""
    return (parts[1], parts[2]) if len(parts) == 3 else ("", "")


def _xoauth2(blob: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(blob).decode()
    except Exception:
        return "", ""
    user = re.search(r"user=([^\x01]*)", text) or re.search(r"a=([^,]*),", text)
    token = re.search(r"auth=Bearer ([^\x01]*)", text)
    return (user.group(1) if user else "", token.group(1) if token else "")


class Imap(Session):
    label = "imap"

    def caps(self) -> str:
        p = self.profile
        words = ["IMAP4rev1", "LITERAL+", "ENABLE", "ID"]
        if not self.secure:
            words.append("STARTTLS") if p.tls else None
            words.append("LOGINDISABLED") if p.tls else words.append("AUTH=PLAIN")
        elif self.user is None:
            words += [f"AUTH={m}" for m in p.imap_auth]
            if p.sasl_ir:
                words.append("SASL-IR")
            if p.imap_login_disabled:
                words.append("LOGINDISABLED")
        else:
            for flag, name in (
                (p.idle, "IDLE"),
                (p.uidplus, "UIDPLUS"),
                (p.special_use, "SPECIAL-USE"),
                (p.special_use, "LIST-EXTENDED"),
                (p.quota is not None, "QUOTA"),
            ):
                if flag:
                    words.append(name)
            words += ["CONDSTORE", "MOVE"]
        return " ".join(words)

    async def full_line(self) -> str | None:
        line = await self.line()
        while line is not None:
            match = re.search(r"\{(\d+)(\+?)\}$", line)
            if not match:
                return line
            if not match.group(2):
                await self.send("+ go ahead")
            data = await self.reader.readexactly(int(match.group(1)))
            rest = await self.line() or ""
            literal = data.decode("utf-8", "replace")
            quoted = '"' + literal.replace("\\", "\\\\").replace('"', '\\"') + '"'
            line = line[: match.start()] + quoted + rest
        return line

    async def run(self) -> None:
        await self.send("* OK [CAPABILITY " + self.caps() + "] scripted IMAP ready")
        self.selected: Folder | None = None
        self.reported = 0
        while True:
            line = await self.full_line()
            if line is None:
                return
            tag, _, rest = line.partition(" ")
            verb, _, args = rest.partition(" ")
            verb = verb.upper()
            if verb == "UID":
                sub, _, args = args.partition(" ")
                verb = "UID " + sub.upper()
            handler = getattr(self, "do_" + verb.replace(" ", "_"), None)
            if handler is None:
                await self.send(f"{tag} BAD unknown command")
                continue
            if await handler(tag, args) is False:
                return

    async def do_CAPABILITY(self, tag, args):
        await self.send("* CAPABILITY " + self.caps())
        await self.send(f"{tag} OK done")

    async def do_NOOP(self, tag, args):
        folder = self.selected
        if folder is not None and len(folder.messages) != self.reported:
            self.reported = len(folder.messages)
            await self.send(f"* {self.reported} EXISTS")
        await self.send(f"{tag} OK done")

    async def do_LOGOUT(self, tag, args):
        await self.send("* BYE bye")
        await self.send(f"{tag} OK done")
        return False

    async def do_STARTTLS(self, tag, args):
        await self.send(f"{tag} OK Begin TLS")
        await self.upgrade()

    async def _result(self, tag: str, username: str, secret: str) -> bool | None:
        if self.profile.drop_on_auth:
            self.writer.transport.abort()
            return False
        scripted = self.refusal(0, username, secret)
        if scripted:
            await self.send(f"{tag} {scripted}")
            return None
        if check_password(username, secret) or (username == USER and secret == TOKEN):
            self.user = username
            await self.send(f"{tag} OK [CAPABILITY {self.caps()}] Logged in")
        else:
            await self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")
        return None

    async def do_LOGIN(self, tag, args):
        from diag.account.imap import tokenize

        if "LOGINDISABLED" in self.caps().split():
            await self.send(f"{tag} NO [PRIVACYREQUIRED] LOGIN disabled")
            return None
        words = [str(w) for w in tokenize(args)]
        if len(words) != 2:
            await self.send(f"{tag} BAD LOGIN needs two arguments")
            return None
        return await self._result(tag, words[0], words[1])

    async def do_AUTHENTICATE(self, tag, args):
        words = args.split()
        mechanism = words[0].upper() if words else ""
        offered = [w[5:] for w in self.caps().split() if w.startswith("AUTH=")]
        if mechanism not in offered:
            await self.send(f"{tag} NO unsupported mechanism")
            return None
        if self.profile.drop_on_auth:
            self.writer.transport.abort()
            return False
        initial = words[1] if len(words) > 1 else None
        if mechanism in ("PLAIN", "XOAUTH2", "OAUTHBEARER"):
            if initial is None:
                await self.send("+ ")
                initial = await self.line() or ""
            if mechanism == "PLAIN":
                user, secret = _sasl_plain(initial)
            else:
                user, secret = _xoauth2(initial)
                if secret != TOKEN:
                    await self.send("+ eyJzdGF0dXMiOiI0MDAifQ==")
                    await self.line()
                    await self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
                    return None
        elif mechanism == "LOGIN":
            await self.send("+ " + base64.b64encode(b"Username:").decode())
            user = base64.b64decode(await self.line() or "").decode()
            await self.send("+ " + base64.b64encode(b"Password:").decode())
            secret = base64.b64decode(await self.line() or "").decode()
        else:  # CRAM-MD5
            challenge = b"<1896.697170952@account.test>"
            await self.send("+ " + base64.b64encode(challenge).decode())
            answer = base64.b64decode(await self.line() or "").decode()
            user, _, digest = answer.rpartition(" ")
            expected = hmac.new(PASSWORD.encode(), challenge, hashlib.md5).hexdigest()
            secret = PASSWORD if digest == expected else ""
        return await self._result(tag, user, secret)

    def _folder(self, name: str) -> Folder | None:
        name = name.strip('"')
        return self.store.folders.get("INBOX" if name.upper() == "INBOX" else name)

    async def do_LIST(self, tag, args):
        for folder in self.store.folders.values():
            flags = ["\\HasNoChildren"]
            if folder.role and self.profile.special_use:
                flags.append("\\" + folder.role.capitalize())
            await self.send(f'* LIST ({" ".join(flags)}) "/" {folder.name}')
        await self.send(f"{tag} OK done")

    async def do_STATUS(self, tag, args):
        name = args.split(" (")[0]
        folder = self._folder(name)
        if folder is None:
            await self.send(f"{tag} NO [NONEXISTENT] no such mailbox")
            return
        await self.send(
            f"* STATUS {folder.name} (MESSAGES {len(folder.messages)} UIDNEXT {folder.uidnext})"
        )
        await self.send(f"{tag} OK done")

    async def do_GETQUOTAROOT(self, tag, args):
        used, limit = self.profile.quota or (0, 0)
        await self.send('* QUOTAROOT INBOX ""')
        await self.send(f'* QUOTA "" (STORAGE {used} {limit})')
        await self.send(f"{tag} OK done")

    async def do_SELECT(self, tag, args):
        folder = self._folder(args)
        if folder is None:
            await self.send(f"{tag} NO [NONEXISTENT] no such mailbox")
            return
        self.selected = folder
        self.reported = len(folder.messages)
        await self.send(f"* {len(folder.messages)} EXISTS")
        await self.send(f"* OK [UIDNEXT {folder.uidnext}] next")
        await self.send(f"{tag} OK [READ-WRITE] selected")

    do_EXAMINE = do_SELECT

    def _matches(self, message: Message, criteria: list) -> bool:
        i = 0
        while i < len(criteria):
            word = str(criteria[i]).upper()
            if word == "UID":
                low, _, high = str(criteria[i + 1]).partition(":")
                top = self.selected.uidnext if high == "*" else int(high or low)
                if not int(low) <= message.uid <= max(top, int(low)):
                    return False
                i += 2
            elif word == "HEADER":
                if str(criteria[i + 2]).lower() not in message.header(str(criteria[i + 1])).lower():
                    return False
                i += 3
            elif word == "DELETED":
                if "\\Deleted" not in message.flags:
                    return False
                i += 1
            elif word == "UNDELETED":
                if "\\Deleted" in message.flags:
                    return False
                i += 1
            else:
                i += 1
        return True

    async def do_UID_SEARCH(self, tag, args):
        from diag.account.imap import tokenize

        criteria = tokenize(args)
        uids = [str(m.uid) for m in self.selected.messages if self._matches(m, criteria)]
        await self.send("* SEARCH" + "".join(" " + u for u in uids))
        await self.send(f"{tag} OK done")

    async def do_UID_STORE(self, tag, args):
        uid, _, rest = args.partition(" ")
        for message in self.selected.messages:
            if str(message.uid) == uid and "\\Deleted" in rest:
                message.flags.add("\\Deleted")
        await self.send(f"{tag} OK done")

    async def do_UID_EXPUNGE(self, tag, args):
        if not self.profile.uidplus:
            await self.send(f"{tag} BAD unknown command")
            return
        await self._expunge(tag, {args.strip()})

    async def do_EXPUNGE(self, tag, args):
        await self._expunge(tag, None)

    async def _expunge(self, tag, only: set[str] | None) -> None:
        keep = []
        for seq, message in enumerate(list(self.selected.messages), 1):
            if "\\Deleted" in message.flags and (only is None or str(message.uid) in only):
                await self.send(f"* {seq} EXPUNGE")
            else:
                keep.append(message)
        self.selected.messages[:] = keep
        await self.send(f"{tag} OK done")

    async def do_IDLE(self, tag, args):
        if not self.profile.idle:
            await self.send(f"{tag} BAD unknown command")
            return
        await self.send("+ idling")
        folder = self.selected
        seen = len(folder.messages)
        done = asyncio.ensure_future(self.line())

        async def changed():
            async with self.store.changed:
                await self.store.changed.wait_for(lambda: len(folder.messages) != seen)

        waiter = asyncio.ensure_future(changed())
        while not done.done():
            await asyncio.wait({done, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if waiter.done() and not done.done():
                await self.send(f"* {len(folder.messages)} EXISTS")
                seen = len(folder.messages)
                waiter = asyncio.ensure_future(changed())
        waiter.cancel()
        await self.send(f"{tag} OK IDLE done")


class Pop3(Session):
    label = "pop3"

    async def run(self) -> None:
        await self.send("+OK scripted POP3 ready")
        pending_user: str | None = None
        deleted: set[int] = set()
        snapshot: list[Message] = []
        while True:
            line = await self.line()
            if line is None:
                return
            verb, _, args = line.partition(" ")
            verb = verb.upper()
            if verb == "CAPA":
                await self.send("+OK")
                caps = ["TOP", "UIDL"]
                if not self.secure and self.profile.tls:
                    caps.append("STLS")
                if self.secure or not self.profile.tls:
                    if self.profile.pop3_user or not self.profile.tls:
                        caps.append("USER")
                    if self.profile.pop3_sasl:
                        caps.append("SASL " + " ".join(self.profile.pop3_sasl))
                for cap in caps:
                    await self.send(cap)
                await self.send(".")
            elif verb == "STLS":
                await self.send("+OK Begin TLS")
                await self.upgrade()
            elif verb == "USER":
                pending_user = args
                await self.send("+OK")
            elif verb in ("PASS", "AUTH"):
                if self.profile.drop_on_auth:
                    self.writer.transport.abort()
                    return
                if verb == "PASS":
                    user, secret = pending_user or "", args
                else:
                    _, _, initial = args.partition(" ")
                    if not initial:
                        await self.send("+ ")
                        initial = await self.line() or ""
                    user, secret = _sasl_plain(initial)
                scripted = self.refusal(1, user, secret)
                if scripted:
                    await self.send(scripted)
                elif check_password(user, secret):
                    self.user = user
                    snapshot = list(self.store.folders["INBOX"].messages)
                    await self.send("+OK logged in")
                else:
                    await self.send("-ERR [AUTH] Authentication failed.")
            elif verb == "UIDL" and self.user:
                await self.send("+OK")
                for number, message in enumerate(snapshot, 1):
                    await self.send(f"{number} uid-{message.uid}")
                await self.send(".")
            elif verb == "TOP" and self.user:
                number = int(args.split()[0])
                head = snapshot[number - 1].data.split(b"\r\n\r\n", 1)[0].decode()
                await self.send("+OK")
                for header in head.split("\r\n"):
                    await self.send(header)
                await self.send("")
                await self.send(".")
            elif verb == "DELE" and self.user:
                deleted.add(int(args))
                await self.send("+OK deleted")
            elif verb == "QUIT":
                inbox = self.store.folders["INBOX"]
                gone = {id(snapshot[n - 1]) for n in deleted}
                inbox.messages[:] = [m for m in inbox.messages if id(m) not in gone]
                await self.send("+OK bye")
                return
            else:
                await self.send("-ERR unknown command")


class Smtp(Session):
    label = "smtp"

    async def reply(self, code: int, *lines: str) -> None:
        for i, text in enumerate(lines):
            await self.send(f"{code}{'-' if i < len(lines) - 1 else ' '}{text}")

    def ehlo_lines(self) -> list[str]:
        lines = ["account.test", "PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES"]
        if not self.secure and self.profile.tls:
            lines.append("STARTTLS")
        if self.secure and self.profile.smtp_auth:
            lines.append("AUTH " + " ".join(self.profile.smtp_auth))
        return lines

    async def run(self) -> None:
        await self.reply(220, "account.test ESMTP scripted")
        sender: str | None = None
        recipients: list[str] = []
        while True:
            line = await self.line()
            if line is None:
                return
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await self.reply(250, *self.ehlo_lines())
            elif verb == "STARTTLS":
                await self.reply(220, "2.0.0 Ready to start TLS")
                await self.upgrade()
            elif verb == "AUTH":
                await self.auth(line)
            elif verb == "MAIL":
                if self.user is None:
                    await self.reply(530, "5.7.0 Authentication required")
                    continue
                sender = re.sub(r"^MAIL FROM:<([^>]*)>.*$", r"\1", line, flags=re.IGNORECASE)
                if sender.lower() not in (USER, OTHER):
                    await self.reply(553, f"5.7.1 <{sender}>: Sender address rejected: not owned")
                    sender = None
                    continue
                await self.reply(250, "2.1.0 Ok")
            elif verb == "RCPT":
                recipients.append(re.sub(r"^RCPT TO:<([^>]*)>.*$", r"\1", line, flags=re.I))
                await self.reply(250, "2.1.5 Ok")
            elif verb == "DATA":
                await self.reply(354, "End data with <CR><LF>.<CR><LF>")
                chunks: list[bytes] = []
                while True:
                    raw = await self.reader.readline()
                    if raw in (b".\r\n", b".\n", b""):
                        break
                    chunks.append(raw[1:] if raw.startswith(b"..") else raw)
                self.store.queue_counter += 1
                queue = f"4Q{self.store.queue_counter:04X}"
                data = b"".join(chunks)
                loop = asyncio.get_running_loop()
                for recipient in recipients:
                    loop.call_later(
                        self.profile.delivery_delay,
                        lambda r=recipient, d=data: asyncio.ensure_future(self.store.deliver(r, d)),
                    )
                await self.reply(250, f"2.0.0 Ok: queued as {queue}")
                sender, recipients = None, []
            elif verb == "RSET":
                sender, recipients = None, []
                await self.reply(250, "2.0.0 Ok")
            elif verb == "QUIT":
                await self.reply(221, "2.0.0 Bye")
                return
            else:
                await self.reply(502, "5.5.2 Error: command not recognized")

    async def auth(self, line: str) -> None:
        words = line.split()
        mechanism = words[1].upper() if len(words) > 1 else ""
        if not self.secure or mechanism not in self.profile.smtp_auth:
            await self.reply(504, "5.5.4 Unrecognized authentication type")
            return
        if self.profile.drop_on_auth:
            self.writer.transport.abort()
            return
        if mechanism == "LOGIN":
            await self.reply(334, base64.b64encode(b"Username:").decode())
            user = base64.b64decode(await self.line() or "").decode()
            await self.reply(334, base64.b64encode(b"Password:").decode())
            secret = base64.b64decode(await self.line() or "").decode()
        else:
            initial = words[2] if len(words) > 2 else None
            if initial is None:
                await self.reply(334, "")
                initial = await self.line() or ""
            if mechanism == "PLAIN":
                user, secret = _sasl_plain(initial)
            else:
                user, secret = _xoauth2(initial)
        scripted = self.refusal(2, user, secret)
        if scripted:
            for raw in scripted.split("\r\n"):
                await self.send(raw)
            return
        if check_password(user, secret) or (user == USER and secret == TOKEN):
            self.user = user
            await self.reply(235, "2.7.0 Authentication successful")
        else:
            await self.reply(535, "5.7.8 Error: authentication failed")


def profiles() -> list[Profile]:
    return [
        Profile("good", HOSTS["good"]),
        Profile("plain", HOSTS["plain"], tls=False),
        Profile("untrusted", HOSTS["untrusted"], trusted=False),
        Profile(
            "oauth",
            HOSTS["oauth"],
            imap_auth=("XOAUTH2", "OAUTHBEARER"),
            pop3_sasl=("XOAUTH2",),
            smtp_auth=("XOAUTH2", "OAUTHBEARER"),
            quota=(9500, 10000),  # 95 %: a warning
        ),
        Profile("refusals", HOSTS["refusals"], refusals=True),
        Profile("drop", HOSTS["drop"], drop_on_auth=True),
        Profile(
            "legacy",
            HOSTS["legacy"],
            imap_auth=(),
            imap_login_disabled=False,
            sasl_ir=False,
            idle=False,
            uidplus=False,
            special_use=False,
            quota=None,
            pop3_sasl=(),
            pop3_user=True,
            smtp_auth=("LOGIN",),
        ),
    ]
