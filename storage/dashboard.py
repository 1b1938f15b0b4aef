"""What the dashboard (Mini App) reads beyond /stats' figures: approved hours per org and
month, and announcement copies nobody has acknowledged yet."""

from __future__ import annotations

from storage.db import Conn, fetchall, fetchone, subtree_range


async def monthly_quarters(conn: Conn, path: str, *, since: str) -> list[tuple[str, str, int]]:
    """(org path, 'YYYY-MM', approved quarter-hours) for each org of the subtree at `path` with
    hours served on or after `since` (an ISO date); each org's own, not rolled up."""
    low, high = subtree_range(path)
    rows = await fetchall(
        conn,
        "SELECT o.path, substr(e.served_on, 1, 7) AS month, SUM(e.quarters) AS quarters"
        " FROM hour_entries e JOIN orgs o ON o.id = e.org_id"
        " WHERE e.status = 'approved' AND e.served_on >= ? AND o.path >= ? AND o.path < ?"
        " GROUP BY o.path, substr(e.served_on, 1, 7)",
        (since, low, high),
    )
    return [(str(r[0]), str(r[1]), int(r[2] or 0)) for r in rows]


async def unacked_copies(conn: Conn, path: str, *, since: float) -> int:
    """Copies of announcements posted since `since` in active chats of the subtree whose copy
    was not refused and that nobody there has acknowledged."""
    low, high = subtree_range(path)
    row = await fetchone(
        conn,
        "SELECT COUNT(*) FROM announcement_targets t"
        " JOIN orgs o ON o.id = t.org_id"
        " JOIN announcements a ON a.id = t.announcement_id"
        " JOIN chats c ON c.id = t.chat_id"
        " LEFT JOIN outbox ob ON ob.id = t.outbox_id"
        " WHERE o.path >= ? AND o.path < ? AND a.created_at >= ? AND c.active = 1"
        " AND COALESCE(ob.status, 'pending') NOT IN ('failed', 'cancelled')"
        " AND NOT EXISTS (SELECT 1 FROM announcement_acks k WHERE k.announcement_id ="
        " t.announcement_id AND k.chat_id = t.chat_id)",
        (low, high, since),
    )
    return int(row[0]) if row else 0
