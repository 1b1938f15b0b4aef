"""Figures of a subtree (`/stats`, charts, exports), read from every feature's tables.

A subtree is `orgs.path LIKE <path>%`. Each figure is one aggregate query, so a figure of an
org counts its whole subtree exactly (distinct volunteers are not double-counted when rolled
up). `per_org` gives each org's own values (not rolled up) for drawing the tower.

Approved hours come from `hour_totals` (per org and year, kept by triggers; see
storage/hours.py), so they cost ~orgs x years rows rather than every entry; the count of
distinct volunteers reads entries and is the hours repository's (`hours.volunteers_in`).
"""

from __future__ import annotations

from typing import Any

from storage.db import Conn, fetchall, fetchone, subtree_range

_IN = "JOIN orgs o ON o.id = {alias}.org_id AND o.path LIKE ?"
#: a member (`people p`) and their presence in their org's active chat
#: how many of an activity's sign-ups have this attendance, named after it
_ATTENDED = (
    "(SELECT COUNT(*) FROM activity_signups s WHERE s.activity_id = a.id"
    " AND s.attendance = '{attendance}') AS {attendance}"
)
_PRESENCE = (
    " LEFT JOIN chats c ON c.org_id = p.org_id AND c.active = 1"
    " LEFT JOIN chat_presence cp ON cp.chat_id = c.id AND cp.user_id = p.user_id"
)
#: every org of the subtree owing an open campaign (`co`, `c`), with its submission (`s`)
_OPEN_OWED = (
    " FROM campaign_orgs co JOIN campaigns c ON c.id = co.campaign_id AND c.status = 'open' "
    + _IN.format(alias="co")
    + " LEFT JOIN campaign_submissions s ON s.campaign_id = co.campaign_id"
    " AND s.org_id = co.org_id"
)


async def _one(conn: Conn, sql: str, params: tuple[Any, ...]) -> dict[str, int]:
    row = await fetchone(conn, sql, params)
    return {k: int(row[k] or 0) for k in row.keys()} if row else {}  # noqa: SIM118 - a Row iterates values


def _in(alias: str, select: str, where: str = "") -> str:
    """`select` over the rows of the subtree (`alias` joined to its org; one `?`: the path)."""
    return select + " " + _IN.format(alias=alias) + where


#: the figures of a subtree that take the path alone, one query each (the `?`: the path)
_BY_PATH = (
    "SELECT COUNT(*) AS orgs FROM orgs WHERE path LIKE ?",
    _in("c", "SELECT COUNT(*) AS chats FROM chats c", " WHERE c.active = 1"),
    _in(
        "r",
        "SELECT COUNT(DISTINCT r.org_id) AS staffed FROM roles r",
        " WHERE r.role = 'secretary'",
    ),
    _in(
        "p",
        "SELECT COUNT(*) AS members, COUNT(cp.user_id) AS members_in_chat FROM people p",
        _PRESENCE + " AND cp.status = 'present'",
    ),
    # members the coverage audit has looked at (present or not): none means "not checked yet"
    _in("p", "SELECT COUNT(cp.user_id) AS members_checked FROM people p", _PRESENCE),
    _in(
        "a",
        "SELECT COUNT(DISTINCT a.id) AS activities_held, COUNT(s.user_id) AS signed_up,"
        " COUNT(CASE WHEN s.attendance = 'present' THEN 1 END) AS attended FROM activities a",
        " LEFT JOIN activity_signups s ON s.activity_id = a.id AND s.status = 'confirmed'"
        " WHERE a.status = 'closed'",
    ),
)


async def figures(conn: Conn, path: str, *, now: float, year_start_date: str) -> dict[str, int]:
    """Every figure of the subtree at `path` but its distinct volunteers (hours in quarters)."""
    like = path + "%"
    out: dict[str, int] = {}
    for sql in _BY_PATH:
        out.update(await _one(conn, sql, (like,)))
    out.update(await hour_figures(conn, path, year_start_date=year_start_date))
    out.update(
        await _one(
            conn,
            "SELECT COUNT(CASE WHEN s.org_id IS NOT NULL AND s.late = 0 THEN 1 END) AS on_time,"
            " COUNT(CASE WHEN s.org_id IS NOT NULL AND s.late = 1 THEN 1 END) AS late,"
            " COUNT(CASE WHEN s.org_id IS NULL AND c.due_at <= ? THEN 1 END) AS missing,"
            " COUNT(CASE WHEN s.org_id IS NULL AND c.due_at > ? THEN 1 END) AS not_due"
            + _OPEN_OWED,
            (now, now, like),
        )
    )
    return out


async def hour_figures(conn: Conn, path: str, *, year_start_date: str) -> dict[str, int]:
    """Approved quarter-hours of the subtree (all time; served on or after `year_start_date`,
    a January 1st).

    `year >= ?` rather than `storage.hours.totals_by_org`'s `year = ?`: an activity closed on
    New Year's Eve before it starts credits next year's date, which "served_on >= year start"
    has always counted.
    """
    low, high = subtree_range(path)
    year = int(year_start_date[:4])
    assert year_start_date == f"{year:04d}-01-01", year_start_date
    return await _one(
        conn,
        "SELECT COALESCE(SUM(t.quarters), 0) AS quarters_all,"
        " COALESCE(SUM(CASE WHEN t.year >= ? THEN t.quarters END), 0) AS quarters_year"
        " FROM orgs o JOIN hour_totals t ON t.org_id = o.id WHERE o.path >= ? AND o.path < ?",
        (year, low, high),
    )


