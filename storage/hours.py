"""Volunteer hour entries: logging, the one-shot decision, histories, subtree totals, exports.

Hours are stored as quarter-hours (`quarters`); the DTOs carry both. A subtree is the range
`path >= '/1/5/' AND path < '/1/50'` ('0' follows '/'), which an index on orgs(path) serves and
which PostgreSQL reads the same way (unlike LIKE, which SQLite indexes only case-sensitively).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.domain.models_hours import Draft, EntryRow, HourEntry, OrgSums, PersonSums
from storage.db import (
    Conn,
    all_of,
    fetchall,
    fetchone,
    insert_returning_id,
    redacted,
    subtree_range,
)

_COLS = (
    "e.id, e.user_id, e.org_id, e.served_on, e.quarters, e.description, e.status, e.source,"
    " e.created_at, e.decided_by, e.decided_at, e.reason, e.revoked_by, e.revoked_at,"
    " e.revoke_reason, e.evidence, e.photo_file_id"
)


_JOINED = (
    f"SELECT {_COLS}, u.first_name AS first_name, p.real_name AS real_name,"
    " o.name AS org_name, o.code AS org_code, d.first_name AS decider_name"
    " FROM hour_entries e JOIN orgs o ON o.id = e.org_id"
    " LEFT JOIN users u ON u.id = e.user_id LEFT JOIN people p ON p.user_id = e.user_id"
    " LEFT JOIN users d ON d.id = e.decided_by"
)


def _entry(row: Any) -> HourEntry:
    return HourEntry.model_validate(dict(row))


# --- writing ---------------------------------------------------------------------------------


async def insert(
    conn: Conn,
    *,
    user_id: int,
    org_id: int,
    served_on: str,
    quarters: int,
    description: str,
    now: float,
    status: str = "pending",
    source: str = "self",
    decided_by: int | None = None,
    evidence: str | None = None,
    photo_file_id: str | None = None,
) -> int:
    return await insert_returning_id(
        conn,
        "INSERT INTO hour_entries(user_id, org_id, served_on, quarters, description, status,"
        " source, created_at, decided_by, decided_at, evidence, photo_file_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            org_id,
            served_on,
            quarters,
            description,
            status,
            source,
            now,
            decided_by,
            None if status == "pending" else now,
            evidence,
            photo_file_id,
        ),
    )


async def decide(
    conn: Conn, entry_id: int, *, status: str, by: int, now: float, reason: str | None = None
) -> bool:
    """Approve or reject, only if still pending; False when someone else decided first."""
    cur = await conn.execute(
        "UPDATE hour_entries SET status = ?, decided_by = ?, decided_at = ?, reason = ?"
        " WHERE id = ? AND status = 'pending'",
        (status, by, now, reason, entry_id),
    )
    return cur.rowcount == 1


async def revoke(conn: Conn, entry_id: int, *, by: int, now: float, reason: str) -> bool:
    """approved -> revoked, once (the trigger allows only this change); False when the entry
    was no longer approved."""
    cur = await conn.execute(
        "UPDATE hour_entries SET status = 'revoked', revoked_by = ?, revoked_at = ?,"
        " revoke_reason = ? WHERE id = ? AND status = 'approved'",
        (by, now, reason, entry_id),
    )
    return cur.rowcount == 1


async def delete_undecided_of(conn: Conn, user_id: int) -> int:
    """/forgetme: pending and rejected entries and drafts go; approved ones stay."""
    cur = await conn.execute(
        "DELETE FROM hour_entries WHERE user_id = ? AND status <> 'approved'", (user_id,)
    )
    await conn.execute("DELETE FROM hour_drafts WHERE user_id = ?", (user_id,))
    return cur.rowcount


async def insert_draft(
    conn: Conn,
    *,
    user_id: int,
    served_on: str,
    quarters: int,
    description: str,
    now: float,
    photo_file_id: str | None = None,
) -> int:
    await conn.execute("DELETE FROM hour_drafts WHERE user_id = ?", (user_id,))
    return await insert_returning_id(
        conn,
        "INSERT INTO hour_drafts(user_id, served_on, quarters, description, created_at,"
        " photo_file_id) VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, served_on, quarters, description, now, photo_file_id),
    )


async def take_draft(conn: Conn, draft_id: int, user_id: int) -> Draft | None:
    """Remove and return the person's draft (None if it is gone or not theirs)."""
    row = await fetchone(
        conn,
        "SELECT id, user_id, served_on, quarters, description, created_at, photo_file_id"
        " FROM hour_drafts"
        " WHERE id = ? AND user_id = ?",
        (draft_id, user_id),
    )
    if row is None:
        return None
    await conn.execute("DELETE FROM hour_drafts WHERE id = ?", (draft_id,))
    return Draft.model_validate(dict(row))


