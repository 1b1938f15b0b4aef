"""Inbox rows: webhook updates accepted (answered 200) and whether they have been handled."""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel

from storage.db import Conn, changed, fetchall, fetchone, insert_once


class InboxRow(BaseModel):
    update_id: int
    chat_key: int
    body: str
    received_at: float
    handled_at: float | None = None


_COLS = "update_id, chat_key, body, received_at, handled_at"


async def add(
    conn: Conn, update_id: int, chat_key: int, body: str, now: float, owner: str = ""
) -> bool:
    """Store once; False when this update_id is already there (a re-delivery)."""
    row = {"update_id": update_id, "chat_key": chat_key, "body": body, "received_at": now}
    return await insert_once(conn, "inbox", {**row, "owner": owner}, key="update_id")


async def pending(
    conn: Conn, owner: str, skip: Collection[int], limit: int
) -> tuple[list[InboxRow], bool]:
    """`owner`'s unhandled rows in update_id order that may run now, leaving out the ids in
    `skip` (already dispatched); and whether any row waits behind another owner's earlier
    unhandled row of the same chat (True: look again soon)."""
    rows = await fetchall(
        conn,
        f"SELECT {_COLS}, EXISTS (SELECT 1 FROM inbox o WHERE o.chat_key = i.chat_key"
        " AND o.handled_at IS NULL AND o.update_id < i.update_id AND o.owner <> i.owner)"
        " AS blocked FROM inbox i WHERE i.handled_at IS NULL AND i.owner = ?"
        " ORDER BY i.update_id LIMIT ?",
        (owner, limit + len(skip)),
    )
    free = [r for r in rows if r["update_id"] not in skip]
    ready = [InboxRow.model_validate(dict(r)) for r in free if not r["blocked"]]
    return ready[:limit], len(ready) < len(free)


async def adopt(conn: Conn, owner: str, alive: Collection[str]) -> int:
    """Take over unhandled rows of owners not in `alive` (their instance stopped); how many."""
    marks = ", ".join("?" * len(alive)) or "''"
    return await changed(
        conn,
        f"UPDATE inbox SET owner = ? WHERE handled_at IS NULL AND owner <> ?"
        f" AND owner NOT IN ({marks})",
        (owner, owner, *alive),
    )


async def mark_handled(conn: Conn, update_id: int, now: float) -> bool:
    cur = await conn.execute(
        "UPDATE inbox SET handled_at = ?, body = '' WHERE update_id = ? AND handled_at IS NULL",
        (now, update_id),
    )
    return cur.rowcount == 1


async def prune(conn: Conn, handled_before: float) -> int:
    """Delete rows handled before the given time; returns how many."""
    cur = await conn.execute(
        "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?", (handled_before,)
    )
    return cur.rowcount


async def figures(conn: Conn) -> tuple[int, float | None]:
    """(unhandled rows, time the newest update was received); two index lookups."""
    row = await fetchone(
        conn,
        "SELECT (SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL),"
        " (SELECT received_at FROM inbox ORDER BY update_id DESC LIMIT 1)",
    )
    if row is None:
        return 0, None
    return int(row[0]), (float(row[1]) if row[1] is not None else None)
