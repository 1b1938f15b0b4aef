"""An activity's posts (引导, 检票, ...): their rows, counters and per-post queues.

The counters of a post are written in the same transaction (BEGIN IMMEDIATE, the activity's
row locked first: `storage.activities.get_locked`) as the sign-ups they count, and the table's
CHECK (confirmed <= capacity) guards each post's capacity a second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.domain.models_activities import Post
from storage.db import Conn, fetchall, fetchone

_POST = "activity_id, post_no, name, capacity, shift_start, shift_end, confirmed, waiting"


async def insert(conn: Conn, activity_id: int, posts: Iterable[dict[str, Any]]) -> int:
    """The activity's posts (numbered from 1 in order); how many."""
    rows = [
        (activity_id, n, p["name"], p["capacity"], p.get("shift_start"), p.get("shift_end"))
        for n, p in enumerate(posts, start=1)
    ]
    await conn.executemany(
        "INSERT INTO activity_posts(activity_id, post_no, name, capacity, shift_start,"
        " shift_end) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    await conn.execute(
        "UPDATE activities SET post_count = ? WHERE id = ?", (len(rows), activity_id)
    )
    return len(rows)


async def of(conn: Conn, activity_ids: list[int]) -> dict[int, tuple[Post, ...]]:
    """The posts of each of these activities, in post order."""
    if not activity_ids:
        return {}
    marks = ",".join("?" * len(activity_ids))
    rows = await fetchall(
        conn,
        f"SELECT {_POST} FROM activity_posts WHERE activity_id IN ({marks})"
        " ORDER BY activity_id, post_no",
        activity_ids,
    )
    out: dict[int, list[Post]] = {}
    for r in rows:
        data = dict(r)
        out.setdefault(int(data.pop("activity_id")), []).append(Post.model_validate(data))
    return {k: tuple(v) for k, v in out.items()}


async def set_counters(conn: Conn, activity_id: int, posts: Iterable[Post]) -> None:
    """The counters a batch of sign-ups left on each post (the CHECK still guards them)."""
    await conn.executemany(
        "UPDATE activity_posts SET confirmed = ?, waiting = ? WHERE activity_id = ? AND post_no = ?",
        [(p.confirmed, p.waiting, activity_id, p.post_no) for p in posts],
    )


async def set_shifts(
    conn: Conn, activity_id: int, shifts: Iterable[tuple[int, float, float]]
) -> None:
    """New (post number, start, end) of posts' shifts (an edit moved the activity's day)."""
    await conn.executemany(
        "UPDATE activity_posts SET shift_start = ?, shift_end = ? WHERE activity_id = ?"
        " AND post_no = ?",
        [(start, end, activity_id, post_no) for post_no, start, end in shifts],
    )


async def moved(conn: Conn, activity_id: int, post_no: int, confirmed: int, waiting: int) -> None:
    """A leave changed the post's counters by these amounts."""
    await conn.execute(
        "UPDATE activity_posts SET confirmed = confirmed + ?, waiting = waiting + ?"
        " WHERE activity_id = ? AND post_no = ?",
        (confirmed, waiting, activity_id, post_no),
    )


async def first_waiting(conn: Conn, activity_id: int, post_no: int | None) -> int | None:
    """The user at the head of the waitlist (of the post, if the activity has posts)."""
    same_post = "post_no IS NULL" if post_no is None else "post_no = ?"
    row = await fetchone(
        conn,
        "SELECT user_id FROM activity_signups WHERE activity_id = ? AND status = 'waiting'"
        f" AND {same_post} ORDER BY seq LIMIT 1",
        (activity_id,) if post_no is None else (activity_id, post_no),
    )
    return int(row[0]) if row else None


async def waiting_position(conn: Conn, activity_id: int, post_no: int, seq: int) -> int:
    row = await fetchone(
        conn,
        "SELECT COUNT(*) FROM activity_signups WHERE activity_id = ? AND post_no = ?"
        " AND status = 'waiting' AND seq <= ?",
        (activity_id, post_no, seq),
    )
    return int(row[0]) if row else 0


async def recount(conn: Conn, activity_id: int) -> dict[int, tuple[int, int]]:
    """Per post: (confirmed, waiting) counted from the sign-ups themselves (tests, repairs)."""
    rows = await fetchall(
        conn,
        "SELECT post_no, COUNT(CASE WHEN status = 'confirmed' THEN 1 END),"
        " COUNT(CASE WHEN status = 'waiting' THEN 1 END) FROM activity_signups"
        " WHERE activity_id = ? AND post_no IS NOT NULL GROUP BY post_no ORDER BY post_no",
        (activity_id,),
    )
    return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
