"""Report-back campaigns: the campaign, the orgs that owe it, and their submissions."""

from __future__ import annotations

from bot.domain.models_campaigns import Campaign, Content, Owing, Part, Submission
from storage import review as review_repo
from storage.db import (
    Conn,
    all_of,
    fetchall,
    fetchone,
    insert_returning_id,
    model_from,
    one_of,
    redacted,
)

_CAMP = (
    "id, org_id, title, due_at, scope, status, created_by, created_at, cancelled_at,"
    " parts, rubric, method"
)
_CAMP_C = ", ".join("c." + col.strip() for col in _CAMP.split(","))
_SUB = (
    "s.campaign_id, s.org_id, s.user_id, COALESCE(u.first_name, '') AS first_name, s.text,"
    " s.file_id, s.file_name, s.file_size, s.submitted_at, s.late, s.versions"
)


async def insert(
    conn: Conn,
    *,
    org_id: int,
    title: str,
    due_at: float,
    scope: str,
    created_by: int,
    now: float,
    owing: list[int],
    parts: int = 1,
    rubric: str = "",
    method: str = "average",
) -> Campaign:
    new_id = await insert_returning_id(
        conn,
        "INSERT INTO campaigns(org_id, title, due_at, scope, created_by, created_at,"
        " parts, rubric, method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (org_id, title, due_at, scope, created_by, now, parts, rubric, method),
    )
    campaign_id = new_id
    await conn.executemany(
        "INSERT INTO campaign_orgs(campaign_id, org_id) VALUES (?, ?)",
        [(campaign_id, o) for o in owing],
    )
    found = await get(conn, campaign_id)
    assert found is not None
    return found


async def get(conn: Conn, campaign_id: int) -> Campaign | None:
    return await one_of(
        conn, Campaign, f"SELECT {_CAMP} FROM campaigns WHERE id = ?", (campaign_id,)
    )


async def cancel(conn: Conn, campaign_id: int, by: int, now: float) -> bool:
    cur = await conn.execute(
        "UPDATE campaigns SET status = 'cancelled', cancelled_by = ?, cancelled_at = ?"
        " WHERE id = ? AND status = 'open'",
        (by, now, campaign_id),
    )
    return cur.rowcount == 1


async def visible_from(conn: Conn, path: str, limit: int) -> list[Campaign]:
    """Campaigns created at or below the org with `path`, or owed by an org there.

    Open ones first, then by due time, newest first.
    """
    return await all_of(
        conn,
        Campaign,
        f"SELECT {_CAMP_C} FROM campaigns c WHERE c.org_id IN"
        " (SELECT id FROM orgs WHERE path LIKE ?)"
        " OR EXISTS (SELECT 1 FROM campaign_orgs co JOIN orgs o ON o.id = co.org_id"
        "            WHERE co.campaign_id = c.id AND o.path LIKE ?)"
        " ORDER BY (c.status = 'open') DESC, c.due_at DESC, c.id DESC LIMIT ?",
        (path + "%", path + "%", limit),
    )


async def owing(conn: Conn, campaign_id: int, under_path: str | None = None) -> list[Owing]:
    """The orgs owing a campaign (optionally only those under `under_path`), tree order."""
    sql = (
        "SELECT co.campaign_id, co.org_id, o.code, o.name, o.path, o.depth,"
        " co.no_secretary_told_at,"
        " s.user_id AS s_user_id, COALESCE(u.first_name, '') AS s_first_name, s.text AS s_text,"
        " s.file_id AS s_file_id, s.file_name AS s_file_name, s.file_size AS s_file_size,"
        " s.submitted_at AS s_submitted_at, s.late AS s_late, s.versions AS s_versions"
        " FROM campaign_orgs co JOIN orgs o ON o.id = co.org_id"
        " LEFT JOIN campaign_submissions s"
        "   ON s.campaign_id = co.campaign_id AND s.org_id = co.org_id"
        " LEFT JOIN users u ON u.id = s.user_id"
        " WHERE co.campaign_id = ?"
    )
    params: list[object] = [campaign_id]
    if under_path is not None:
        sql += " AND o.path LIKE ?"
        params.append(under_path + "%")
    sql += " ORDER BY o.path"
    result = []
    for r in await fetchall(conn, sql, params):
        sub = None
        if r["s_user_id"] is not None:
            sub = model_from(r, Submission, "s_", campaign_id="campaign_id", org_id="org_id")
        own = {name: r[name] for name in Owing.model_fields if name != "submission"}
        result.append(Owing(**own, submission=sub))
    return result


async def open_owed_by(conn: Conn, org_ids: list[int]) -> list[tuple[Campaign, int]]:
    """Open campaigns owed by any of `org_ids`: (campaign, owing org id), soonest due first."""
    if not org_ids:
        return []
    marks = ",".join("?" * len(org_ids))
    rows = await fetchall(
        conn,
        f"SELECT {_CAMP_C}, co.org_id AS owing_id"
        " FROM campaigns c JOIN campaign_orgs co ON co.campaign_id = c.id"
        f" WHERE c.status = 'open' AND co.org_id IN ({marks})"
        " ORDER BY c.due_at, c.id, co.org_id",
        org_ids,
    )
    # a Row iterates its values, hence keys()
    return [
        (
            Campaign.model_validate(
                {
                    k: r[k]
                    for k in r.keys()  # noqa: SIM118
                    if k != "owing_id"
                }
            ),
            int(r["owing_id"]),
        )
        for r in rows
    ]


