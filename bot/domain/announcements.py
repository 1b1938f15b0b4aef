"""Announcements down the tower, acknowledgements, and the daily budget with its digest.

An announcement is posted by staff in their org's chat and copied, through the outbox, to every
active chat bound to an org of the subtree, each copy with a "收到 / Received" button. A press
records who acknowledged (once per person). Chats nobody acknowledged in get one reminder after
`settings.announce_ack_reminder`.

Quiet by design: `DigestBudget.fold` is the outbox's hook. A group's bot-started message past
`settings.chat_daily_budget` for the local day is kept in `digest_items` instead, and one
reminder per chat and day (kind "digest", at DIGEST_TIME local) folds them into one message;
a digest that came due while the bot was down is sent at start-up however late it is.
Urgent announcements (staff) bypass the budget.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from typing import Any

from pydantic import BaseModel

from bot.domain.announcements_input import check_text, parse_send_at
from bot.domain.announcements_more import PIN_CHECK, PINS, SEND, AnnouncementChanges
from bot.domain.clock import Clock, fmt_when
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_announcements import Ack, Announcement, Target
from bot.domain.models_reminders import Reminder
from bot.domain.outbox import Message, Outbox
from bot.domain.reminders import Reminders
from bot.domain.service import Core, ServiceBase
from bot.domain.when import Reading
from bot.settings import Settings
from bot.texts import Raw, t
from storage import announcements as repo
from storage import orgs as org_repo
from storage.db import Conn

log = logging.getLogger(__name__)

DIGEST_TIME = time(20, 0)
MAX_DIGEST_BUTTONS = 90
ACK = "ack"


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


# --- callback data: the "Received" button -----------------------------------------------------

#: the "Received" button of any announcement (the handler is registered on it)
ACK_DATA = re.compile(rf"^ann:([0-9]{{1,12}}):{ACK}\Z")


def ack_data(ann_id: int) -> str:
    """The "Received" button of announcement `ann_id`."""
    return f"ann:{ann_id}:{ACK}"


def parse_ack_data(data: str | None) -> int:
    """The announcement id of a "Received" button; a stale or forged one is refused."""
    match = ACK_DATA.match(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    return int(match.group(1))


class Board(BaseModel):
    """What `/announce status` shows."""

    announcement: Announcement
    org_name: str
    targets: list[Target]
    acks: list[Ack]

    def acks_in(self, chat_id: int) -> list[Ack]:
        return [a for a in self.acks if a.chat_id == chat_id]

    @staticmethod
    def state(target: Target) -> str:
        """delivered | digest | digest_sent | pending | failed"""
        if target.outbox_id is None and target.digest_item is not None:
            return "digest_sent" if target.digest_status == "sent" else "digest"
        if target.status == "sent":
            return "delivered"
        if target.status in ("failed", "cancelled"):
            return "failed"
        return "pending"

    def counts(self) -> dict[str, int]:
        out = {
            "chats": len(self.targets),
            "delivered": 0,
            "digest_wait": 0,
            "pending": 0,
            "failed": 0,
            "acked_chats": 0,
            "acks": len(self.acks),
        }
        acked = {a.chat_id for a in self.acks}
        for target in self.targets:
            state = self.state(target)
            key = {"digest_sent": "delivered", "digest": "digest_wait"}.get(state, state)
            out[key] += 1
            out["acked_chats"] += target.chat_id in acked
        return out


class Announcements(ServiceBase):
    """Services behind /announce, its button, its status board and its reminder."""

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.reminders.on("announce", self._remind)
        #: scheduled, corrected, recalled and pinned announcements (issue 14)
        self.changes = AnnouncementChanges(core, self)

    async def post(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        *,
        kind: str = "message",
        file_id: str | None = None,
        urgent: bool = False,
        pin: bool = False,
        when: str | None = None,
        chosen: Reading | None = None,
    ) -> tuple[Announcement, int]:
        """Copy an announcement to every active chat of the subtree, or (`/announce at`)
        schedule it for `when` (`Choose` if uncertain; the chats are those active then);
        returns it and the count of chats now."""
        org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, org, "staff")  # before reading the time
        send_at = None
        if when is not None:
            send_at = parse_send_at(when, self.settings.tz, self.clock.time(), chosen)
        text = check_text(text, kind)
        now = self.clock.time()
        async with self.db.transaction() as tx:
            chats = await repo.active_chats_in(tx, org.path)
            if not chats:
                raise Refusal("err_ann_no_chats")
            ann_id = await repo.insert(
                tx,
                org_id=org.id,
                chat_id=chat_id,
                author_id=user_id,
                kind=kind,
                text=text,
                file_id=file_id,
                urgent=urgent,
                now=now,
                pin=pin,
                send_at=send_at,
            )
            ann = await repo.get(tx, ann_id)
            assert ann is not None
            if send_at is None:
                await self.fan_out(tx, ann, org, chats)
            else:  # fire-once: queued by `announcements_more.AnnouncementChanges._send`
                await self.reminders.add(tx, SEND, ann_id, "send", send_at)
        return ann, len(chats)

    def ack_markup(self, ann_id: int) -> dict[str, Any]:
        lang = self.settings.language
        return {
            "inline_keyboard": [
                [{"text": t(lang, "ann_btn_ack"), "callback_data": ack_data(ann_id)}]
            ]
        }

    def body(self, ann: Announcement, org_name: str) -> str:
        """What every copy says (with the time of the last correction, if corrected)."""
        lang = self.settings.language
        text = t(
            lang,
            "ann_copy_urgent" if ann.urgent else "ann_copy",
            id=ann.id,
            org=org_name,
            text=Raw(ann.text),
        )
        if ann.edited_at is not None:
            at = fmt_when(ann.edited_at, self.settings.tz, lang)
            text += "\n\n" + t(lang, "ann_edited_note", at=at)
        return text

    async def fan_out(
        self, tx: Conn, ann: Announcement, org: Org, chats: list[tuple[int, int]]
    ) -> None:
        """Queue a copy to each chat (and, for `| pin`, a pin behind each copy), inside `tx`."""
        ann_id = ann.id
        body = self.body(ann, org.name)
        markup = self.ack_markup(ann_id)
        extra = {"file_id": ann.file_id} if ann.file_id else None
        budget = self.outbox.budget
        async with budget.batch(tx, [c for c, _ in chats]) if budget else _nothing():
            ids = await self.outbox.add_many(
                tx,
                [
                    Message(
                        target_chat,
                        body,
                        reply_markup=markup,
                        ref=f"announce:{ann_id}",
                        dedupe_key=f"announce:{ann_id}:{target_chat}",
                        kind=ann.kind,
                        extra=extra,
                        urgent=ann.urgent,
                    )
                    for target_chat, _ in chats
                ],
            )
        rows = [(ann_id, chat, org_id, i) for (chat, org_id), i in zip(chats, ids, strict=True)]
        await repo.add_targets(tx, rows)
        now = self.clock.time()
        await self.reminders.add(
            tx, "announce", ann_id, ACK, now + self.settings.announce_ack_reminder.total_seconds()
        )
        if not ann.pin:
            return
        # a copy kept for the evening digest has no pin: the author is told it was not pinned
        await self.outbox.add_many(
            tx,
            [
                Message(
                    target_chat,
                    "",
                    kind="pin",
                    extra={"of_outbox": outbox_id},
                    ref=f"announce-pin:{ann_id}",
                    dedupe_key=f"announce:{ann_id}:pin:{target_chat}",
                    urgent=True,
                )
                for _, target_chat, _, outbox_id in rows
                if outbox_id is not None
            ],
        )
        await self.reminders.add(tx, PINS, ann_id, "1", now + PIN_CHECK)

    async def acknowledge(self, ann_id: int, user_id: int, first_name: str, chat_id: int) -> bool:
        """A press of "收到": True the first time this person acknowledges this announcement."""
        async with self.db.transaction() as tx:
            ann = await repo.get(tx, ann_id)
            if ann is None or not await repo.target_of(tx, ann_id, chat_id):
                raise Refusal("err_stale_button")
            if ann.status == "recalled":
                raise Refusal("err_ann_recalled_ack")
            return await repo.ack(tx, ann_id, user_id, chat_id, first_name, self.clock.time())

    async def board(self, user_id: int, chat_id: int, ann_id: int | None) -> Board:
        """Per chat: delivered (message ids), acknowledged by whom, failed and why."""
        org = await self.org_of_chat(chat_id)
        r = self.db.reader
        ann = await repo.get(r, ann_id) if ann_id else await repo.latest_in(r, org.path)
        if ann is None:
            raise Refusal("err_ann_unknown" if ann_id else "err_ann_none")
        origin = await org_repo.get(r, ann.org_id)
        assert origin is not None
        await self.access.require(user_id, origin, "secretary")
        return Board(
            announcement=ann,
            org_name=origin.name,
            targets=await repo.targets(r, ann.id, f"announce:{ann.id}"),
            acks=await repo.acks(r, ann.id),
        )

    async def _remind(self, conn: Conn, reminder: Reminder) -> None:
        """Reminder "announce": one nudge to each chat where nobody acknowledged yet."""
        ann = await repo.get(conn, reminder.ref_id)
        if ann is None:
            return
        org = await org_repo.get(conn, ann.org_id)
        if ann.status != "sent":
            return  # recalled meanwhile
        lang = self.settings.language
        text = t(lang, "ann_reminder", id=ann.id, org=org.name if org else "")
        markup = self.ack_markup(ann.id)
        for chat_id in await repo.unacked_targets(conn, ann.id):
            await self.outbox.add(
                conn,
                chat_id,
                text,
                reply_markup=markup,
                ref=f"announce-reminder:{ann.id}",
                dedupe_key=f"announce:{ann.id}:remind:{chat_id}",
                urgent=ann.urgent,
            )

    async def org_of_chat(self, chat_id: int) -> Org:
        return await self.access.org_of_chat(chat_id)


class DigestBudget:
    """The outbox's quiet-by-design hook (see the module docstring)."""

    def __init__(
        self, settings: Settings, clock: Clock, reminders: Reminders, outbox: Outbox
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.reminders = reminders
        self.outbox = outbox
        self._counts: dict[int, int] | None = None
        # the digest carries the messages it folded: late (even days) rather than never
        reminders.on("digest", self._send_digest, late_limit=None)

    def day_start(self, now: float) -> float:
        local = datetime.fromtimestamp(now, self.settings.tz)
        return datetime.combine(local.date(), time(0), self.settings.tz).timestamp()

    def next_digest(self, now: float) -> datetime:
        """Today's digest time, or tomorrow's once today's has passed (local)."""
        tz = self.settings.tz
        local = datetime.fromtimestamp(now, tz)
        at = datetime.combine(local.date(), DIGEST_TIME, tz)
        if at.timestamp() <= now:
            at = datetime.combine(local.date() + timedelta(days=1), DIGEST_TIME, tz)
        return at

    @asynccontextmanager
    async def batch(self, conn: Conn, chat_ids: list[int]) -> AsyncIterator[None]:
        """Inside one transaction that queues a message to each of many chats: read today's
        counts in one query instead of one per message."""
        day = self.day_start(self.clock.time())
        self._counts = await repo.sent_today_many(conn, [c for c in chat_ids if c < 0], day)
        try:
            yield
        finally:
            self._counts = None

    async def fold(
        self,
        conn: Conn,
        chat_id: int,
        kind: str,
        payload: dict[str, Any],
        ref: str | None,
        dedupe_key: str | None,
    ) -> bool:
        """True when the message was kept for the digest instead of being queued."""
        now = self.clock.time()
        if self._counts is not None and chat_id in self._counts:
            sent = self._counts[chat_id]
            self._counts[chat_id] = sent + 1
        else:
            sent = await repo.sent_today(conn, chat_id, self.day_start(now))
        if sent < self.settings.chat_daily_budget:
            return False
        if dedupe_key and await repo.dedupe_used(conn, dedupe_key):
            return True
        await repo.add_digest_item(
            conn,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
            ref=ref,
            dedupe_key=dedupe_key,
            now=now,
        )
        at = self.next_digest(now)
        await self.reminders.add(conn, "digest", chat_id, at.date().isoformat(), at.timestamp())
        return True

    async def _send_digest(self, conn: Conn, reminder: Reminder) -> None:
        """Reminder "digest": everything a chat has waiting, as one message."""
        chat_id = reminder.ref_id
        items = await repo.waiting_items(conn, chat_id)
        if not items:
            return
        lang = self.settings.language
        parts = [t(lang, "digest_head", count=len(items))]
        rows: list[list[dict[str, Any]]] = []
        for n, item in enumerate(items, 1):
            body = str(item.payload.get("text") or "")
            if item.kind != "message":
                body = t(lang, "digest_attachment_" + item.kind) + (" " + body if body else "")
            parts.append(f"<b>{n}.</b> {body}")
            markup = item.payload.get("reply_markup") or {}
            for row in markup.get("inline_keyboard") or []:
                buttons = [
                    dict(b, text=f"{n}. {b.get('text', '')}")
                    for b in row
                    if "callback_data" in b or "url" in b
                ]
                if buttons and len(rows) < MAX_DIGEST_BUTTONS:
                    rows.append(buttons)
        outbox_id = await self.outbox.add(
            conn,
            chat_id,
            "\n\n".join(parts),
            reply_markup={"inline_keyboard": rows} if rows else None,
            ref=f"digest:{chat_id}",
            dedupe_key=f"digest:{chat_id}:{reminder.step}:{items[0].id}",
            urgent=True,
        )
        if outbox_id is not None:
            await repo.fold_items(conn, [i.id for i in items], outbox_id)
