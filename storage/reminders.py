"""Reminder rows: the database's record of what is scheduled."""

from __future__ import annotations

from bot.domain.models_reminders import Reminder
from storage.db import Conn, all_of, fetchall, fetchone, insert_once

_COLS = "id, kind, ref_id, step, due_at, status, fired_at"


async def add(conn: Conn, kind: str, ref_id: int, step: str, due_at: float) -> bool:
    """Schedule once; an existing (kind, ref_id, step) keeps its row and status."""
    return await insert_once(
        conn,
        "reminders",
        {"kind": kind, "ref_id": ref_id, "step": step, "due_at": due_at},
        key="kind, ref_id, step",
    )


async def cancel(conn: Conn, kind: str, ref_id: int) -> int:
    cur = await conn.execute(
        "UPDATE reminders SET status = 'cancelled' WHERE kind = ? AND ref_id = ?"
        " AND status = 'pending'",
        (kind, ref_id),
    )
    return cur.rowcount


async def move_ref(conn: Conn, kind: str, old: int, new: int) -> None:
    """Re-point `kind` reminders from `old` to `new` (a migrated chat's digest)."""
    # a step already scheduled for `new` keeps its row (the old one stays, as UPDATE OR IGNORE did)
    await conn.execute(
        "UPDATE reminders SET ref_id = ? WHERE kind = ? AND ref_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM reminders n WHERE n.kind = reminders.kind AND n.ref_id = ?"
        " AND n.step = reminders.step)",
        (new, kind, old, new),
    )


async def due(conn: Conn, now: float, limit: int) -> list[Reminder]:
    return await all_of(
        conn,
        Reminder,
        f"SELECT {_COLS} FROM reminders WHERE status = 'pending' AND due_at <= ?"
        " ORDER BY due_at, id LIMIT ?",
        (now, limit),
    )


async def claim(conn: Conn, reminder_id: int, status: str, now: float) -> bool:
    """pending -> done|missed|failed; False when someone else already took it."""
    cur = await conn.execute(
        "UPDATE reminders SET status = ?, fired_at = ? WHERE id = ? AND status = 'pending'",
        (status, now, reminder_id),
    )
    return cur.rowcount == 1


async def claim_many(conn: Conn, ids: list[int], status: str, now: float) -> set[int]:
    """`claim` for several rows in one statement; the ids this call took."""
    if not ids:
        return set()
    marks = ", ".join("?" * len(ids))
    rows = await fetchall(
        conn,
        f"UPDATE reminders SET status = ?, fired_at = ? WHERE status = 'pending'"
        f" AND id IN ({marks}) RETURNING id",
        (status, now, *ids),
    )
    return {int(r[0]) for r in rows}


async def mark_failed(conn: Conn, reminder_id: int, now: float) -> None:
    """A reminder whose handler raised is recorded as failed (whether or not it was claimed)."""
    await conn.execute(
        "UPDATE reminders SET status = 'failed', fired_at = ? WHERE id = ?"
        " AND status IN ('pending', 'done')",
        (now, reminder_id),
    )


async def next_due(conn: Conn) -> float | None:
    row = await fetchone(conn, "SELECT MIN(due_at) FROM reminders WHERE status = 'pending'")
    return float(row[0]) if row and row[0] is not None else None


async def of_ref(conn: Conn, kind: str, ref_id: int) -> list[Reminder]:
    return await all_of(
        conn,
        Reminder,
        f"SELECT {_COLS} FROM reminders WHERE kind = ? AND ref_id = ? ORDER BY due_at, id",
        (kind, ref_id),
    )


async def counts(conn: Conn) -> dict[str, int]:
    rows = await fetchall(conn, "SELECT status, COUNT(*) FROM reminders GROUP BY status")
    return {r[0]: r[1] for r in rows}
