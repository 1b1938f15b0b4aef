"""Cadre posts and their holders (团干部职务), the roster of a subtree, its 配备率 / 在岗率
figures and the training records (attended activities of kind training)."""

from __future__ import annotations

from typing import Any

from bot.domain.models_cadres import Holding, Post, RosterLine, Training
from storage.db import Conn, all_of, changed, fetchall, fetchone, insert_returning_id, one_of

_POST = "id, org_id, position, created_at"
_HOLDING = "id, post_id, user_id, mode, term_start, term_end, appointed_by, started_at, ended_at"
_ORDER = "CASE {col} WHEN 'secretary' THEN 0 WHEN 'deputy' THEN 1 ELSE 2 END"
#: an org of the subtree that declared no post (one `?`-free fragment over `o`)
_UNDECLARED = (
    "NOT EXISTS (SELECT 1 FROM cadre_posts d WHERE d.org_id = o.id AND d.removed_at IS NULL)"
)
_WHO = " LEFT JOIN users u ON u.id = {uid} LEFT JOIN people p ON p.user_id = {uid}"


# --- posts -----------------------------------------------------------------------------------


async def posts_of(conn: Conn, org_id: int) -> list[Post]:
    """The org's declared posts (书记 first, then 副书记, 委员; in order of creation)."""
    return await all_of(
        conn,
        Post,
        f"SELECT {_POST} FROM cadre_posts WHERE org_id = ? AND removed_at IS NULL"
        f" ORDER BY {_ORDER.format(col='position')}, id",
        (org_id,),
    )


async def get_post(conn: Conn, post_id: int) -> Post | None:
    return await one_of(
        conn,
        Post,
        f"SELECT {_POST} FROM cadre_posts WHERE id = ? AND removed_at IS NULL",
        (post_id,),
    )


async def add_post(conn: Conn, org_id: int, position: str, now: float) -> int:
    return await insert_returning_id(
        conn,
        "INSERT INTO cadre_posts(org_id, position, created_at) VALUES (?, ?, ?)",
        (org_id, position, now),
    )


async def remove_post(conn: Conn, post_id: int, now: float) -> bool:
    return (
        await changed(
            conn,
            "UPDATE cadre_posts SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
            (now, post_id),
        )
        == 1
    )


# --- holders ---------------------------------------------------------------------------------


async def current(conn: Conn, post_id: int) -> Holding | None:
    """The post's holder now (None: vacant)."""
    return await one_of(
        conn,
        Holding,
        f"SELECT {_HOLDING} FROM cadre_holdings WHERE post_id = ? AND ended_at IS NULL",
        (post_id,),
    )


async def get_holding(conn: Conn, holding_id: int) -> Holding | None:
    return await one_of(
        conn, Holding, f"SELECT {_HOLDING} FROM cadre_holdings WHERE id = ?", (holding_id,)
    )


async def add_holding(
    conn: Conn,
    *,
    post_id: int,
    user_id: int,
    mode: str | None,
    term_start: str | None,
    term_end: str | None,
    by: int | None,
    now: float,
) -> int:
    return await insert_returning_id(
        conn,
        "INSERT INTO cadre_holdings(post_id, user_id, mode, term_start, term_end, appointed_by,"
        " started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (post_id, user_id, mode, term_start, term_end, by, now),
    )


async def end_holding(conn: Conn, holding_id: int, now: float) -> bool:
    return (
        await changed(
            conn,
            "UPDATE cadre_holdings SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            (now, holding_id),
        )
        == 1
    )


async def set_mode(conn: Conn, holding_id: int, mode: str) -> None:
    await conn.execute("UPDATE cadre_holdings SET mode = ? WHERE id = ?", (mode, holding_id))


async def set_term(conn: Conn, holding_id: int, start: str, end: str) -> None:
    await conn.execute(
        "UPDATE cadre_holdings SET term_start = ?, term_end = ? WHERE id = ?",
        (start, end, holding_id),
    )


async def holds_secretary_post(conn: Conn, org_id: int, user_id: int, but: int) -> bool:
    """Whether the person holds another 书记 post of the org than post `but`."""
    row = await fetchone(
        conn,
        "SELECT 1 FROM cadre_holdings h JOIN cadre_posts cp ON cp.id = h.post_id"
        " WHERE cp.org_id = ? AND cp.position = 'secretary' AND cp.removed_at IS NULL"
        " AND h.user_id = ? AND h.ended_at IS NULL AND cp.id <> ?",
        (org_id, user_id, but),
    )
    return row is not None


