"""Reminders that fire exactly once, across restarts.

Features schedule rows with `add(conn, kind, ref_id, step, due_at)` inside their own
transaction and register a handler per kind with `on(kind, handler)`. A handler runs inside the
transaction that claims the row, so its outbox messages are committed together with the claim:
a reminder is never sent twice and never lost. At start-up, a reminder that came due while the
bot was down fires when it is less than `late_limit` late, else it is recorded as missed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.clock import Clock
from bot.domain.models_reminders import Reminder
from storage import reminders as repo
from storage.db import Conn, Database, savepoint

log = logging.getLogger(__name__)

Handler = Callable[[Conn, Reminder], Awaitable[None]]
LATE_LIMIT = 12 * 3600.0


@dataclass
class FireResult:
    fired: int = 0
    missed: int = 0


class Reminders:
    """The scheduling truth; `schedules/reminders.py` keeps one timer on `next_due()`."""

    def __init__(self, db: Database, clock: Clock, late_limit: float = LATE_LIMIT) -> None:
        self.db = db
        self.clock = clock
        self.late_limit = late_limit
        self.handlers: dict[str, Handler] = {}
        #: called after a commit that scheduled something (the timer may need to move earlier)
        self.changed: Callable[[], None] = lambda: None

    def on(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    async def add(self, conn: Conn, kind: str, ref_id: int, step: str, due_at: float) -> bool:
        """Schedule inside the caller's transaction; (kind, ref_id, step) is scheduled once."""
        added = await repo.add(conn, kind, ref_id, step, due_at)
        if added:
            self.db.on_commit(self.changed)
        return added

    async def cancel(self, conn: Conn, kind: str, ref_id: int) -> int:
        return await repo.cancel(conn, kind, ref_id)

    async def next_due(self) -> float | None:
        return await repo.next_due(self.db.reader)

    async def fire_due(self, batch: int = 200) -> FireResult:
        """Fire (or record as missed) every pending reminder that is due now."""
        result = FireResult()
        while True:
            now = self.clock.time()
            rows = await repo.due(self.db.reader, now, batch)
            if not rows:
                return result
            async with self.db.transaction() as tx:
                for row in rows:
                    await self._fire_one(tx, row, now, result)
            if len(rows) < batch:
                return result

    async def _fire_one(self, tx: Conn, row: Reminder, now: float, result: FireResult) -> None:
        late = now - row.due_at
        handler = self.handlers.get(row.kind)
        if late > self.late_limit or handler is None:
            if await repo.claim(tx, row.id, "missed", now):
                result.missed += 1
                log.warning("reminder %s %s/%s %s missed (%.0f s late)", row.id, row.kind,
                            row.ref_id, row.step, late)
            return
        if not await repo.claim(tx, row.id, "done", now):
            return
        try:
            async with savepoint(tx, "reminder"):
                await handler(tx, row)
        except Exception:  # one broken reminder must not block the others
            log.exception("reminder %s %s/%s failed; marked missed", row.id, row.kind, row.ref_id)
            await repo.mark_missed(tx, row.id)
            result.missed += 1
        else:
            result.fired += 1