async def is_owed_by(conn: Conn, campaign_id: int, org_id: int) -> bool:
    row = await fetchone(
        conn,
        "SELECT 1 FROM campaign_orgs WHERE campaign_id = ? AND org_id = ?",
        (campaign_id, org_id),
    )
    return row is not None


_CONTENT = ("user_id", "text", "file_id", "file_name", "file_size", "submitted_at", "late")


def _upsert(table: str, keys: tuple[str, ...]) -> str:
    """Store a report's content under `keys` in `table` (submissions, or one part of a
    two-part report), replacing an earlier version and counting it."""
    columns = ", ".join(keys + _CONTENT)
    holes = ", ".join("?" * len(keys + _CONTENT))
    updates = ", ".join(f"{c} = excluded.{c}" for c in _CONTENT)
    return (
        f"INSERT INTO {table}({columns}) VALUES ({holes})"
        f" ON CONFLICT({', '.join(keys)}) DO UPDATE SET {updates},"
        f" versions = {table}.versions + 1"
    )


def _content(c: Content) -> tuple[object, ...]:
    return (c.user_id, c.text, c.file_id, c.file_name, c.file_size, c.now, int(c.late))


async def save_submission(conn: Conn, campaign_id: int, org_id: int, c: Content) -> Submission:
    """Store the report, replacing an earlier one (its version count goes up)."""
    sql = _upsert("campaign_submissions", ("campaign_id", "org_id"))
    await conn.execute(sql, (campaign_id, org_id, *_content(c)))
    found = await submission(conn, campaign_id, org_id)
    assert found is not None
    return found


async def submission(conn: Conn, campaign_id: int, org_id: int) -> Submission | None:
    return await one_of(
        conn,
        Submission,
        f"SELECT {_SUB} FROM campaign_submissions s LEFT JOIN users u ON u.id = s.user_id"
        " WHERE s.campaign_id = ? AND s.org_id = ?",
        (campaign_id, org_id),
    )


async def mark_no_secretary_told(
    conn: Conn, campaign_id: int, org_ids: list[int], now: float
) -> None:
    await conn.executemany(
        "UPDATE campaign_orgs SET no_secretary_told_at = ? WHERE campaign_id = ? AND org_id = ?"
        " AND no_secretary_told_at IS NULL",
        [(now, campaign_id, o) for o in org_ids],
    )


async def repoint_user(conn: Conn, user_id: int, tomb_id: int, needles: list[str]) -> None:
    """/forgetme: submissions and campaigns name the tombstone; reports lose the person's
    strings."""
    await conn.execute(
        "UPDATE campaign_submissions SET user_id = ? WHERE user_id = ?", (tomb_id, user_id)
    )
    for column in ("text", "file_name"):
        expr, cond, params = redacted(column, needles)
        await conn.execute(
            f"UPDATE campaign_submissions SET {column} = {expr} WHERE {cond}", params
        )
    for column in ("text", "file_name"):
        expr, cond, params = redacted(column, needles)
        await conn.execute(f"UPDATE campaign_parts SET {column} = {expr} WHERE {cond}", params)
    await conn.execute(
        "UPDATE campaign_parts SET user_id = ? WHERE user_id = ?", (tomb_id, user_id)
    )
    await review_repo.repoint_user(conn, user_id, tomb_id, needles)
    for column in ("created_by", "cancelled_by"):
        await conn.execute(
            f"UPDATE campaigns SET {column} = ? WHERE {column} = ?", (tomb_id, user_id)
        )


# --- two-part reports (0020) -----------------------------------------------------------------

_PART = (
    "p.campaign_id, p.org_id, p.part, p.user_id, COALESCE(u.first_name, '') AS first_name,"
    " p.text, p.file_id, p.file_name, p.file_size, p.submitted_at, p.late, p.versions"
)


async def save_part(conn: Conn, campaign_id: int, org_id: int, part: str, c: Content) -> Part:
    """Store one part of a two-part report, replacing an earlier version of that part."""
    sql = _upsert("campaign_parts", ("campaign_id", "org_id", "part"))
    await conn.execute(sql, (campaign_id, org_id, part, *_content(c)))
    found = [p for p in await parts(conn, campaign_id, org_id) if p.part == part]
    return found[0]


async def parts(conn: Conn, campaign_id: int, org_id: int | None = None) -> list[Part]:
    """The parts received for a campaign (or one org of it): org, then summary before plan."""
    sql = (
        f"SELECT {_PART} FROM campaign_parts p LEFT JOIN users u ON u.id = p.user_id"
        " WHERE p.campaign_id = ?"
    )
    params: list[object] = [campaign_id]
    if org_id is not None:
        sql += " AND p.org_id = ?"
        params.append(org_id)
    sql += " ORDER BY p.org_id, p.part DESC"  # 'summary' sorts after 'plan'
    return await all_of(conn, Part, sql, params)
