"""Announcements sent later, corrected, recalled and pinned (issue 14).

* **Scheduled** (`/announce at 明天 9:00 | …`, `Announcements.post` with `when`): the announcement
  is stored as 'scheduled' with a fire-once reminder (kind "announce_send"); when it fires, the copies are queued in the
  transaction that claims it, so it goes once, also across restarts. One that came due while
  the bot was down for more than 12 h is recorded as missed and its author told. Until then it
  is listed (`scheduled`) and may be cancelled or corrected.
* **Corrected** (`edit <id> | …`): the text is replaced and every copy is edited through the
  outbox (rows of kind "edit", see `bot/gateway/actions.py`), so the edits are paced with the
  chat's other messages and a crash mid-way resumes; a copy still waiting for the evening
  digest is corrected there. Acknowledgements stay; the board says when it was corrected.
* **Recalled** (`recall <id>`): every copy is deleted (rows of kind "delete"); a copy older than
  Telegram lets a bot delete (48 h) is edited to say it was recalled instead (the gateway does
  the same if Telegram refuses a deletion).
* **Pinned** (`| pin`): a row of kind "pin" behind each copy; a minute later (and again while
  pins are still on their way) the author is told privately in which chats it could not be
  pinned, and why.

Only the author, or staff of the org it was posted from, may cancel, correct or recall.
"""

from __future__ import annotations

import html
import logging
from typing import Any, Protocol

from bot.domain.announcements_input import check_text
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_announcements import Announcement
from bot.domain.models_reminders import Reminder
from bot.domain.outbox import split_text
from bot.domain.reminders import LATE_LIMIT
from bot.domain.service import Core, ServiceBase
from bot.texts import Raw, t
from storage import announcements as repo
from storage import orgs as org_repo
from storage import outbox as outbox_repo
from storage.db import Conn

log = logging.getLogger(__name__)

SEND = "announce_send"  # reminder kind: a scheduled announcement goes
PINS = "announce_pins"  # reminder kind: tell the author where the copy could not be pinned
PIN_CHECK = 60.0  # seconds after the copies are queued before the pins are looked at
PIN_CHECKS = 30  # look again at most this many times while pins are still on their way
#: a copy older than this is edited rather than deleted (Telegram: 48 h, with a margin)
DELETE_WINDOW = 47 * 3600.0
LIVE = ("pending", "sent")  # outbox states of a copy that is (or will be) in its chat


class Posting(Protocol):
    """What this needs of `bot.domain.announcements.Announcements` (which holds it)."""

    def body(self, ann: Announcement, org_name: str) -> str: ...

    def ack_markup(self, ann_id: int) -> dict[str, Any]: ...

    async def fan_out(
        self, tx: Conn, ann: Announcement, org: Org, chats: list[tuple[int, int]]
    ) -> None: ...