# --- reading one person ----------------------------------------------------------------------


async def get(conn: Conn, entry_id: int) -> HourEntry | None:
    row = await fetchone(conn, f"{_JOINED} WHERE e.id = ?", (entry_id,))
    return _entry(row) if row else None


async def find_duplicate(
    conn: Conn, *, user_id: int, served_on: str, quarters: int, description: str, since: float
) -> HourEntry | None:
    row = await fetchone(
        conn,
        f"SELECT {_COLS} FROM hour_entries e WHERE e.user_id = ? AND e.served_on = ?"
        " AND e.quarters = ? AND e.description = ? AND e.created_at >= ?"
        " AND e.status NOT IN ('rejected', 'revoked') ORDER BY e.id DESC LIMIT 1",
        (user_id, served_on, quarters, description, since),
    )
    return _entry(row) if row else None


async def history(conn: Conn, user_id: int, *, limit: int, offset: int) -> list[HourEntry]:
    rows = await fetchall(
        conn,
        f"{_JOINED} WHERE e.user_id = ? ORDER BY e.served_on DESC, e.id DESC LIMIT ? OFFSET ?",
        (user_id, limit, offset),
    )
    return [_entry(r) for r in rows]


async def count_of(conn: Conn, user_id: int) -> int:
    row = await fetchone(conn, "SELECT COUNT(*) FROM hour_entries WHERE user_id = ?", (user_id,))
    return int(row[0]) if row else 0


async def person_sums(conn: Conn, user_id: int, year_start: str) -> tuple[int, int, int]:
    """(approved quarters all time, approved this year, pending) of one person."""
    row = await fetchone(
        conn,
        "SELECT COALESCE(SUM(CASE WHEN status = 'approved' THEN quarters END), 0),"
        " COALESCE(SUM(CASE WHEN status = 'approved' AND served_on >= ? THEN quarters END), 0),"
        " COALESCE(SUM(CASE WHEN status = 'pending' THEN quarters END), 0)"
        " FROM hour_entries WHERE user_id = ?",
        (year_start, user_id),
    )
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


async def approved_of(conn: Conn, user_id: int) -> list[HourEntry]:
    rows = await fetchall(
        conn,
        f"{_JOINED} WHERE e.user_id = ? AND e.status = 'approved' ORDER BY e.served_on, e.id",
        (user_id,),
    )
    return [_entry(r) for r in rows]


# --- reading a subtree -----------------------------------------------------------------------


async def pending_in(
    conn: Conn, paths: list[str], *, exclude_user: int | None, limit: int
) -> tuple[list[HourEntry], int]:
    """Pending entries logged at orgs under any of `paths` (oldest first) and their count."""
    if not paths:
        return [], 0
    where = " OR ".join("(o.path >= ? AND o.path < ?)" for _ in paths)
    params: list[Any] = [b for p in paths for b in subtree_range(p)]
    cond = f"e.status = 'pending' AND ({where})"
    if exclude_user is not None:
        cond += " AND e.user_id <> ?"
        params.append(exclude_user)
    rows = await fetchall(conn, f"{_JOINED} WHERE {cond} ORDER BY e.id LIMIT ?", [*params, limit])
    row = await fetchone(
        conn,
        f"SELECT COUNT(*) FROM hour_entries e JOIN orgs o ON o.id = e.org_id WHERE {cond}",
        params,
    )
    return [_entry(r) for r in rows], int(row[0]) if row else 0


async def totals_by_org(conn: Conn, path: str, *, year: int) -> list[OrgSums]:
    """Approved quarter-hours per org of the subtree at `path` (each org's own, not rolled up).

    Read from `hour_totals` (kept by triggers), so the cost follows the number of orgs, not of
    entries: the numbers behind /stats, /export hours and the hours chart.
    """
    low, high = subtree_range(path)
    return await all_of(
        conn,
        OrgSums,
        "SELECT t.org_id AS org_id, SUM(t.quarters) AS quarters,"
        " SUM(CASE WHEN t.year = ? THEN t.quarters ELSE 0 END) AS year_quarters,"
        " SUM(t.entries) AS entries"
        " FROM orgs o JOIN hour_totals t ON t.org_id = o.id"
        " WHERE o.path >= ? AND o.path < ? GROUP BY t.org_id",
        (year, low, high),
    )


