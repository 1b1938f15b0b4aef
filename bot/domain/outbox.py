"""The durable outbox, as the rest of the bot sees it (no Telegram import here).

Everything the bot starts by itself (reminders, announcement copies, promotions) is written to
the outbox inside the transaction that decided to send it, and one sender (`bot/gateway/sender.py`)
drains it. The domain rules for undeliverable messages live here too: a user who blocked the
bot becomes unreachable (with an optional mention in their org's chat), a chat the bot was
removed from becomes inactive, and a migrated group moves everywhere to its supergroup id.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.domain import cache
from bot.domain.clock import Clock
from bot.domain.html_split import split_html
from bot.domain.models import OutboxItem
from bot.domain.xlsx import XLSX
from bot.texts import mention
from storage import activities as activity_repo
from storage import announcements as announcement_repo
from storage import chats as chat_repo
from storage import outbox as repo
from storage import reminders as reminder_repo
from storage import uploads as upload_repo
from storage import users as user_repo
from storage.db import Conn, Database

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
GUARD_GRACE = 30.0  # seconds a guard row waits for the direct send it stands in for


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split Telegram HTML into balanced parts of at most `limit` UTF-16 units."""
    return split_html(text, limit)


def parts_of(item: OutboxItem) -> list[str]:
    """The texts one outbox row is sent as (several for a split long text)."""
    payload = item.payload
    parts = payload.get("parts")
    if parts:
        return list(parts)
    return [payload.get("text") or ""]


@dataclass(frozen=True)
class Message:
    """One message to queue (`Outbox.add_many`); the fields are `Outbox.add`'s arguments."""

    chat_id: int
    text: str
    user_id: int | None = None
    reply_markup: dict[str, Any] | None = None
    parse_mode: str | None = "HTML"
    ref: str | None = None
    dedupe_key: str | None = None
    not_before: float = 0.0
    kind: str = "message"
    extra: dict[str, Any] | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Outcome:
    """What happened to one outbox row; the sender hands them over in batches."""

    id: int
    kind: Literal["sent", "progress", "retry", "failed"]
    message_ids: list[int] = field(default_factory=list)
    not_before: float = 0.0
    attempts: int = 0
    failures: int | None = None
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.kind in ("sent", "failed")


