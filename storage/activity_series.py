"""Recurring activities: the series rows and the occurrences (ordinary activities) they link.

Every occurrence is an `activities` row with `series_id` and `series_no`; everything about one
occurrence (sign-ups, cards, reminders) stays in storage/activities.py.
"""

from __future__ import annotations

from storage.db import Conn, fetchall, fetchone, insert_returning_id


async def insert(
    conn: Conn, *, org_id: int, rule: str, total: int, created_by: int, now: float
) -> int:
    """A new series row; its occurrences are linked with `link`."""
    return await insert_returning_id(
        conn,
        "INSERT INTO activity_series(org_id, rule, total, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (org_id, rule, total, created_by, now),
    )


async def link(conn: Conn, activity_id: int, series_id: int, no: int) -> None:
    """Mark an activity as occurrence `no` (from 1) of the series."""
    await conn.execute(
        "UPDATE activities SET series_id = ?, series_no = ? WHERE id = ?",
        (series_id, no, activity_id),
    )


async def open_from(conn: Conn, series_id: int, starts_at: float) -> list[int]:
    """Ids of the series' open occurrences starting at or after `starts_at`, in order."""
    rows = await fetchall(
        conn,
        "SELECT id FROM activities WHERE series_id = ? AND status = 'open' AND starts_at >= ?"
        " ORDER BY starts_at, id",
        (series_id, starts_at),
    )
    return [int(r[0]) for r in rows]


async def next_open(conn: Conn, series_id: int, after: float) -> int | None:
    """The series' first open occurrence starting after `after`, if any."""
    row = await fetchone(
        conn,
        "SELECT id FROM activities WHERE series_id = ? AND status = 'open' AND starts_at > ?"
        " ORDER BY starts_at, id LIMIT 1",
        (series_id, after),
    )
    return int(row[0]) if row else None


async def card_chats(conn: Conn, activity_id: int) -> set[int]:
    """The chats holding a sign-up card of the activity (sent or still queued)."""
    rows = await fetchall(
        conn,
        "SELECT chat_id FROM activity_cards WHERE activity_id = ? AND kind = 'card' AND gone = 0",
        (activity_id,),
    )
    return {int(r[0]) for r in rows}


async def repoint_user(conn: Conn, user_id: int, tomb_id: int) -> None:
    """/forgetme: the series the person created name the tombstone instead."""
    await conn.execute(
        "UPDATE activity_series SET created_by = ? WHERE created_by = ?", (tomb_id, user_id)
    )