async def totals_from_entries(conn: Conn, path: str, *, year: int) -> list[OrgSums]:
    """The same figures recomputed from the entries (a check on `hour_totals`)."""
    low, high = subtree_range(path)
    return await all_of(
        conn,
        OrgSums,
        "SELECT org_id, SUM(quarters) AS quarters,"
        " SUM(CASE WHEN served_on >= ? AND served_on < ? THEN quarters ELSE 0 END)"
        " AS year_quarters, COUNT(*) AS entries FROM hour_entries"
        " WHERE status = 'approved' AND org_id IN"
        " (SELECT id FROM orgs WHERE path >= ? AND path < ?) GROUP BY org_id",
        (f"{year:04d}-01-01", f"{year + 1:04d}-01-01", low, high),
    )


async def volunteers_in(conn: Conn, path: str, *, since: str | None = None) -> int:
    """People with approved hours in the subtree (since a date, if given)."""
    low, high = subtree_range(path)
    row = await fetchone(
        conn,
        "SELECT COUNT(DISTINCT e.user_id) FROM orgs o"
        " JOIN hour_entries e ON e.status = 'approved' AND e.org_id = o.id"
        " WHERE o.path >= ? AND o.path < ? AND e.served_on >= ?",
        (low, high, since or ""),
    )
    return int(row[0]) if row else 0


async def person_totals_in(
    conn: Conn, path: str, *, since: str = "", until: str = "9999"
) -> list[PersonSums]:
    low, high = subtree_range(path)
    return await all_of(
        conn,
        PersonSums,
        "SELECT e.user_id AS user_id, p.org_id AS org_id, p.real_name AS real_name,"
        " u.first_name AS first_name,"
        " COALESCE(SUM(CASE WHEN e.status = 'approved' THEN e.quarters END), 0) AS approved,"
        " COALESCE(SUM(CASE WHEN e.status = 'pending' THEN e.quarters END), 0) AS pending,"
        " COUNT(*) AS entries"
        " FROM orgs o JOIN hour_entries e ON e.org_id = o.id"
        " LEFT JOIN people p ON p.user_id = e.user_id LEFT JOIN users u ON u.id = e.user_id"
        " WHERE o.path >= ? AND o.path < ? AND e.served_on >= ? AND e.served_on < ?"
        " GROUP BY e.user_id, p.org_id, p.real_name, u.first_name"
        " ORDER BY approved DESC, e.user_id",
        (low, high, since, until),
    )


async def iter_entries_in(
    conn: Conn, path: str, *, since: str = "", until: str = "9999", batch: int = 2000
) -> AsyncIterator[EntryRow]:
    """Every entry of the subtree (any status) in date order, streamed in batches; the next
    batch is read (on SQLite, in its connection's thread) while the caller takes this one."""
    low, high = subtree_range(path)
    async with conn.execute(
        f"{_JOINED} WHERE o.path >= ? AND o.path < ? AND e.served_on >= ? AND e.served_on < ?"
        " ORDER BY e.served_on, e.id",
        (low, high, since, until),
    ) as cur:
        ahead = asyncio.ensure_future(cur.fetchmany(batch))
        try:
            while rows := list(await ahead):
                ahead = asyncio.ensure_future(cur.fetchmany(batch))
                for r in rows:
                    yield EntryRow._make(r)
        finally:
            if not ahead.done():  # the caller stopped early: the read ahead is not wanted
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ahead


async def approver_ids(conn: Conn) -> list[int]:
    """Everyone holding a secretary or staff role somewhere."""
    rows = await fetchall(conn, "SELECT DISTINCT user_id FROM roles ORDER BY user_id")
    return [int(r[0]) for r in rows]


async def count_all(conn: Conn) -> int:
    row = await fetchone(conn, "SELECT COUNT(*) FROM hour_entries")
    return int(row[0]) if row else 0


async def total_quarters(conn: Conn) -> int:
    """The plain whole-table sum (the benchmark's yardstick)."""
    row = await fetchone(conn, "SELECT COALESCE(SUM(quarters), 0) FROM hour_entries")
    return int(row[0]) if row else 0


async def repoint_user(conn: Conn, user_id: int, tomb_id: int, needles: list[str]) -> int:
    """/forgetme: undecided entries and drafts go; approved ones (their words about the person
    redacted) and decisions the person took move to the tombstone. Returns entries kept."""
    await delete_undecided_of(conn, user_id)
    expr, _, params = redacted("description", needles)
    cur = await conn.execute(
        f"UPDATE hour_entries SET user_id = ?, description = {expr}, photo_file_id = NULL"
        " WHERE user_id = ?",
        (tomb_id, *params[: len(needles)], user_id),
    )
    await conn.execute(
        "UPDATE hour_entries SET decided_by = ? WHERE decided_by = ?", (tomb_id, user_id)
    )
    reason, _, _ = redacted("revoke_reason", needles)
    await conn.execute(
        f"UPDATE hour_entries SET revoked_by = ?, revoke_reason = {reason} WHERE revoked_by = ?",
        (tomb_id, *needles, user_id),
    )
    return cur.rowcount
