"""Reminders that fire exactly once, across restarts.

Features schedule rows with `add(conn, kind, ref_id, step, due_at)` inside their own
transaction and register a handler per kind with `on(kind, handler)`. A handler runs inside the
transaction that claims the row, so its outbox messages are committed together with the claim:
a reminder is never sent twice and never lost. At start-up, a reminder that came due while the
bot was down fires when it is less than `late_limit` late, else it is recorded as missed; a kind
registered with `late_limit=None` (the evening digest: it carries work, not a nudge) always
fires, however late. A handler that raises leaves its row `failed` and the others fire.

A batch is claimed with one statement and its handlers run without savepoints (on PostgreSQL
each statement is a round trip to the server: a burst of 1,000 costs about 1,000 of them, not
4,000). When anything in the batch raises, its transaction rolls back and the rows are retried
one per transaction, each handler in a savepoint: the one that raises is marked failed, the
others fire, so one bad row cannot hold the rest back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.domain.clock import Clock
from bot.domain.models_reminders import Reminder
from storage import reminders as repo
from storage.db import Conn, Database, savepoint

log = logging.getLogger(__name__)

Handler = Callable[[Conn, Reminder], Awaitable[None]]
LATE_LIMIT = 12 * 3600.0


_DEFAULT = object()  # `on()` without a late limit: the service's own


@dataclass
class FireResult:
    """What one `fire_due` did; `stuck` counts rows that could not even be marked failed."""

    fired: int = 0
    missed: int = 0
    failed: int = 0
    stuck: int = 0

    def add(self, other: FireResult) -> None:
        """Add another result's counts to this one."""
        self.fired += other.fired
        self.missed += other.missed
        self.failed += other.failed
        self.stuck += other.stuck


class Reminders:
    """The scheduling truth; `schedules/reminders.py` keeps one timer on `next_due()`."""

    def __init__(self, db: Database, clock: Clock, late_limit: float = LATE_LIMIT) -> None:
        self.db = db
        self.clock = clock
        self.late_limit = late_limit
        self.handlers: dict[str, Handler] = {}
        self.late_limits: dict[str, float | None] = {}
        #: called after a commit that scheduled something (the timer may need to move earlier)
        self.changed: Callable[[], None] = lambda: None

    def on(self, kind: str, handler: Handler, *, late_limit: Any = _DEFAULT) -> None:
        """Register the handler of `kind`; `late_limit=None`: it fires however late it is."""
        self.handlers[kind] = handler
        self.late_limits[kind] = self.late_limit if late_limit is _DEFAULT else late_limit

    async def add(self, conn: Conn, kind: str, ref_id: int, step: str, due_at: float) -> bool:
        """Schedule inside the caller's transaction; (kind, ref_id, step) is scheduled once."""
        added = await repo.add(conn, kind, ref_id, step, due_at)
        if added:
            self.db.on_commit(self.changed)
        return added

    async def cancel(self, conn: Conn, kind: str, ref_id: int) -> int:
        """Cancel every pending step of (kind, ref_id); returns how many."""
        return await repo.cancel(conn, kind, ref_id)

    async def next_due(self) -> float | None:
        """The earliest due time of a pending reminder, or None."""
        return await repo.next_due(self.db.reader)

    async def fire_due(self, batch: int = 200) -> FireResult:
        """Fire (or record as missed or failed) every pending reminder that is due now."""
        result = FireResult()
        while True:
            now = self.clock.time()
            rows = await repo.due(self.db.reader, now, batch)
            if not rows:
                return result
            part = FireResult()
            try:
                async with self.db.transaction() as tx:
                    await self._fire_batch(tx, rows, now, part)
            except Exception:  # the batch rolled back: one row per transaction instead
                log.exception(
                    "reminders: a batch of %s rolled back; firing them one by one", len(rows)
                )
                part = await self._fire_singly(rows, now)
            result.add(part)
            if part.stuck or len(rows) < batch:
                return result

    async def _fire_batch(
        self, tx: Conn, rows: list[Reminder], now: float, result: FireResult
    ) -> None:
        """Every row in one transaction: the claims in one statement per outcome, the handlers
        without savepoints (a raise rolls the whole batch back: `fire_due` goes row by row)."""
        firing: list[Reminder] = []
        late: list[Reminder] = []
        for row in rows:
            if row.kind not in self.handlers:
                await self._fire_one(tx, row, now, result)  # marked failed, logged
            elif self._too_late(row, now):
                late.append(row)
            else:
                firing.append(row)
        missed = await repo.claim_many(tx, [r.id for r in late], "missed", now)
        for row in late:
            if row.id in missed:
                result.missed += 1
                self._log_missed(row, now)
        claimed = await repo.claim_many(tx, [r.id for r in firing], "done", now)
        for row in firing:
            if row.id in claimed:
                await self.handlers[row.kind](tx, row)
                result.fired += 1

    def _too_late(self, row: Reminder, now: float) -> bool:
        limit = self.late_limits.get(row.kind, self.late_limit)
        return limit is not None and now - row.due_at > limit

    @staticmethod
    def _log_missed(row: Reminder, now: float) -> None:
        log.warning(
            "reminder %s %s/%s %s missed (%.0f s late)",
            row.id,
            row.kind,
            row.ref_id,
            row.step,
            now - row.due_at,
        )

    async def _fire_singly(self, rows: list[Reminder], now: float) -> FireResult:
        """Each row in its own transaction; a row whose transaction fails is marked failed."""
        result = FireResult()
        for row in rows:
            try:
                async with self.db.transaction() as tx:
                    await self._fire_one(tx, row, now, result)
                continue
            except Exception:
                log.exception("reminder %s %s/%s failed", row.id, row.kind, row.ref_id)
            try:
                async with self.db.transaction() as tx:
                    await repo.mark_failed(tx, row.id, now)
                result.failed += 1
            except Exception:  # the database itself: the row stays pending, retried later
                log.exception("reminder %s could not be marked failed", row.id)
                result.stuck += 1
        return result

    async def _fire_one(self, tx: Conn, row: Reminder, now: float, result: FireResult) -> None:
        handler = self.handlers.get(row.kind)
        if handler is None:
            log.error("reminder %s: no handler for kind %r; marked failed", row.id, row.kind)
            await repo.mark_failed(tx, row.id, now)
            result.failed += 1
            return
        if self._too_late(row, now):
            if await repo.claim(tx, row.id, "missed", now):
                result.missed += 1
                self._log_missed(row, now)
            return
        if not await repo.claim(tx, row.id, "done", now):
            return
        try:
            async with savepoint(tx, "reminder"):
                await handler(tx, row)
        except Exception:  # one broken reminder must not block the others
            log.exception("reminder %s %s/%s failed; marked failed", row.id, row.kind, row.ref_id)
            await repo.mark_failed(tx, row.id, now)
            result.failed += 1
        else:
            result.fired += 1
