"""The annual cadre sheet's figures (评先评优参考): per org and per person, within one year."""

from __future__ import annotations

from storage.db import Conn, fetchall, fetchone, subtree_range


def _marks(values: list[int]) -> str:
    return ",".join("?" * len(values))


async def report_backs(
    conn: Conn, org_ids: list[int], lo: float, hi: float
) -> dict[int, tuple[int, int]]:
    """(on time, owed) report-backs per org, of the campaigns due in [lo, hi) (not cancelled)."""
    if not org_ids:
        return {}
    rows = await fetchall(
        conn,
        "SELECT co.org_id AS org_id, COUNT(*) AS owed,"
        " COUNT(CASE WHEN s.org_id IS NOT NULL AND s.late = 0 THEN 1 END) AS on_time"
        " FROM campaign_orgs co JOIN campaigns c ON c.id = co.campaign_id"
        " LEFT JOIN campaign_submissions s ON s.campaign_id = co.campaign_id"
        " AND s.org_id = co.org_id"
        f" WHERE c.status <> 'cancelled' AND c.due_at >= ? AND c.due_at < ?"
        f" AND co.org_id IN ({_marks(org_ids)}) GROUP BY co.org_id",
        (lo, hi, *org_ids),
    )
    return {int(r["org_id"]): (int(r["on_time"]), int(r["owed"])) for r in rows}


async def review_results(
    conn: Conn, org_ids: list[int], lo: float, hi: float
) -> dict[int, tuple[int, int | None, float | None]]:
    """The latest closed review result per org among campaigns due in [lo, hi):
    (campaign id, grade index or None, mean points or None)."""
    if not org_ids:
        return {}
    rows = await fetchall(
        conn,
        "SELECT r.org_id AS org_id, r.campaign_id AS campaign_id, r.grade AS grade,"
        " r.points AS points FROM review_results r JOIN campaigns c ON c.id = r.campaign_id"
        f" WHERE c.due_at >= ? AND c.due_at < ? AND r.org_id IN ({_marks(org_ids)})"
        " ORDER BY c.due_at, c.id",
        (lo, hi, *org_ids),
    )
    out: dict[int, tuple[int, int | None, float | None]] = {}
    for r in rows:  # the later campaign wins
        grade = None if r["grade"] is None else int(r["grade"])
        points = None if r["points"] is None else float(r["points"])
        out[int(r["org_id"])] = (int(r["campaign_id"]), grade, points)
    return out


async def activities_organised(
    conn: Conn, user_ids: list[int], lo: float, hi: float
) -> dict[int, int]:
    """Activities each person created that start in [lo, hi) and were not cancelled."""
    if not user_ids:
        return {}
    rows = await fetchall(
        conn,
        "SELECT created_by, COUNT(*) AS n FROM activities WHERE status <> 'cancelled'"
        f" AND starts_at >= ? AND starts_at < ? AND created_by IN ({_marks(user_ids)})"
        " GROUP BY created_by",
        (lo, hi, *user_ids),
    )
    return {int(r["created_by"]): int(r["n"]) for r in rows}


async def subtree_quarters(conn: Conn, path: str, year: int) -> int:
    """Approved quarter-hours of the subtree at `path` credited to `year`."""
    low, high = subtree_range(path)
    row = await fetchone(
        conn,
        "SELECT COALESCE(SUM(t.quarters), 0) FROM orgs o JOIN hour_totals t ON t.org_id = o.id"
        " WHERE o.path >= ? AND o.path < ? AND t.year = ?",
        (low, high, year),
    )
    return int(row[0]) if row else 0
