"""An organiser's edit of an activity (its fields, places moved between roster and waitlist),
and who took its calendar file.

Everything runs inside the caller's `transaction()`; the activity row is locked first
(`activities.get_locked`), so an edit and a burst of sign-ups never interleave.
"""

from __future__ import annotations

from storage.db import Conn, fetchall


async def update(
    conn: Conn,
    activity_id: int,
    *,
    title: str,
    place: str,
    starts_at: float,
    capacity: int,
    note: str | None,
    signup_deadline: float | None,
    confirmed: int,
    waiting: int,
) -> None:
    """The edited fields and the counters they leave; the card version and the edit count
    (the calendar file's SEQUENCE) move on."""
    await conn.execute(
        "UPDATE activities SET title = ?, place = ?, starts_at = ?, capacity = ?, note = ?,"
        " signup_deadline = ?, confirmed = ?, waiting = ?, version = version + 1,"
        " edits = edits + 1 WHERE id = ?",
        (
            title,
            place,
            starts_at,
            capacity,
            note,
            signup_deadline,
            confirmed,
            waiting,
            activity_id,
        ),
    )


async def _move(conn: Conn, activity_id: int, user_ids: list[int], status: str) -> None:
    await conn.executemany(
        "UPDATE activity_signups SET status = ? WHERE activity_id = ? AND user_id = ?",
        [(status, activity_id, uid) for uid in user_ids],
    )


async def demote(conn: Conn, activity_id: int, count: int) -> list[int]:
    """The last `count` confirmed people (press order) go back to the waitlist; they keep their
    press order, which is ahead of everyone already waiting, so they head it in that order."""
    rows = await fetchall(
        conn,
        "SELECT user_id FROM activity_signups WHERE activity_id = ? AND status = 'confirmed'"
        " ORDER BY seq DESC LIMIT ?",
        (activity_id, count),
    )
    moved = [int(r[0]) for r in reversed(rows)]
    await _move(conn, activity_id, moved, "waiting")
    return moved


async def promote(conn: Conn, activity_id: int, count: int) -> list[int]:
    """The first `count` waiting people (press order) take the new places."""
    rows = await fetchall(
        conn,
        "SELECT user_id FROM activity_signups WHERE activity_id = ? AND status = 'waiting'"
        " ORDER BY seq LIMIT ?",
        (activity_id, count),
    )
    moved = [int(r[0]) for r in rows]
    await _move(conn, activity_id, moved, "confirmed")
    return moved


# --- calendar files --------------------------------------------------------------------------


async def take_calendar(
    conn: Conn, activity_id: int, user_id: int, sequence: int, now: float
) -> None:
    """The person has (or is being sent) the file at `sequence`."""
    await conn.execute(
        "INSERT INTO activity_calendars(activity_id, user_id, sequence, taken_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(activity_id, user_id) DO UPDATE SET"
        " sequence = excluded.sequence, taken_at = excluded.taken_at",
        (activity_id, user_id, sequence, now),
    )


async def calendar_takers(conn: Conn, activity_id: int) -> list[tuple[int, int]]:
    """(user id, sequence held) of everyone who took the activity's file, first taker first."""
    rows = await fetchall(
        conn,
        "SELECT user_id, sequence FROM activity_calendars WHERE activity_id = ?"
        " ORDER BY taken_at, user_id",
        (activity_id,),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


async def forget_calendars(conn: Conn, user_id: int) -> None:
    """/forgetme: no record of which files the person took."""
    await conn.execute("DELETE FROM activity_calendars WHERE user_id = ?", (user_id,))
