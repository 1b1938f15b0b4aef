"""What `towerbot status` reports: outbox backlog, reminders, last update received."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.instances import status_of as instances_status
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


#: stored errors that are Telegram's own words (no message text, no names): shown in full
_TELEGRAM_ERRORS = (
    "BadRequest",
    "Forbidden",
    "ChatMigrated",
    "TimedOut",
    "NetworkError",
    "RetryAfter",
    "InvalidToken",
    "Conflict",
    "EndPointNotFound",
)


def _failure(row: dict[str, Any]) -> dict[str, Any]:
    """One failed outbox row without personal data: a private chat is only "private", and an
    error of our own (which could quote a file name) only its class."""
    error = str(row.get("error") or "")
    name = error.split(":", 1)[0]
    return {
        "id": row["id"],
        "ref": row["ref"],
        "kind": row["kind"],
        "chat": f"group {row['chat_id']}" if row["chat_id"] < 0 else "private",
        "error": error[:160] if name in _TELEGRAM_ERRORS else name,
        "queued_at": _iso(row["created_at"]),
    }


async def collect(db: Database) -> dict[str, Any]:
    """Every figure `towerbot status` prints (times in UTC ISO)."""
    figures = await status_repo.collect(db.reader)
    figures["outbox_failed"] = int(figures["outbox"].get("failed", 0))
    figures["outbox_failures"] = [_failure(r) for r in figures["outbox_failures"]]
    for key in ("outbox_oldest_pending", "next_reminder_due"):
        if figures.get(key) is not None:
            figures[key] = _iso(figures[key])
    # the instances sharing this database and which one sends the outbox
    figures.update(await instances_status(db))
    return figures