async def per_org(conn: Conn, path: str, *, now: float) -> list[dict[str, Any]]:
    """Each org of the subtree with its own (not rolled-up) coverage and report-back state."""
    like = path + "%"
    orgs = await fetchall(
        conn,
        "SELECT o.id, o.code, o.name, o.parent_id, o.depth,"
        " EXISTS (SELECT 1 FROM chats c WHERE c.org_id = o.id AND c.active = 1) AS has_chat,"
        " EXISTS (SELECT 1 FROM roles r WHERE r.org_id = o.id AND r.role = 'secretary')"
        " AS staffed FROM orgs o WHERE o.path LIKE ? ORDER BY o.depth, o.code",
        (like,),
    )
    members = {
        r[0]: (int(r[1]), int(r[2]))
        for r in await fetchall(
            conn,
            "SELECT p.org_id, COUNT(*), COUNT(cp.user_id) FROM people p "
            + _IN.format(alias="p")
            + _PRESENCE
            + " AND cp.status = 'present' GROUP BY p.org_id",
            (like,),
        )
    }
    campaigns = {
        r[0]: (int(r[1] or 0), int(r[2] or 0))
        for r in await fetchall(
            conn,
            "SELECT co.org_id, COUNT(CASE WHEN s.org_id IS NULL AND c.due_at <= ? THEN 1 END),"
            " COUNT(CASE WHEN s.org_id IS NULL AND c.due_at > ? THEN 1 END)"
            + _OPEN_OWED
            + " GROUP BY co.org_id",
            (now, now, like),
        )
    }
    out = []
    for r in orgs:
        m, inside = members.get(r["id"], (0, 0))
        missing, due = campaigns.get(r["id"], (0, 0))
        out.append(
            {
                "id": r["id"],
                "code": r["code"],
                "name": r["name"],
                "parent_id": r["parent_id"],
                "depth": r["depth"],
                "has_chat": bool(r["has_chat"]),
                "staffed": bool(r["staffed"]),
                "members": m,
                "members_in_chat": inside,
                "campaigns_missing": missing,
                "campaigns_due": due,
            }
        )
    return out


async def _subtree_rows(conn: Conn, sql: str, path: str) -> list[dict[str, Any]]:
    """The rows of `sql`, whose one parameter is `_IN`'s path pattern, for the subtree at `path`."""
    return [dict(r) for r in await fetchall(conn, sql, (path + "%",))]


async def members_rows(conn: Conn, path: str) -> list[dict[str, Any]]:
    """Registered members of the subtree for the export (real names: private use only)."""
    return await _subtree_rows(
        conn,
        "SELECT o.code AS org_code, o.name AS org_name, p.real_name, p.phone, p.user_id,"
        " u.first_name, u.username, p.registered_at,"
        " (SELECT r.role FROM roles r WHERE r.org_id = p.org_id AND r.user_id = p.user_id) AS role,"
        " cp.status AS in_chat, cp.checked_at,"
        " (SELECT COALESCE(SUM(h.quarters), 0) FROM hour_entries h WHERE h.user_id = p.user_id"
        "  AND h.status = 'approved') AS quarters"
        " FROM people p "
        + _IN.format(alias="p")
        + " JOIN users u ON u.id = p.user_id"
        + _PRESENCE
        + " ORDER BY o.path, p.real_name",
        path,
    )


async def activities_rows(conn: Conn, path: str) -> list[dict[str, Any]]:
    """Every activity of the subtree, one row per post for an activity with posts (`post`:
    its name, else NULL; its shift, capacity, counters and attendance in place of the
    activity's)."""
    in_post = " AND (ap.post_no IS NULL OR s.post_no = ap.post_no)"
    return await _subtree_rows(
        conn,
        "SELECT a.id, o.code AS org_code, o.name AS org_name, a.title, ap.name AS post,"
        " a.place, COALESCE(ap.shift_start, a.starts_at) AS starts_at, a.quarters,"
        " ap.shift_start, ap.shift_end, COALESCE(ap.capacity, a.capacity) AS capacity,"
        " a.status, COALESCE(ap.confirmed, a.confirmed) AS confirmed,"
        " COALESCE(ap.waiting, a.waiting) AS waiting, "
        + _ATTENDED.format(attendance="present").replace(") AS", in_post + ") AS")
        + ", "
        + _ATTENDED.format(attendance="no_show").replace(") AS", in_post + ") AS")
        + " FROM activities a "
        + _IN.format(alias="a")
        + " LEFT JOIN activity_posts ap ON ap.activity_id = a.id"
        " ORDER BY a.starts_at, a.id, ap.post_no",
        path,
    )


async def campaign_rows(
    conn: Conn, campaign_id: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A campaign and, per owing org, its submission (real names: private use only)."""
    head = await fetchone(
        conn,
        "SELECT c.id, c.title, c.due_at, c.status, c.org_id, c.parts, o.path,"
        " o.name AS org_name FROM campaigns c JOIN orgs o ON o.id = c.org_id WHERE c.id = ?",
        (campaign_id,),
    )
    if head is None:
        return None, []
    rows = await fetchall(
        conn,
        "SELECT o.id AS org_id, o.code AS org_code, o.name AS org_name, s.user_id, p.real_name,"
        " u.first_name, s.submitted_at, s.late, s.versions, s.text, s.file_name"
        " FROM campaign_orgs co JOIN orgs o ON o.id = co.org_id"
        " LEFT JOIN campaign_submissions s ON s.campaign_id = co.campaign_id"
        " AND s.org_id = co.org_id"
        " LEFT JOIN people p ON p.user_id = s.user_id LEFT JOIN users u ON u.id = s.user_id"
        " WHERE co.campaign_id = ? ORDER BY o.path",
        (campaign_id,),
    )
    return dict(head), [dict(r) for r in rows]