class AnnouncementChanges(ServiceBase):
    """Scheduled announcements, corrections, recalls and the pin report."""

    def __init__(self, core: Core, posting: Posting) -> None:
        super().__init__(core)
        self.posting = posting
        # the handler decides what "too late" means (it tells the author), so: no late limit
        self.reminders.on(SEND, self._send, late_limit=None)
        self.reminders.on(PINS, self._pins)

    # -- who may -----------------------------------------------------------------------------

    async def _own(self, user_id: int, ann_id: int) -> tuple[Announcement, Org]:
        """The announcement and its org, if `user_id` is its author or staff of that org."""
        r = self.db.reader
        ann = await repo.get(r, ann_id)
        if ann is None:
            raise Refusal("err_ann_unknown")
        origin = await org_repo.get(r, ann.org_id)
        assert origin is not None
        if ann.author_id != user_id and await self.access.role_at(user_id, origin) != "staff":
            raise Refusal("err_ann_not_yours", id=ann.id)
        return ann, origin

    # -- scheduled ---------------------------------------------------------------------------

    async def scheduled(self, user_id: int, chat_id: int) -> list[Announcement]:
        """Scheduled announcements of this chat's org and below (staff), or the person's own."""
        org = await self.access.org_of_chat(chat_id)
        staff = await self.access.role_at(user_id, org) == "staff"
        return await repo.scheduled_in(self.db.reader, org.path, None if staff else user_id)

    async def cancel(self, user_id: int, ann_id: int) -> Announcement:
        """Cancel a scheduled announcement before it goes."""
        ann, _ = await self._own(user_id, ann_id)
        async with self.db.transaction() as tx:
            if not await repo.set_status(tx, ann.id, "cancelled", "scheduled"):
                current = await repo.get(tx, ann.id)
                raise Refusal(_gone_key(current.status if current else ""), id=ann.id)
            await self.reminders.cancel(tx, SEND, ann.id)
        return ann

    async def _send(self, conn: Conn, reminder: Reminder) -> None:
        """Reminder "announce_send": queue the copies (once: the status moves in this claim)."""
        ann = await repo.get(conn, reminder.ref_id)
        if ann is None or ann.status != "scheduled":
            return  # cancelled meanwhile
        org = await org_repo.get(conn, ann.org_id)
        lang = await self.lang_of_user(ann.author_id)
        late = self.clock.time() - (ann.send_at or reminder.due_at)
        if org is None or late > LATE_LIMIT:
            await repo.set_status(conn, ann.id, "missed", "scheduled")
            await self._tell(
                conn, ann, t(lang, "ann_missed", id=ann.id, at=self.fmt(ann.send_at or 0))
            )
            return
        if not await repo.set_status(conn, ann.id, "sent", "scheduled"):
            return
        chats = await repo.active_chats_in(conn, org.path)
        if chats:
            await self.posting.fan_out(conn, ann, org, chats)
        await self._tell(conn, ann, t(lang, "ann_scheduled_went", id=ann.id, count=len(chats)))

    async def _tell(self, conn: Conn, ann: Announcement, text: str, step: str = "") -> None:
        """A private word to the author (the dedupe key makes it once)."""
        await self.outbox.add(
            conn,
            ann.author_id,
            text,
            ref=f"announce-author:{ann.id}",
            dedupe_key=f"announce:{ann.id}:author:{step or ann.status}",
            urgent=True,
        )

    # -- corrected ---------------------------------------------------------------------------

    async def edit(self, user_id: int, ann_id: int, text: str) -> tuple[Announcement, int]:
        """Replace the text; every copy sent (or on its way) is edited. Returns the
        announcement and how many copies will change."""
        ann, origin = await self._own(user_id, ann_id)
        if ann.status not in ("scheduled", "sent"):
            raise Refusal(_gone_key(ann.status), id=ann.id)
        text = check_text(text, ann.kind)
        now = self.clock.time()
        async with self.db.transaction() as tx:
            current = await repo.get(tx, ann.id)
            if current is None or current.status not in ("scheduled", "sent"):
                raise Refusal(_gone_key(current.status if current else ""), id=ann.id)
            await repo.set_text(tx, ann.id, text, now)
            fresh = await repo.get(tx, ann.id)
            assert fresh is not None
            if fresh.status == "scheduled":
                return fresh, 0
            body = self.posting.body(fresh, origin.name)
            if fresh.kind == "message" and len(split_text(body)) > 1:
                raise Refusal("err_ann_edit_long")
            markup = self.posting.ack_markup(fresh.id)
            changed = 0
            for target in await repo.targets(tx, fresh.id, f"announce:{fresh.id}"):
                if target.outbox_id is None or target.status not in LIVE:
                    continue
                await self.outbox.add(
                    tx,
                    target.chat_id,
                    body,
                    kind="edit",
                    reply_markup=markup,
                    extra={"of_outbox": target.outbox_id, "caption": fresh.kind != "message"},
                    ref=f"announce-edit:{fresh.id}",
                    dedupe_key=f"announce:{fresh.id}:edit{fresh.edits}:{target.chat_id}",
                    urgent=True,
                )
                changed += 1
            for item in await repo.waiting_digest_items(tx, f"announce:{fresh.id}"):
                await repo.set_digest_payload(tx, item.id, {**item.payload, "text": body})
                changed += 1
        return fresh, changed

    # -- recalled ----------------------------------------------------------------------------

    async def recall(self, user_id: int, ann_id: int) -> tuple[Announcement, int, int]:
        """Delete every copy (edit the ones too old to delete). Returns the announcement, the
        copies to delete and the copies to edit instead."""
        ann, origin = await self._own(user_id, ann_id)
        if ann.status == "scheduled":
            raise Refusal("err_ann_recall_scheduled", id=ann.id)
        if ann.status != "sent":
            raise Refusal(_gone_key(ann.status), id=ann.id)
        lang = self.settings.language
        now = self.clock.time()
        notice = t(lang, "ann_recalled_copy", id=ann.id, org=origin.name, at=self.fmt(now))
        deleted = edited = 0
        async with self.db.transaction() as tx:
            if not await repo.mark_recalled(tx, ann.id, now):
                raise Refusal("err_ann_recalled", id=ann.id)
            await self.reminders.cancel(tx, "announce", ann.id)  # no nudge to acknowledge
            await self.reminders.cancel(tx, PINS, ann.id)
            caption = ann.kind != "message"
            for target in await repo.targets(tx, ann.id, f"announce:{ann.id}"):
                if target.outbox_id is None or target.status not in LIVE:
                    continue
                old = target.sent_at is not None and now - target.sent_at > DELETE_WINDOW
                extra: dict[str, Any] = {"of_outbox": target.outbox_id, "caption": caption}
                if not old:
                    extra["fallback_text"] = notice
                await self.outbox.add(
                    tx,
                    target.chat_id,
                    notice if old else "",
                    kind="edit" if old else "delete",
                    extra=extra,
                    ref=f"announce-recall:{ann.id}",
                    dedupe_key=f"announce:{ann.id}:recall:{target.chat_id}",
                    urgent=True,
                )
                if old:
                    edited += 1
                else:
                    deleted += 1
            waiting = await repo.waiting_digest_items(tx, f"announce:{ann.id}")
            await repo.delete_digest_items(tx, [item.id for item in waiting])
            deleted += len(waiting)
        return ann, deleted, edited

    # -- pinned ------------------------------------------------------------------------------

    async def _pins(self, conn: Conn, reminder: Reminder) -> None:
        """Reminder "announce_pins": tell the author where the copy could not be pinned (once
        every pin is done; looked at again a minute later while some are on their way)."""
        ann = await repo.get(conn, reminder.ref_id)
        if ann is None or ann.status != "sent":
            return
        rows = await outbox_repo.by_ref(conn, f"announce-pin:{ann.id}")
        step = int(reminder.step) if reminder.step.isdigit() else PIN_CHECKS
        if any(r.status == "pending" for r in rows) and step < PIN_CHECKS:
            await self.reminders.add(
                conn, PINS, ann.id, str(step + 1), self.clock.time() + PIN_CHECK
            )
            return
        lang = await self.lang_of_user(ann.author_id)
        refused = {
            r.chat_id: _pin_reason(lang, r.error or r.status) for r in rows if r.status != "sent"
        }
        for target in await repo.targets(conn, ann.id, f"announce:{ann.id}"):
            if target.outbox_id is None:
                refused[target.chat_id] = t(lang, "ann_pin_digest")
            elif target.status != "sent":
                refused[target.chat_id] = t(lang, "ann_pin_not_sent")
        if not refused:
            return
        titles = await repo.chat_titles(conn, list(refused))
        lines = [
            t(lang, "ann_pin_line", chat=titles.get(chat_id) or chat_id, why=Raw(why))
            for chat_id, why in sorted(refused.items(), key=lambda kv: titles.get(kv[0], ""))
        ]
        head = t(lang, "ann_pin_refused", id=ann.id, n=len(refused))
        await self._tell(conn, ann, "\n".join([head, *lines]), step="pins")


def _gone_key(status: str) -> str:
    """The refusal for an announcement that can no longer be changed that way."""
    return {
        "sent": "err_ann_already_sent",
        "cancelled": "err_ann_cancelled",
        "missed": "err_ann_missed",
        "recalled": "err_ann_recalled",
    }.get(status, "err_ann_unknown")


def _pin_reason(lang: str, error: str) -> str:
    """Why Telegram would not pin, in words (its own text otherwise)."""
    low = error.lower()
    if "rights" in low or "administrator" in low:
        return t(lang, "ann_pin_no_rights")
    if "forbidden" in low or "kicked" in low:
        return t(lang, "ann_pin_not_member")
    return html.escape(error)
