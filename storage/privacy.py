"""The audit log of personal-data exports and role changes, and one person's records (/mydata)."""

from __future__ import annotations

from typing import Any

from storage.db import Conn, fetchall, subtree_range


async def log(
    conn: Conn,
    *,
    at: float,
    actor_id: int | None,
    action: str,
    detail: str,
    org_id: int | None,
    target_id: int | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log(at, actor_id, action, detail, org_id, target_id)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (at, actor_id, action, detail[:200], org_id, target_id),
    )


async def entries(conn: Conn, paths: list[str], limit: int) -> list[dict[str, Any]]:
    """The newest entries about orgs under any of `paths`, newest first."""
    if not paths:
        return []
    where = " OR ".join("(o.path >= ? AND o.path < ?)" for _ in paths)
    params: list[Any] = [b for p in paths for b in subtree_range(p)]
    rows = await fetchall(
        conn,
        "SELECT a.id, a.at, a.actor_id, a.action, a.detail, a.target_id, o.code AS org"
        f" FROM audit_log a JOIN orgs o ON o.id = a.org_id WHERE {where}"
        " ORDER BY a.id DESC LIMIT ?",
        [*params, limit],
    )
    return [dict(r) for r in rows]


async def repoint_user(conn: Conn, user_id: int, tomb_id: int) -> None:
    """/forgetme: the log keeps its entries, naming the tombstone."""
    for column in ("actor_id", "target_id"):
        await conn.execute(
            f"UPDATE audit_log SET {column} = ? WHERE {column} = ?", (tomb_id, user_id)
        )


#: (section, query) of everything stored about one person; `?` is their Telegram id
_RECORDS = (
    (
        "user",
        (
            "SELECT id, first_name, username, tg_lang, lang, started, reachable, updated_at"
            " FROM users WHERE id = ?"
        ),
    ),
    (
        "person",
        (
            "SELECT p.real_name, p.phone, p.org_id, o.code AS org, o.name AS org_name,"
            " p.consent_at, p.registered_at, p.updated_at"
            " FROM people p JOIN orgs o ON o.id = p.org_id WHERE p.user_id = ?"
        ),
    ),
    (
        "roles",
        (
            "SELECT o.code AS org, r.role, r.granted_at FROM roles r"
            " JOIN orgs o ON o.id = r.org_id WHERE r.user_id = ?"
        ),
    ),
    (
        "hours",
        (
            "SELECT id, org_id, served_on, CAST(quarters AS DOUBLE PRECISION) / 4 AS hours, description, status,"
            " source, created_at, decided_at, reason, revoked_at, revoke_reason, evidence,"
            " photo_file_id FROM hour_entries WHERE user_id = ?"
            " ORDER BY id"
        ),
    ),
    (
        "hour_drafts",
        (
            "SELECT served_on, CAST(quarters AS DOUBLE PRECISION) / 4 AS hours, description, created_at,"
            " photo_file_id FROM hour_drafts WHERE user_id = ?"
        ),
    ),
    (
        "signups",
        (
            "SELECT s.activity_id, a.title, a.starts_at, s.status, s.joined_at,"
            " s.checked_in_at, s.attendance, s.post_no, p.name AS post, p.shift_start,"
            " p.shift_end FROM activity_signups s JOIN activities a ON a.id = s.activity_id"
            " LEFT JOIN activity_posts p ON p.activity_id = s.activity_id"
            " AND p.post_no = s.post_no WHERE s.user_id = ? ORDER BY s.activity_id"
        ),
    ),
    (
        "attendance_marks",
        (
            "SELECT m.activity_id, a.title, m.mark, m.at, m.after_close, m.credited, m.revoked"
            " FROM attendance_marks m JOIN activities a ON a.id = m.activity_id"
            " WHERE m.user_id = ? ORDER BY m.id"
        ),
    ),
    (
        "submissions",
        (
            "SELECT campaign_id, org_id, text, file_name, file_size, submitted_at, late"
            " FROM campaign_submissions WHERE user_id = ?"
        ),
    ),
    (
        "report_parts",
        (
            "SELECT campaign_id, org_id, part, text, file_name, file_size, submitted_at, late"
            " FROM campaign_parts WHERE user_id = ? ORDER BY campaign_id, part"
        ),
    ),
    ("review_panels", "SELECT campaign_id FROM campaign_reviewers WHERE user_id = ?"),
    (
        "review_scores",
        (
            "SELECT campaign_id, org_id, grade, comment, scored_at FROM review_scores"
            " WHERE reviewer_id = ? ORDER BY campaign_id, org_id"
        ),
    ),
    (
        "requests",
        (
            "SELECT id, from_org_id, to_org_id, text, file_name, created_at, status, decided_at"
            " FROM requests WHERE requester_id = ? ORDER BY id"
        ),
    ),
    (
        "request_replies",
        ("SELECT request_id, text, created_at FROM request_replies WHERE user_id = ? ORDER BY id"),
    ),
    (
        "acknowledgements",
        (
            "SELECT announcement_id, chat_id, first_name, acked_at"
            " FROM announcement_acks WHERE user_id = ?"
        ),
    ),
    ("chat_presence", "SELECT chat_id, status, checked_at FROM chat_presence WHERE user_id = ?"),
    (
        "calendar_files",
        "SELECT activity_id, sequence, taken_at FROM activity_calendars WHERE user_id = ?",
    ),
    ("flow", "SELECT name, state, updated_at FROM flows WHERE user_id = ?"),
    ("audit_log", "SELECT at, action, detail, org_id FROM audit_log WHERE target_id = ?"),
)


async def records_of(conn: Conn, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row stored about one person, section by section."""
    out: dict[str, list[dict[str, Any]]] = {}
    for section, sql in _RECORDS:
        out[section] = [dict(r) for r in await fetchall(conn, sql, (user_id,))]
    return out