class Outbox:
    """Queue messages durably and wake the one sender after commit."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.changes = 0  # bumped by every committed add (the sender reloads when it moves)
        #: the daily-budget hook (issue 6), set by build_services; None: no budget
        self.budget: Any = None
        self._event: asyncio.Event | None = None

    # -- queueing ----------------------------------------------------------------------------

    async def add(
        self,
        conn: Conn,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        reply_markup: dict[str, Any] | None = None,
        parse_mode: str | None = "HTML",
        ref: str | None = None,
        dedupe_key: str | None = None,
        not_before: float = 0.0,
        kind: str = "message",
        extra: dict[str, Any] | None = None,
        urgent: bool = False,
    ) -> int | None:
        """Queue one message inside the caller's transaction; None if `dedupe_key` was used
        (or, for a group over its daily budget, the message was kept for the digest).

        For kind "document"/"photo", `text` is the caption and `extra` carries `file_path`, or
        `data_b64` + `filename`; with `upload_key` the file is uploaded once under that key and
        later copies go by the file_id Telegram returned. A text over 4,096 characters is sent as several messages.
        `extra` may hold `fallback: True` + `fallback_text` (a mention in the org chat if the
        user blocked the bot), `disable_preview`, `disable_notification`, `message_thread_id`.
        """
        message = Message(
            chat_id,
            text,
            user_id=user_id,
            reply_markup=reply_markup,
            parse_mode=parse_mode,
            ref=ref,
            dedupe_key=dedupe_key,
            not_before=not_before,
            kind=kind,
            extra=extra,
            urgent=urgent,
        )
        return (await self.add_many(conn, [message]))[0]

    async def add_many(self, conn: Conn, messages: list[Message]) -> list[int | None]:
        """`add` for many messages at once (an announcement's copies): their rows are written
        a few hundred to a statement; the ids (None: deduplicated or kept for the digest) come
        in the order of `messages`."""
        rows: list[repo.Row | None] = []
        for m in messages:
            payload: dict[str, Any] = dict(m.extra or {})
            payload["text"] = m.text
            payload["parse_mode"] = m.parse_mode
            if m.reply_markup:
                payload["reply_markup"] = m.reply_markup
            if m.kind == "message":
                parts = split_text(m.text)
                if len(parts) > 1:
                    payload["parts"] = parts
            user_id = m.user_id if m.user_id is not None or m.chat_id <= 0 else m.chat_id
            # quiet by design (issue 6): a group's message over its daily budget waits for the
            # evening digest instead (`bot/domain/announcements.DigestBudget`); urgent ones go now
            if (
                self.budget is not None
                and m.chat_id < 0
                and not m.urgent
                and await self.budget.fold(conn, m.chat_id, m.kind, payload, m.ref, m.dedupe_key)
            ):
                rows.append(None)
                continue
            rows.append(
                repo.Row(m.chat_id, user_id, m.kind, payload, m.ref, m.dedupe_key, m.not_before)
            )
        written = await repo.insert_many(
            conn, [r for r in rows if r is not None], self.clock.time()
        )
        ids = iter(written)
        out = [next(ids) if row is not None else None for row in rows]
        if any(i is not None for i in out):
            self.db.on_commit(self.wake)
        return out

    async def send(self, chat_id: int, text: str, **kwargs: Any) -> int | None:
        """`add` in a transaction of its own."""
        async with self.db.transaction() as conn:
            return await self.add(conn, chat_id, text, **kwargs)

    async def send_document(
        self, user_id: int, data: bytes, *, filename: str, mime_type: str, caption: str, ref: str
    ) -> int | None:
        """A file for the person's private chat (an export, /mydata), queued as kind "document"."""
        extra = {
            "data_b64": base64.b64encode(data).decode("ascii"),
            "filename": filename,
            "mime_type": mime_type,
        }
        return await self.send(
            user_id, caption, user_id=user_id, kind="document", ref=ref, extra=extra
        )

    async def send_workbook(
        self, user_id: int, data: bytes, *, filename: str, caption: str
    ) -> int | None:
        """An export (an .xlsx workbook) for the person's private chat."""
        return await self.send_document(
            user_id, data, filename=filename, mime_type=XLSX, caption=caption, ref="export"
        )

    # -- "commit, then send directly", made crash-proof --------------------------------------

    async def guard(self, conn: Conn, chat_id: int, text: str, **kwargs: Any) -> int | None:
        """Queue, inside the caller's transaction, the message it will send directly after
        commit. `settle` cancels it once the direct send worked; if the bot dies in between (or
        the direct send hits a 429), the outbox sends it after `GUARD_GRACE` seconds instead."""
        kwargs.setdefault("urgent", True)  # a direct reply is never folded into a digest
        return await self.add(
            conn, chat_id, text, not_before=self.clock.time() + GUARD_GRACE, **kwargs
        )

    async def settle(self, conn: Conn, guard_id: int | None) -> bool:
        """The direct send went out: its guard row is not sent (False if it already was)."""
        if guard_id is None:
            return False
        return await repo.cancel_one(conn, guard_id)

    async def release(self, guard_id: int | None) -> bool:
        """`settle` in a transaction of its own (nothing else to record with the send)."""
        if guard_id is None:
            return False
        async with self.db.transaction() as conn:
            return await self.settle(conn, guard_id)

    async def hold(self, guard_id: int | None, wait: float) -> None:
        """The direct send hit a 429: the guard row goes once Telegram allows it again."""
        if guard_id is None:
            return
        async with self.db.transaction() as conn:
            await repo.delay(conn, guard_id, self.clock.time() + wait)

    # -- waking the sender -------------------------------------------------------------------

    def _ev(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def wake(self) -> None:
        """New rows were committed: the sender looks again."""
        self.changes += 1
        self._ev().set()

    def poke(self) -> None:
        """Wake the sender without claiming new rows (a send finished, a stop was asked)."""
        self._ev().set()

    async def wait(self, timeout: float | None) -> bool:
        """Sleep until woken or `timeout` seconds; True if woken."""
        event = self._ev()
        if not event.is_set():
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                return False
        event.clear()
        return True

    # -- reading and recording, for the sender -------------------------------------------------

    async def due(self, limit: int, per_chat: int | None = None) -> list[OutboxItem]:
        """Pending rows due now (at most `per_chat` of each chat), oldest first."""
        return list(await repo.due(self.db.reader, self.clock.time(), limit, per_chat=per_chat))

    async def due_count(self) -> int:
        return await repo.count_due(self.db.reader, self.clock.time())

    async def next_due_time(self) -> float | None:
        return await repo.next_due_time(self.db.reader)

    async def counts(self) -> dict[str, int]:
        return await repo.counts(self.db.reader)

    async def failed_counts(self, refs: Iterable[str]) -> dict[str, int]:
        """How many messages of each ref were given up for good (for the status boards)."""
        return await repo.failed_counts(self.db.reader, refs)

    # -- files uploaded once (a document's payload may name an `upload_key`) ------------------

    async def uploaded(self, key: str) -> str | None:
        """The file_id of the file uploaded under `key`, if it went out before."""
        return await upload_repo.uploaded(self.db.reader, key)

    async def remember_upload(self, key: str, file_id: str) -> None:
        """The sender uploaded the file of `key`: later copies go by `file_id`."""
        async with self.db.transaction() as conn:
            await upload_repo.remember_upload(conn, key, file_id, self.clock.time())

    async def by_ref(self, ref: str) -> list[OutboxItem]:
        return list(await repo.by_ref(self.db.reader, ref))

    async def item(self, item_id: int) -> OutboxItem | None:
        """One row as stored (an edit, a deletion or a pin reads the message it acts on)."""
        return await repo.get(self.db.reader, item_id)

    async def record(self, outcomes: Iterable[Outcome]) -> None:
        """Write a batch of outcomes in one transaction (in order)."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        now = self.clock.time()
        async with self.db.transaction() as conn:
            sent: list[tuple[int, list[int]]] = []
            for o in outcomes:
                if o.kind == "sent":
                    sent.append((o.id, o.message_ids))
                    continue
                if sent:
                    await self._mark_sent(conn, sent, now)
                    sent = []
                if o.kind == "progress":
                    await repo.record_progress(conn, o.id, o.message_ids)
                elif o.kind == "retry":
                    await repo.reschedule(
                        conn, o.id, o.not_before, o.error, o.attempts, failures=o.failures
                    )
                elif o.kind == "failed":
                    if o.message_ids:
                        await repo.record_progress(conn, o.id, o.message_ids)
                    await repo.mark_failed(conn, o.id, o.error or "failed")
            if sent:
                await self._mark_sent(conn, sent, now)
            # a delivered file is Telegram's to keep now: ours goes at once (privacy)
            await repo.drop_documents(conn, [o.id for o in outcomes if o.kind == "sent"])

    @staticmethod
    async def _mark_sent(conn: Conn, sent: list[tuple[int, list[int]]], now: float) -> None:
        """Mark rows sent and, in the same transaction, link card copies to their messages."""
        await repo.mark_sent(conn, sent, now)
        await activity_repo.link_outbox_copies(
            conn, [(item_id, mids[-1]) for item_id, mids in sent if mids]
        )

    # -- domain rules for undeliverable messages ---------------------------------------------

    async def on_forbidden(self, item: OutboxItem) -> int | None:
        """403: a private chat's user becomes unreachable (and, if the message asks for it, is
        mentioned once in their org's active chat); a group becomes inactive.

        Returns the id of the fallback message queued, if any. Safe to repeat for one item.
        """
        now = self.clock.time()
        fallback_id = None
        async with self.db.transaction() as conn:
            if item.chat_id < 0:
                await chat_repo.set_active(conn, item.chat_id, False, now)
                return None
            user_id = item.user_id or item.chat_id
            await user_repo.set_reachable(conn, user_id, False, now)
            cache.user_after_commit(self.db, user_id)  # a private message marks it again
            if not item.payload.get("fallback"):
                return None
            target = await user_repo.fallback_target(conn, user_id)
            if target is None:
                return None
            chat_id, first_name = target
            # Telegram first name only: never the registered real name or phone in a group
            link = mention(user_id, first_name)
            text = str(item.payload.get("fallback_text") or "")
            fallback_id = await self.add(
                conn,
                chat_id,
                f"{link} {text}".rstrip(),
                parse_mode="HTML",
                ref=item.ref,
                dedupe_key=f"fallback:{item.id}",
                urgent=True,  # the person must act; an evening digest would be too late
            )
        return fallback_id

    async def on_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its chat row and its messages move to the new id."""
        async with self.db.transaction() as conn:
            await migrate_chat(conn, old_chat_id, new_chat_id, self.clock.time())
            cache.after_commit(self.db, "chat", old_chat_id)
            cache.after_commit(self.db, "chat", new_chat_id)
        self.wake()


async def migrate_chat(conn: Conn, old: int, new: int, now: float) -> None:
    """A group became a supergroup: move every chat-id reference from `old` to `new`, inside
    the caller's transaction. A feature that stores chat ids adds its repository's move here.
    """
    if old == new:
        return
    known = await chat_repo.take_over(conn, old, new, now)
    await repo.move_chat(conn, old, new, pending_only=False)
    await activity_repo.move_chat(conn, old, new)  # activity card copies, check-in buttons
    await announcement_repo.migrate_chat(conn, old, new)  # announcements, digest, presence
    await reminder_repo.move_ref(conn, "digest", old, new)  # the chat's evening digest
    if known:
        await chat_repo.delete(conn, old)
