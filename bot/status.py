"""What `towerbot status` reports: outbox backlog, reminders, last update received."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from storage import status as status_repo
from storage.db import Database


async def heartbeat(db: Database, last_update: tuple[int, float] | None, now: float) -> None:
    """Record that the bot is alive and the newest update it handled."""
    async with db.transaction() as tx:
        await status_repo.put(tx, "heartbeat", _iso(now))
        if last_update is not None:
            await status_repo.put(tx, "last_update", f"{last_update[0]} at {_iso(last_update[1])}")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


async def collect(db: Database) -> dict[str, Any]:
    figures = await status_repo.collect(db.reader)
    for key in ("outbox_oldest_pending", "next_reminder_due"):
        if figures.get(key) is not None:
            figures[key] = _iso(figures[key])
    return figures
