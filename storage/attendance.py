"""Attendance marked by the organiser: the mark on a sign-up, the roster it is marked on, and
the log of every mark (who, when, what it did to the hours)."""

from __future__ import annotations

from bot.domain.models_attendance import Mark, RosterLine
from storage.db import Conn, all_of, fetchone, insert_returning_id, one_of

_LINE = (
    "SELECT s.user_id, s.seq, s.checked_in_at, s.attendance, s.marked, s.hour_entry_id,"
    " s.post_no, u.first_name AS first_name, u.lang AS lang, u.tg_lang AS tg_lang,"
    " p.real_name AS real_name, p.org_id AS org_id"
    " FROM activity_signups s LEFT JOIN users u ON u.id = s.user_id"
    " LEFT JOIN people p ON p.user_id = s.user_id"
    " WHERE s.activity_id = ? AND s.status = 'confirmed'"
)
_MARK = "id, activity_id, user_id, mark, by_user, at, after_close, credited, revoked"


async def roster_page(conn: Conn, activity_id: int, *, limit: int, offset: int) -> list[RosterLine]:
    """Confirmed people in press order, one page."""
    return await all_of(
        conn, RosterLine, f"{_LINE} ORDER BY s.seq LIMIT ? OFFSET ?", (activity_id, limit, offset)
    )


async def confirmed_count(conn: Conn, activity_id: int) -> int:
    row = await fetchone(
        conn,
        "SELECT COUNT(*) FROM activity_signups WHERE activity_id = ? AND status = 'confirmed'",
        (activity_id,),
    )
    return int(row[0]) if row else 0


async def line_of(conn: Conn, activity_id: int, user_id: int) -> RosterLine | None:
    """One confirmed person's line (None if they hold no place)."""
    return await one_of(conn, RosterLine, f"{_LINE} AND s.user_id = ?", (activity_id, user_id))


async def marks_of(conn: Conn, activity_id: int) -> dict[int, str]:
    """The organiser's marks on the activity's confirmed people (user id -> mark)."""
    lines = await all_of(conn, RosterLine, f"{_LINE} AND s.marked IS NOT NULL", (activity_id,))
    return {line.user_id: line.marked for line in lines if line.marked}


async def set_marked(conn: Conn, activity_id: int, user_id: int, marked: str | None) -> None:
    await conn.execute(
        "UPDATE activity_signups SET marked = ? WHERE activity_id = ? AND user_id = ?",
        (marked, activity_id, user_id),
    )


async def log(
    conn: Conn,
    *,
    activity_id: int,
    user_id: int,
    mark: str,
    by: int,
    at: float,
    after_close: bool,
    credited: int | None = None,
    revoked: int | None = None,
) -> int:
    return await insert_returning_id(
        conn,
        "INSERT INTO attendance_marks(activity_id, user_id, mark, by_user, at, after_close,"
        " credited, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (activity_id, user_id, mark, by, at, int(after_close), credited, revoked),
    )


async def log_of(conn: Conn, activity_id: int) -> list[Mark]:
    """Every mark of the activity, oldest first."""
    return await all_of(
        conn,
        Mark,
        f"SELECT {_MARK} FROM attendance_marks WHERE activity_id = ? ORDER BY id",
        (activity_id,),
    )


async def repoint_user(conn: Conn, user_id: int, tomb_id: int) -> None:
    """/forgetme: the log keeps its marks, naming the tombstone (marked or marking)."""
    for column in ("user_id", "by_user"):
        await conn.execute(
            f"UPDATE attendance_marks SET {column} = ? WHERE {column} = ?", (tomb_id, user_id)
        )
