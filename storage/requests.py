"""Requests upward (请示报告): the request, its first decision, its replies, the export rows."""

from __future__ import annotations

from bot.domain.models_requests import ExportRow, Reply, Request
from storage.db import (
    Conn,
    all_of,
    changed,
    fetchall,
    insert_returning_id,
    one_of,
    redacted,
    subtree_range,
)

_REQ = (
    "r.id, r.from_org_id, r.to_org_id, r.requester_id, r.text, r.file_id, r.file_name,"
    " r.created_at, r.status, r.decided_by, r.decided_at, r.erased,"
    " f.name AS from_name, t.name AS to_name,"
    " COALESCE(ru.first_name, '') AS requester_first,"
    " COALESCE(du.first_name, '') AS decider_first,"
    " (SELECT COUNT(*) FROM request_replies p WHERE p.request_id = r.id) AS replies"
)
_FROM = (
    " FROM requests r JOIN orgs f ON f.id = r.from_org_id JOIN orgs t ON t.id = r.to_org_id"
    " LEFT JOIN users ru ON ru.id = r.requester_id LEFT JOIN users du ON du.id = r.decided_by"
)


async def insert(
    conn: Conn,
    *,
    from_org_id: int,
    to_org_id: int,
    requester_id: int,
    text: str,
    file_id: str | None,
    file_name: str | None,
    now: float,
) -> Request:
    new_id = await insert_returning_id(
        conn,
        "INSERT INTO requests(from_org_id, to_org_id, requester_id, text, file_id, file_name,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (from_org_id, to_org_id, requester_id, text, file_id, file_name, now),
    )
    found = await get(conn, new_id)
    assert found is not None
    return found


async def get(conn: Conn, request_id: int) -> Request | None:
    return await one_of(conn, Request, f"SELECT {_REQ}{_FROM} WHERE r.id = ?", (request_id,))


async def decide(conn: Conn, request_id: int, status: str, by: int, now: float) -> bool:
    """The first decision wins: False if the request was decided already."""
    return (
        await changed(
            conn,
            "UPDATE requests SET status = ?, decided_by = ?, decided_at = ?"
            " WHERE id = ? AND status = 'open'",
            (status, by, now, request_id),
        )
        == 1
    )


async def add_reply(conn: Conn, request_id: int, user_id: int, text: str, now: float) -> int:
    return await insert_returning_id(
        conn,
        "INSERT INTO request_replies(request_id, user_id, text, created_at) VALUES (?, ?, ?, ?)",
        (request_id, user_id, text, now),
    )


async def replies(conn: Conn, request_id: int) -> list[Reply]:
    return await all_of(
        conn,
        Reply,
        "SELECT p.id, p.request_id, p.user_id, p.text, p.created_at,"
        " COALESCE(u.first_name, '') AS first_name FROM request_replies p"
        " LEFT JOIN users u ON u.id = p.user_id WHERE p.request_id = ? ORDER BY p.id",
        (request_id,),
    )


async def open_to(conn: Conn, paths: list[str], limit: int) -> list[Request]:
    """Open requests addressed to an org within any of the subtrees `paths`, oldest first."""
    if not paths:
        return []
    conds, params = [], []
    for path in paths:
        low, high = subtree_range(path)
        conds.append("(t.path >= ? AND t.path < ?)")
        params += [low, high]
    return await all_of(
        conn,
        Request,
        f"SELECT {_REQ}{_FROM} WHERE r.status = 'open' AND ({' OR '.join(conds)})"
        " ORDER BY r.created_at, r.id LIMIT ?",
        [*params, limit],
    )


async def of_requester(conn: Conn, user_id: int, limit: int) -> list[Request]:
    """A requester's own requests, newest first."""
    return await all_of(
        conn,
        Request,
        f"SELECT {_REQ}{_FROM} WHERE r.requester_id = ? ORDER BY r.created_at DESC, r.id DESC"
        " LIMIT ?",
        (user_id, limit),
    )


async def export_rows(conn: Conn, path: str) -> list[ExportRow]:
    """Every request from or to an org of the subtree at `path`, oldest first, with names
    (a registered person's real name, else their Telegram display name)."""
    low, high = subtree_range(path)
    rows = await fetchall(
        conn,
        "SELECT r.id, f.name AS from_name, t.name AS to_name,"
        " COALESCE(rp.real_name, ru.first_name, '') AS requester, r.text, r.file_name,"
        " r.created_at, r.status, COALESCE(dp.real_name, du.first_name, '') AS decider,"
        " r.decided_at FROM requests r JOIN orgs f ON f.id = r.from_org_id"
        " JOIN orgs t ON t.id = r.to_org_id"
        " LEFT JOIN users ru ON ru.id = r.requester_id"
        " LEFT JOIN people rp ON rp.user_id = r.requester_id"
        " LEFT JOIN users du ON du.id = r.decided_by"
        " LEFT JOIN people dp ON dp.user_id = r.decided_by"
        " WHERE (f.path >= ? AND f.path < ?) OR (t.path >= ? AND t.path < ?)"
        " ORDER BY r.created_at, r.id",
        (low, high, low, high),
    )
    found = [ExportRow.model_validate(dict(r)) for r in rows]
    if not found:
        return found
    marks = ",".join("?" * len(found))
    said = await fetchall(
        conn,
        "SELECT p.request_id, COALESCE(pp.real_name, u.first_name, '') AS who, p.text"
        " FROM request_replies p LEFT JOIN users u ON u.id = p.user_id"
        f" LEFT JOIN people pp ON pp.user_id = p.user_id WHERE p.request_id IN ({marks})"
        " ORDER BY p.request_id, p.id",
        [f.id for f in found],
    )
    by_id = {f.id: f for f in found}
    for row in said:
        item = by_id[int(row["request_id"])]
        line = f"{row['who']}: {row['text']}" if row["who"] else str(row["text"])
        item.replies = f"{item.replies}\n{line}" if item.replies else line
    return found


async def forget_user(conn: Conn, user_id: int) -> None:
    """/forgetme: the person's request texts and replies are erased (the decision, the orgs
    and the times stay), and no row names them any more."""
    await conn.execute(
        "UPDATE requests SET text = '', file_id = NULL, file_name = NULL, erased = 1,"
        " requester_id = NULL WHERE requester_id = ?",
        (user_id,),
    )
    await conn.execute("UPDATE requests SET decided_by = NULL WHERE decided_by = ?", (user_id,))
    await conn.execute(
        "UPDATE request_replies SET text = '', user_id = NULL WHERE user_id = ?", (user_id,)
    )
    # replies to their requests were private messages to them: they go too
    await conn.execute(
        "UPDATE request_replies SET text = '' WHERE request_id IN"
        " (SELECT id FROM requests WHERE erased = 1)"
    )


async def redact(conn: Conn, needles: list[str]) -> None:
    """/forgetme: the person's strings (names, phones) leave everyone's requests and replies."""
    for table in ("requests", "request_replies"):
        expr, cond, params = redacted("text", needles)
        await conn.execute(f"UPDATE {table} SET text = {expr} WHERE {cond}", params)


async def ids_of(conn: Conn, user_id: int) -> list[int]:
    """Ids of the requests a person made (their messages about them go on /forgetme)."""
    rows = await fetchall(conn, "SELECT id FROM requests WHERE requester_id = ?", (user_id,))
    return [int(r[0]) for r in rows]