async def record_of(conn: Conn, user_id: int) -> tuple[list[RosterLine], list[Training]]:
    """The posts the person holds now and the trainings they attended, in one query (/me)."""
    rows = await fetchall(
        conn,
        "SELECT 0 AS part, o.id AS org_id, o.code AS org_code, o.name AS org_name,"
        " o.path AS org_path, o.depth, cp.id AS post_id, cp.position, h.id AS holding_id,"
        " h.mode, h.term_start, h.term_end, NULL AS title, NULL AS kind, NULL AS starts_at,"
        " NULL AS quarters FROM cadre_holdings h"
        " JOIN cadre_posts cp ON cp.id = h.post_id AND cp.removed_at IS NULL"
        " JOIN orgs o ON o.id = cp.org_id WHERE h.user_id = ? AND h.ended_at IS NULL"
        " UNION ALL SELECT 1, NULL, NULL, NULL, NULL, NULL, a.id, NULL, NULL, NULL, NULL, NULL,"
        " a.title, a.kind, a.starts_at, a.quarters FROM activity_signups s"
        " JOIN activities a ON a.id = s.activity_id WHERE s.user_id = ?"
        " AND s.attendance = 'present' AND a.kind IS NOT NULL"
        " ORDER BY 1, 5, 15, 7",
        (user_id, user_id),
    )
    posts = [
        RosterLine.model_validate({**dict(r), "user_id": user_id}) for r in rows if r["part"] == 0
    ]
    trainings = [
        Training(
            user_id=user_id,
            activity_id=r["post_id"],
            title=r["title"],
            kind=r["kind"],
            starts_at=r["starts_at"],
            quarters=r["quarters"],
        )
        for r in rows
        if r["part"] == 1
    ]
    return posts, trainings


