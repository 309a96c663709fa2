"""`roundtrip`: send one message through submission and watch it arrive, then delete it.

The watcher is logged in and looking before the message is sent; IMAP IDLE (RFC 2177)
hears the arrival as the server files it, so the time measured is the server's own
delivery time. Without IDLE the mailbox is polled; POP3 is polled by UIDL, with a new
session each time (a POP3 session sees a fixed snapshot of the maildrop).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from datetime import UTC, datetime
from email.utils import format_datetime

from diag.account.imap import ImapClient, quote, status_items, uidnext
from diag.account.login import AccountOptions, Connector
from diag.account.model import Arrival, Cleanup, Mailbox, RoundtripReport, Submission, Target
from diag.account.pop3 import Pop3Client
from diag.account.session import Credentials, Session, scrub_findings
from diag.account.smtp import SmtpClient
from diag.findings.catalogue import finding
from diag.net.connection import ProtocolError, StepTimeout, elapsed_ms

POLL_SECONDS = 0.5  # without IDLE after the first seconds, and for POP3
FAST_SECONDS = 10.0  # right after sending: NOOP every FAST_POLL, then IDLE
FAST_POLL = 0.05
IDLE_SLICE = 5.0  # re-check between IDLE rounds anyway (a server may miss a notification)
JUNK_SLICE = 1.0  # IDLE only covers the selected mailbox: look at Junk this often
JUNK_FAST = 0.25
JUNK_NAMES = ("junk", "spam", "junk e-mail", "junk email", "bulk mail", "[gmail]/spam")


async def roundtrip(
    address: str,
    smtp: Target,
    watch: Target,
    credentials: Credentials,
    options: AccountOptions,
    *,
    sender: str,
    recipient: str,
    wait: float,
    fast_seconds: float = FAST_SECONDS,
) -> RoundtripReport:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    token = secrets.token_hex(8)
    domain = address.rpartition("@")[2]
    report = RoundtripReport(
        address=address,
        sender=sender,
        recipient=recipient,
        token=token,
        message_id=f"<maildiag.{token}@{domain}>",
        login=[],
        submission=None,
        watch=watch,
        arrival=Arrival(),
        cleanup=Cleanup(),
        findings=[],
        started_at=started.isoformat(timespec="seconds"),
        wait_seconds=wait,
    )
    connector = Connector(options)
    (smtp_result, smtp_session), (watch_result, watch_session) = await asyncio.gather(
        connector.log_in(smtp, credentials, keep_open=True),
        connector.log_in(watch, credentials, keep_open=True),
    )
    report.login = [smtp_result, watch_result]
    try:
        if smtp_session is None or watch_session is None:
            return report
        watcher = await _watcher(watch_session, watch, connector, credentials, report)
        await _submit(smtp_session, smtp, report)
        sent_at = asyncio.get_running_loop().time()  # the server's delivery starts now
        await smtp_session.close()
        smtp_session = None
        if report.submission and report.submission.accepted:
            await watcher.watch(sent_at, wait, fast_seconds)
            await watcher.clean_up()
            _judge_arrival(report)
        await watcher.close()
        watch_session = None
    except (StepTimeout, ProtocolError) as exc:
        report.findings.append(
            finding(
                "auth.connection_failed",
                watch.label,
                "the round trip could not be completed",
                str(exc),
            )
        )
        report.watch = None  # nothing could be concluded: exit 3
        accepted = report.submission is not None and report.submission.accepted
        if accepted and not report.cleanup.deleted:
            report.cleanup.note = (
                "the test message may be in the mailbox: delete it by its subject "
                f"'maildiag round trip {report.token}'"
            )
    finally:
        for session in (smtp_session, watch_session):
            if session is not None:
                await session.close()
        secret = credentials.secret
        report.findings = scrub_findings(report.findings, secret)
        if report.submission is not None and report.submission.reply:
            report.submission.reply = secret.redact(report.submission.reply)
        report.elapsed_ms = elapsed_ms(clock)
    return report


def build_message(report: RoundtripReport) -> bytes:
    headers = [
        f"From: <{report.sender}>",
        f"To: <{report.recipient}>",
        f"Subject: maildiag round trip {report.token}",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: {report.message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "Auto-Submitted: auto-generated",
    ]
    body = [
        "This message was sent by maildiag to check that mail sent through this",
        "account's submission server arrives in its mailbox. It deletes it on arrival.",
        f"Token: {report.token}",
    ]
    return ("\r\n".join([*headers, "", *body]) + "\r\n").encode("ascii")


async def _submit(session: Session, target: Target, report: RoundtripReport) -> None:
    client = session.client
    assert isinstance(client, SmtpClient)
    clock = time.perf_counter()
    submission = Submission(target)
    accepted, reply, queue = await client.send_message(
        report.sender, report.recipient, build_message(report)
    )
    submission.accepted, submission.reply, submission.queue_id = accepted, reply[:1000], queue
    submission.elapsed_ms = elapsed_ms(clock)
    report.submission = submission
    if not accepted:
        report.findings.append(
            finding(
                "delivery.submission_refused",
                target.label,
                "the submission server refused the test message",
                reply[:500],
            )
        )


def _judge_arrival(report: RoundtripReport) -> None:
    label = report.watch.label if report.watch else None
    arrival = report.arrival
    if arrival.folder is None:
        queue = report.submission.queue_id if report.submission else None
        reply = report.submission.reply if report.submission else ""
        report.findings.append(
            finding(
                "delivery.timeout",
                label,
                f"the test message did not arrive within {report.wait_seconds:g} s",
                f"queue ID {queue}; submission reply: {reply}"
                if queue
                else f"no queue ID in the submission reply: {reply}",
            )
        )
    elif arrival.role == "junk":
        report.findings.append(
            finding(
                "delivery.junk",
                label,
                f"the test message landed in {arrival.folder}",
                f"Message-ID {report.message_id} found in {arrival.folder} (SPECIAL-USE \\Junk "
                "or a usual junk name)",
            )
        )
    if arrival.folder is not None and report.cleanup.attempted and not report.cleanup.deleted:
        report.findings.append(
            finding(
                "delivery.cleanup_failed",
                label,
                "the test message could not be deleted",
                f"subject 'maildiag round trip {report.token}' in {arrival.folder}: "
                f"{report.cleanup.note}",
            )
        )


async def _watcher(
    session: Session,
    target: Target,
    connector: Connector,
    credentials: Credentials,
    report: RoundtripReport,
) -> ImapWatcher | Pop3Watcher:
    if isinstance(session.client, ImapClient):
        watcher: ImapWatcher | Pop3Watcher = ImapWatcher(session, report)
    else:
        watcher = Pop3Watcher(session, target, connector, credentials, report)
    await watcher.prepare()
    return watcher


class ImapWatcher:
    def __init__(self, session: Session, report: RoundtripReport) -> None:
        self.session = session
        self.client = session.client
        assert isinstance(self.client, ImapClient)
        self.report = report
        self.junk: Mailbox | None = None
        self.junk_next: int | None = None
        self.inbox_next: int = 1
        self.found_uid: str | None = None
        self.selected = "INBOX"

    async def prepare(self) -> None:
        client = self.client
        await client.refresh_capabilities()
        boxes, _ = await client.mailboxes()
        self.junk = next((b for b in boxes if b.role == "junk"), None) or next(
            (b for b in boxes if b.name.lower() in JUNK_NAMES), None
        )
        if self.junk is not None:
            self.junk.role = "junk"
            self.junk_next = await self._status_uidnext(self.junk.name)
        selected = await client.select("INBOX")
        if selected.status != "OK":
            raise ProtocolError(f"SELECT INBOX refused: {selected.text[:200]}")
        self.inbox_next = uidnext(selected) or 1

    async def _status_uidnext(self, mailbox: str) -> int | None:
        response = await self.client.command(f"STATUS {quote(mailbox)} (UIDNEXT)")
        return status_items(response).get("UIDNEXT")

    async def _search_inbox(self) -> list[str]:
        return await self.client.search(
            f"UID {self.inbox_next}:* HEADER Message-ID {quote(self.report.message_id)}"
        )

    async def watch(self, sent_at: float, wait: float, fast_seconds: float) -> None:
        """Search INBOX whenever the server reports a change; look at Junk now and then.

        The first `fast_seconds` re-check with NOOP every FAST_POLL seconds: most servers
        deliver within them, and some batch IDLE notifications (Dovecot holds them for
        0.5 s), which would add that much to the measured time. After that, IDLE.
        """
        loop = asyncio.get_running_loop()
        until = sent_at + wait
        fast_until = sent_at + fast_seconds
        idle = self.client.has("IDLE")
        changed, next_junk, via = True, 0.0, "poll"
        while True:
            if changed:
                uids = await self._search_inbox()
                if uids:
                    self._arrived("INBOX", "inbox", uids[0], loop.time() - sent_at, via)
                    return
            now = loop.time()
            if self.junk is not None and now >= next_junk:
                if await self._check_junk():
                    self._arrived(self.junk.name, "junk", self.found_uid, now - sent_at, via)
                    return
                next_junk = now + (JUNK_FAST if now < fast_until else JUNK_SLICE)
            remaining = until - loop.time()
            if remaining <= 0:
                self.report.arrival.method = "idle" if idle else "poll"
                return
            if idle and loop.time() >= fast_until:
                slice_ = JUNK_SLICE if self.junk is not None else IDLE_SLICE
                changed = await self.client.idle_until_change(min(slice_, remaining))
                changed, via = changed or slice_ < remaining, "idle"
            else:
                interval = FAST_POLL if loop.time() < fast_until else POLL_SECONDS
                await asyncio.sleep(min(interval, remaining))
                changed, via = await self.client.noop_changed(), "poll"

    async def _check_junk(self) -> bool:
        assert self.junk is not None
        now = await self._status_uidnext(self.junk.name)
        if now is None or now == self.junk_next:
            return False
        selected = await self.client.select(self.junk.name)
        if selected.status == "OK":
            self.selected = self.junk.name
            uids = await self.client.search(
                f"UID {self.junk_next or 1}:* HEADER Message-ID {quote(self.report.message_id)}"
            )
            if uids:
                self.found_uid = uids[0]
                return True
        self.junk_next = now
        back = await self.client.select("INBOX")
        if back.status != "OK":
            raise ProtocolError(f"SELECT INBOX refused: {back.text[:200]}")
        self.selected = "INBOX"
        return False

    def _arrived(self, folder: str, role: str, uid: str | None, seconds: float, via: str) -> None:
        arrival = self.report.arrival
        arrival.folder, arrival.role, arrival.uid = folder, role, uid
        arrival.seconds = round(seconds, 3)
        arrival.method = via

    async def clean_up(self) -> None:
        cleanup = self.report.cleanup
        arrival = self.report.arrival
        if arrival.uid is None:
            cleanup.note = (
                "nothing to delete; if the message arrives later, delete it by its subject "
                f"'maildiag round trip {self.report.token}'"
            )
            return
        cleanup.attempted = True
        uidplus = self.client.has("UIDPLUS")
        deleted, method, note = await self.client.delete_uid(arrival.uid, uidplus)
        cleanup.deleted, cleanup.method, cleanup.note = deleted, method, note
        if deleted:
            left = await self.client.search(
                f"HEADER Message-ID {quote(self.report.message_id)} UNDELETED"
            )
            if left:
                cleanup.deleted = False
                cleanup.note = "the server still lists the test message after the expunge"

    async def close(self) -> None:
        with contextlib.suppress(StepTimeout, ProtocolError):
            await self.client.logout()
        await self.session.channel.conn.close()


class Pop3Watcher:
    def __init__(
        self,
        session: Session,
        target: Target,
        connector: Connector,
        credentials: Credentials,
        report: RoundtripReport,
    ) -> None:
        self.session: Session | None = session
        self.target = target
        self.connector = connector
        self.credentials = credentials
        self.report = report
        self.before: set[str] = set()
        self.deleted_session: Session | None = None

    async def prepare(self) -> None:
        assert self.session is not None
        client = self.session.client
        assert isinstance(client, Pop3Client)
        self.before = set(await client.uidl())
        await self.session.close()  # the maildrop is locked while a session is open
        self.session = None

    async def watch(self, sent_at: float, wait: float, fast_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        until = sent_at + wait
        arrival = self.report.arrival
        arrival.method = "uidl"
        while True:
            result, session = await self.connector.log_in(
                self.target, self.credentials, keep_open=True
            )
            if session is None:
                raise ProtocolError(f"POP3 login failed while watching: {result.error or ''}")
            client = session.client
            assert isinstance(client, Pop3Client)
            keep = False
            try:
                listing = await client.uidl()
                for uid, number in listing.items():
                    if uid in self.before:
                        continue
                    headers = "\n".join(await client.headers(number))
                    if self.report.message_id.lower() in headers.lower():
                        arrival.folder, arrival.role, arrival.uid = "INBOX", "inbox", uid
                        arrival.seconds = round(loop.time() - sent_at, 3)
                        await self._delete(client, number)
                        keep = True
                        return
                    self.before.add(uid)  # someone else's new mail: leave it alone
            finally:
                await session.close()  # QUIT commits the DELE
                if keep:
                    self.report.cleanup.deleted = self.report.cleanup.attempted and (
                        self.report.cleanup.note is None
                    )
            remaining = until - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(POLL_SECONDS, remaining))

    async def _delete(self, client: Pop3Client, number: int) -> None:
        cleanup = self.report.cleanup
        cleanup.attempted, cleanup.method = True, "DELE"
        ok, line = await client.status(f"DELE {number}")
        if not ok:
            cleanup.note = f"DELE refused: {line[:200]}"

    async def clean_up(self) -> None:
        if self.report.arrival.uid is None:
            self.report.cleanup.note = (
                "nothing to delete; if the message arrives later, delete it by its subject "
                f"'maildiag round trip {self.report.token}'"
            )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
