"""Reviewing report-backs (述职评议): reviewers, the review, its scores and results."""

from __future__ import annotations

from pydantic import BaseModel

from storage.db import Conn, all_of, fetchall, fetchone, one_of, redacted


class ReviewRow(BaseModel):
    campaign_id: int
    status: str
    opened_by: int
    opened_at: float
    closed_at: float | None = None


class Score(BaseModel):
    campaign_id: int
    org_id: int
    reviewer_id: int
    first_name: str = ""
    grade: int | None = None
    comment: str | None = None
    scored_at: float


class Result(BaseModel):
    campaign_id: int
    org_id: int
    grade: int | None = None
    points: float | None = None
    scored: int
    tie: bool = False


# --- reviewers -------------------------------------------------------------------------------


async def panel(conn: Conn, campaign_id: int) -> list[int]:
    rows = await fetchall(
        conn,
        "SELECT user_id FROM campaign_reviewers WHERE campaign_id = ? ORDER BY user_id",
        (campaign_id,),
    )
    return [int(r["user_id"]) for r in rows]


async def set_panel(conn: Conn, campaign_id: int, user_ids: list[int]) -> None:
    await conn.executemany(
        "INSERT INTO campaign_reviewers(campaign_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(campaign_id, u) for u in user_ids],
    )


# --- the review ------------------------------------------------------------------------------

_REVIEW = "campaign_id, status, opened_by, opened_at, closed_at"


async def get(conn: Conn, campaign_id: int) -> ReviewRow | None:
    return await one_of(
        conn, ReviewRow, f"SELECT {_REVIEW} FROM reviews WHERE campaign_id = ?", (campaign_id,)
    )


async def open_review(conn: Conn, campaign_id: int, by: int, now: float) -> bool:
    """Open the review; False if it was opened before."""
    cur = await conn.execute(
        "INSERT INTO reviews(campaign_id, opened_by, opened_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (campaign_id, by, now),
    )
    return cur.rowcount == 1


async def close_review(conn: Conn, campaign_id: int, now: float) -> bool:
    """Close an open review; False if it was not open."""
    cur = await conn.execute(
        "UPDATE reviews SET status = 'closed', closed_at = ? WHERE campaign_id = ?"
        " AND status = 'open'",
        (now, campaign_id),
    )
    return cur.rowcount == 1


# --- scores ----------------------------------------------------------------------------------


async def set_grade(
    conn: Conn, campaign_id: int, org_id: int, reviewer_id: int, grade: int, now: float
) -> None:
    await conn.execute(
        "INSERT INTO review_scores(campaign_id, org_id, reviewer_id, grade, scored_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(campaign_id, org_id, reviewer_id)"
        " DO UPDATE SET grade = excluded.grade, scored_at = excluded.scored_at",
        (campaign_id, org_id, reviewer_id, grade, now),
    )


async def set_comment(
    conn: Conn, campaign_id: int, org_id: int, reviewer_id: int, comment: str, now: float
) -> None:
    await conn.execute(
        "INSERT INTO review_scores(campaign_id, org_id, reviewer_id, comment, scored_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(campaign_id, org_id, reviewer_id)"
        " DO UPDATE SET comment = excluded.comment, scored_at = excluded.scored_at",
        (campaign_id, org_id, reviewer_id, comment, now),
    )


async def score(conn: Conn, campaign_id: int, org_id: int, reviewer_id: int) -> Score | None:
    found = await scores(conn, campaign_id, org_id=org_id, reviewer_id=reviewer_id)
    return found[0] if found else None


async def scores(
    conn: Conn, campaign_id: int, *, org_id: int | None = None, reviewer_id: int | None = None
) -> list[Score]:
    """Scores of a campaign (optionally of one org or one reviewer): org, then reviewer."""
    sql = (
        "SELECT s.campaign_id, s.org_id, s.reviewer_id, COALESCE(u.first_name, '')"
        " AS first_name, s.grade, s.comment, s.scored_at FROM review_scores s"
        " LEFT JOIN users u ON u.id = s.reviewer_id WHERE s.campaign_id = ?"
    )
    params: list[object] = [campaign_id]
    if org_id is not None:
        sql += " AND s.org_id = ?"
        params.append(org_id)
    if reviewer_id is not None:
        sql += " AND s.reviewer_id = ?"
        params.append(reviewer_id)
    return await all_of(conn, Score, sql + " ORDER BY s.org_id, s.reviewer_id", params)


async def graded_count(conn: Conn, campaign_id: int, reviewer_id: int) -> int:
    row = await fetchone(
        conn,
        "SELECT COUNT(*) AS n FROM review_scores WHERE campaign_id = ? AND reviewer_id = ?"
        " AND grade IS NOT NULL",
        (campaign_id, reviewer_id),
    )
    return int(row["n"]) if row else 0


# --- results ---------------------------------------------------------------------------------


async def save_results(conn: Conn, results: list[Result]) -> None:
    await conn.executemany(
        "INSERT INTO review_results(campaign_id, org_id, grade, points, scored, tie)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(r.campaign_id, r.org_id, r.grade, r.points, r.scored, int(r.tie)) for r in results],
    )


async def results(conn: Conn, campaign_id: int) -> list[Result]:
    return await all_of(
        conn,
        Result,
        "SELECT campaign_id, org_id, grade, points, scored, tie FROM review_results"
        " WHERE campaign_id = ? ORDER BY org_id",
        (campaign_id,),
    )


# --- /forgetme -------------------------------------------------------------------------------


async def repoint_user(conn: Conn, user_id: int, tomb_id: int, needles: list[str]) -> None:
    """Scores and panels name the tombstone; comments lose the person's strings."""
    for table, column in (
        ("review_scores", "reviewer_id"),
        ("campaign_reviewers", "user_id"),
        ("reviews", "opened_by"),
    ):
        await conn.execute(
            f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (tomb_id, user_id)
        )
    expr, cond, params = redacted("comment", needles)
    await conn.execute(f"UPDATE review_scores SET comment = {expr} WHERE {cond}", params)