async def records_of(conn: Conn, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """/mydata: every post the person holds or held, with mode, term and dates."""
    rows = await fetchall(
        conn,
        "SELECT o.code AS org, cp.position, h.mode, h.term_start, h.term_end, h.started_at,"
        " h.ended_at FROM cadre_holdings h JOIN cadre_posts cp ON cp.id = h.post_id"
        " JOIN orgs o ON o.id = cp.org_id WHERE h.user_id = ? ORDER BY h.id",
        (user_id,),
    )
    return {"cadre_posts": [dict(r) for r in rows]}


async def forget(conn: Conn, user_id: int) -> list[int]:
    """/forgetme: the person's holdings go (their posts become vacant); returns their ids."""
    rows = await fetchall(conn, "SELECT id FROM cadre_holdings WHERE user_id = ?", (user_id,))
    await conn.execute("DELETE FROM cadre_holdings WHERE user_id = ?", (user_id,))
    await conn.execute(
        "UPDATE cadre_holdings SET appointed_by = NULL WHERE appointed_by = ?", (user_id,)
    )
    return [int(r[0]) for r in rows]


# --- the roster and its figures --------------------------------------------------------------


async def roster(conn: Conn, path: str) -> list[RosterLine]:
    """Every post of the subtree with its holder (real names for private use only); an org
    that declared none shows its implicit 书记 post, once per secretary (vacant if none)."""
    like = path + "%"
    declared = await all_of(
        conn,
        RosterLine,
        "SELECT o.id AS org_id, o.code AS org_code, o.name AS org_name, o.path AS org_path,"
        " o.depth, cp.id AS post_id, cp.position, h.id AS holding_id, h.user_id, h.mode,"
        " h.term_start, h.term_end, u.first_name, u.username, p.real_name"
        " FROM cadre_posts cp JOIN orgs o ON o.id = cp.org_id AND o.path LIKE ?"
        " LEFT JOIN cadre_holdings h ON h.post_id = cp.id AND h.ended_at IS NULL"
        + _WHO.format(uid="h.user_id")
        + f" WHERE cp.removed_at IS NULL ORDER BY o.path, {_ORDER.format(col='cp.position')},"
        " cp.id",
        (like,),
    )
    implicit = await all_of(
        conn,
        RosterLine,
        "SELECT o.id AS org_id, o.code AS org_code, o.name AS org_name, o.path AS org_path,"
        " o.depth, r.user_id, u.first_name, u.username, p.real_name FROM orgs o"
        " LEFT JOIN roles r ON r.org_id = o.id AND r.role = 'secretary'"
        + _WHO.format(uid="r.user_id")
        + f" WHERE o.path LIKE ? AND {_UNDECLARED} ORDER BY o.path, r.user_id",
        (like,),
    )
    return sorted(declared + implicit, key=lambda line: line.org_path)  # stable: posts in order


#: current holders of the subtree (`?`: the path twice): of declared posts, and the
#: secretaries of orgs that declared none
_HOLDERS = (
    "SELECT h.user_id AS user_id FROM cadre_holdings h"
    " JOIN cadre_posts cp ON cp.id = h.post_id AND cp.removed_at IS NULL"
    " JOIN orgs o ON o.id = cp.org_id AND o.path LIKE ? WHERE h.ended_at IS NULL"
    " UNION ALL SELECT r.user_id AS user_id FROM roles r"
    " JOIN orgs o ON o.id = r.org_id AND o.path LIKE ?"
    f" WHERE r.role = 'secretary' AND {_UNDECLARED}"
)
#: acts in TowerBot since `?` (four times): approvals and rejections, activities organised,
#: report-backs submitted, announcements acknowledged
_ACTED = (
    "EXISTS (SELECT 1 FROM hour_entries e WHERE e.decided_by = x.user_id AND e.decided_at >= ?)"
    " OR EXISTS (SELECT 1 FROM activities a WHERE a.created_by = x.user_id AND a.created_at >= ?)"
    " OR EXISTS (SELECT 1 FROM campaign_submissions s WHERE s.user_id = x.user_id"
    " AND s.submitted_at >= ?)"
    " OR EXISTS (SELECT 1 FROM announcement_acks k WHERE k.user_id = x.user_id"
    " AND k.acked_at >= ?)"
)


_DECLARED_POSTS = (
    "SELECT COUNT(*) AS posts, COUNT(h.user_id) AS posts_filled FROM cadre_posts cp"
    " JOIN orgs o ON o.id = cp.org_id AND o.path LIKE ?"
    " LEFT JOIN cadre_holdings h ON h.post_id = cp.id AND h.ended_at IS NULL"
    " WHERE cp.removed_at IS NULL"
)
_IMPLICIT_POSTS = (
    "SELECT COUNT(*) AS implicit_posts, COUNT(CASE WHEN EXISTS (SELECT 1 FROM roles r"
    " WHERE r.org_id = o.id AND r.role = 'secretary') THEN 1 END) AS implicit_filled"
    f" FROM orgs o WHERE o.path LIKE ? AND {_UNDECLARED}"
)
_ACTIVE = (
    f"SELECT COUNT(*) AS holders, COUNT(CASE WHEN {_ACTED} THEN 1 END) AS holders_active"
    f" FROM ({_HOLDERS}) x"
)


async def figures(conn: Conn, path: str, since: float) -> dict[str, int]:
    """posts / posts_filled (配备率) and holders / holders_active (在岗率) of the subtree."""
    like = path + "%"
    out: dict[str, int] = {}
    queries: list[tuple[str, tuple[object, ...]]] = [
        (_DECLARED_POSTS, (like,)),
        (_IMPLICIT_POSTS, (like,)),
        (_ACTIVE, (since, since, since, since, like, like)),
    ]
    for sql, params in queries:
        row = await fetchone(conn, sql, params)
        if row is not None:
            out.update({k: int(row[k] or 0) for k in row.keys()})  # noqa: SIM118
    return {
        "posts": out.get("posts", 0) + out.get("implicit_posts", 0),
        "posts_filled": out.get("posts_filled", 0) + out.get("implicit_filled", 0),
        "holders": out.get("holders", 0),
        "holders_active": out.get("holders_active", 0),
    }


# --- training records ------------------------------------------------------------------------


async def trainings(conn: Conn, user_ids: list[int]) -> list[Training]:
    """Trainings the people attended (checked in and credited when the activity closed)."""
    if not user_ids:
        return []
    marks = ",".join("?" * len(user_ids))
    return await all_of(
        conn,
        Training,
        "SELECT s.user_id, a.id AS activity_id, a.title, a.kind, a.starts_at, a.quarters"
        " FROM activity_signups s JOIN activities a ON a.id = s.activity_id"
        f" WHERE s.user_id IN ({marks}) AND s.attendance = 'present' AND a.kind IS NOT NULL"
        " ORDER BY s.user_id, a.starts_at, a.id",
        user_ids,
    )
