"""The webhook inbox: accepted updates are committed before Telegram gets its 200.

Telegram forgets an update once the webhook answered 2xx, so an update held only in memory
would be lost by a crash between the answer and the handling. The web server stores each update
here first; a worker hands pending rows to the Application in update_id order and marks them
handled afterwards. A crash therefore loses nothing, at the price that an update in the middle
of being handled is handled again after the restart (as with polling).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.domain.clock import Clock
from storage import inbox as repo
from storage import instances as instances_repo
from storage.db import Database
from storage.inbox import InboxRow

#: Handled rows are kept this long (seconds) to recognise late re-deliveries, then deleted.
KEEP_HANDLED = 24 * 3600.0


@dataclass(frozen=True)
class InboxFigures:
    """What /healthz reports: no personal data, only counts and a time."""

    pending: int
    last_received_at: float | None


class Inbox:
    """Store, list, mark and prune inbox rows; all SQL lives in storage/inbox.py.

    With several instances on one database, each row belongs to the instance (`owner`, its
    id in `instances`) that accepted it; see `pending` and `adopt`.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        keep_handled: float = KEEP_HANDLED,
        *,
        owner: str = "",
        ttl: float = 15.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.clock = clock
        self.keep_handled = keep_handled
        self.owner = owner
        self.ttl = ttl
        self.wall = wall
        #: set by `pending`: some row waits for another instance to handle an earlier one
        self.blocked = False

    async def accept(self, update_id: int, chat_key: int, body: str) -> bool:
        """Commit one update; False for a duplicate update_id (already stored)."""
        async with self.db.transaction() as tx:
            return await repo.add(tx, update_id, chat_key, body, self.clock.time(), self.owner)

    async def pending(self, skip: Collection[int] = (), limit: int = 100) -> list[InboxRow]:
        """This instance's unhandled updates, oldest update_id first, except those in `skip`
        and those whose chat has an earlier update still unhandled on another instance."""
        rows, self.blocked = await repo.pending(self.db.reader, self.owner, skip, limit)
        return rows

    async def adopt(self) -> int:
        """Take over the unhandled rows of instances whose heartbeat stopped (or of none)."""
        cutoff = self.wall() - self.ttl
        alive = [
            i.id for i in await instances_repo.instances(self.db.reader) if i.seen_at >= cutoff
        ]
        async with self.db.transaction() as tx:
            return await repo.adopt(tx, self.owner, [*alive, self.owner])

    async def mark_handled(self, update_id: int) -> None:
        """Record that the Application has processed this update."""
        async with self.db.transaction() as tx:
            await repo.mark_handled(tx, update_id, self.clock.time())

    async def prune(self) -> int:
        """Delete rows handled longer ago than `keep_handled`."""
        async with self.db.transaction() as tx:
            return await repo.prune(tx, self.clock.time() - self.keep_handled)

    async def figures(self) -> InboxFigures:
        """Pending count and the newest update's receipt time."""
        pending, last = await repo.figures(self.db.reader)
        return InboxFigures(pending=pending, last_received_at=last)
