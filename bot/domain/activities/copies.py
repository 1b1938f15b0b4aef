"""Where each activity's card copies are, and which of them show an old version.

The service `mark`s an activity after a change is committed; whoever keeps the copies live
(the gateway's card editor, through `listener`) `take`s the marked ids, edits the copies that
are `stale` and `record`s what it did. The database says what is stale
(`shown_version < version`), so a restart loses nothing: `restore` marks those again.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.models_activities import Activity, Card
from bot.domain.outbox import Outbox
from storage import activities as repo
from storage.db import Database


class CardCopies:
    """The card copies' bookkeeping: marked activities and what the database says of them."""

    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox
        self.dirty: set[int] = set()
        self.listener: Callable[[], None] | None = None  # told of every mark

    def mark(self, activity_id: int) -> None:
        """The activity changed: its copies will be edited soon (coalesced)."""
        self.dirty.add(activity_id)
        if self.listener is not None:
            self.listener()

    def take(self) -> list[int]:
        """The marked activities, in id order; the marks are cleared."""
        ids, self.dirty = sorted(self.dirty), set()
        return ids

    def keep(self, activity_ids: set[int]) -> None:
        """Mark again, quietly, activities whose copies are still behind."""
        self.dirty |= activity_ids

    async def restore(self) -> None:
        """At start-up: copies left stale by a restart become marked again."""
        for activity_id in await repo.stale_activity_ids(self.db.reader):
            self.mark(activity_id)

    async def resolve(self, activity_ids: list[int]) -> None:
        """Learn the message ids of copies the outbox has sent since."""
        db = self.db
        found: list[tuple[int, int]] = []
        gone: list[int] = []
        for activity_id in activity_ids:
            cards = [
                c
                for c in await repo.cards_of(db.reader, [activity_id])
                if c.message_id is None and c.outbox_id is not None
            ]
            if not cards:
                continue
            items = {i.id: i for i in await self.outbox.by_ref(f"act:{activity_id}")}
            for card in cards:
                item = items.get(card.outbox_id or 0)
                if item is None or item.status in ("failed", "cancelled"):
                    gone.append(card.id)
                elif item.status == "sent" and item.message_ids:
                    found.append((card.id, int(item.message_ids[-1])))
        if found or gone:
            async with db.transaction() as tx:
                for card_id, message_id in found:
                    await repo.set_card_message(tx, card_id, message_id)
                await repo.mark_gone(tx, gone)

    async def stale(self, activity_ids: list[int]) -> list[tuple[Card, Activity]]:
        """Every copy of these activities that shows an older version, with the activity now."""
        activities = {a.id: a for a in await repo.many(self.db.reader, activity_ids)}
        out: list[tuple[Card, Activity]] = []
        for card in await repo.cards_of(self.db.reader, activity_ids):
            activity = activities.get(card.activity_id)
            if activity is not None and card.shown_version < activity.version:
                out.append((card, activity))
        return out

    async def record(self, shown: list[tuple[int, int]], gone: list[int]) -> None:
        """Copies edited to a version (card id, version), and copies that cannot be edited."""
        if shown or gone:
            async with self.db.transaction() as tx:
                await repo.mark_shown(tx, shown)
                await repo.mark_gone(tx, gone)

    async def behind(self, activity: Activity, done: set[int]) -> bool:
        """Is any copy of `activity` (other than the card ids in `done`) older than `activity`?"""
        return any(
            c.id not in done and c.shown_version < activity.version
            for c in await repo.cards_of(self.db.reader, [activity.id])
        )
