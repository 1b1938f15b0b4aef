"""The durable outbox: every message the bot starts, until Telegram has accepted it.

Only the `outbox` table: moving a migrated group everywhere, and what a 403 changes in `users`
and `chats`, are the domain's (`bot/domain/outbox.py`), through those tables' repositories.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from bot.domain.models import OutboxItem
from storage.db import Conn, fetchall, fetchone

Item = OutboxItem  # the name the functions below return


_COLS = (
    "id, chat_id, user_id, kind, payload, ref, status, attempts, not_before, created_at,"
    " sent_at, message_ids, error, failures"
)


def _item(row: Any) -> Item:
    data = dict(row)
    data["payload"] = json.loads(data["payload"])
    data["message_ids"] = json.loads(data["message_ids"]) if data["message_ids"] else []
    return Item.model_validate(data)


class Row(NamedTuple):
    """An outbox row to write (`insert_many`)."""

    chat_id: int
    user_id: int | None
    kind: str
    payload: dict[str, Any]
    ref: str | None
    dedupe_key: str | None
    not_before: float


_INSERT = (
    "INSERT INTO outbox(chat_id, user_id, kind, payload, ref, dedupe_key, not_before,"
    " created_at) VALUES {values} ON CONFLICT(dedupe_key) DO NOTHING RETURNING id, dedupe_key"
)
#: rows per multi-row INSERT (8 parameters each: well under either engine's limit)
CHUNK = 250


async def insert(
    conn: Conn,
    *,
    chat_id: int,
    payload: dict[str, Any],
    user_id: int | None = None,
    kind: str = "message",
    ref: str | None = None,
    dedupe_key: str | None = None,
    not_before: float = 0.0,
    now: float,
) -> int | None:
    """Queue one message; None (and nothing changed) if `dedupe_key` was already used."""
    row = Row(chat_id, user_id, kind, payload, ref, dedupe_key, not_before)
    return (await insert_many(conn, [row], now))[0]


async def insert_many(conn: Conn, rows: list[Row], now: float) -> list[int | None]:
    """Queue many messages; per row its id, or None if its `dedupe_key` was already used.

    Rows that all carry a dedupe key are written a CHUNK to a statement (the ids are matched
    back by key); otherwise one statement each, whose one returned row is its own."""
    out: list[int | None] = []
    keyed = len(rows) > 1 and all(r.dedupe_key for r in rows)
    size = CHUNK if keyed else 1
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        params: list[Any] = []
        for r in chunk:
            payload = json.dumps(r.payload, ensure_ascii=False)
            params += [
                r.chat_id,
                r.user_id,
                r.kind,
                payload,
                r.ref,
                r.dedupe_key,
                r.not_before,
                now,
            ]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        found = await fetchall(conn, _INSERT.format(values=values), params)
        if not keyed:
            out.append(int(found[0][0]) if found else None)
            continue
        by_key = {row[1]: int(row[0]) for row in found}
        out += [by_key.pop(r.dedupe_key, None) for r in chunk]  # a key twice: the first wins
    return out


async def get(conn: Conn, item_id: int) -> Item | None:
    row = await fetchone(conn, f"SELECT {_COLS} FROM outbox WHERE id = ?", (item_id,))
    return _item(row) if row else None


async def due(conn: Conn, now: float, limit: int, *, per_chat: int | None = None) -> list[Item]:
    """Pending rows with not_before <= now, by id; at most `per_chat` of each chat if given."""
    if per_chat is None:
        rows = await fetchall(
            conn,
            f"SELECT {_COLS} FROM outbox WHERE status = 'pending' AND not_before <= ?"
            " ORDER BY id LIMIT ?",
            (now, limit),
        )
    else:
        rows = await fetchall(
            conn,
            f"SELECT {_COLS} FROM (SELECT {_COLS}, ROW_NUMBER() OVER"
            " (PARTITION BY chat_id ORDER BY id) AS rank FROM outbox"
            " WHERE status = 'pending' AND not_before <= ?) AS ranked"
            " WHERE rank <= ? ORDER BY id LIMIT ?",
            (now, per_chat, limit),
        )
    return [_item(r) for r in rows]


async def count_due(conn: Conn, now: float) -> int:
    row = await fetchone(
        conn,
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND not_before <= ?",
        (now,),
    )
    return int(row[0]) if row else 0


async def next_due_time(conn: Conn) -> float | None:
    """The earliest not_before of any pending row, or None when nothing is pending."""
    row = await fetchone(conn, "SELECT MIN(not_before) FROM outbox WHERE status = 'pending'")
    return float(row[0]) if row and row[0] is not None else None


async def mark_sent(
    conn: Conn, ids_and_message_ids: Iterable[tuple[int, list[int]]], now: float | None = None
) -> None:
    """Batch: each (id, message_ids) becomes sent at `now`."""
    sent_at = time.time() if now is None else now
    await conn.executemany(
        "UPDATE outbox SET status = 'sent', sent_at = ?, message_ids = ?, error = NULL"
        " WHERE id = ? AND status = 'pending'",
        [(sent_at, json.dumps(list(mids)), item_id) for item_id, mids in ids_and_message_ids],
    )


async def record_progress(conn: Conn, item_id: int, message_ids: list[int]) -> None:
    """A split text: the parts already accepted (resumed from there after a restart)."""
    await conn.execute(
        "UPDATE outbox SET message_ids = ? WHERE id = ? AND status = 'pending'",
        (json.dumps(list(message_ids)), item_id),
    )


async def reschedule(
    conn: Conn,
    id: int,
    not_before: float,
    error: str | None,
    attempts: int,
    failures: int | None = None,
) -> None:
    """Try again at `not_before`; `failures` (transient errors) is kept unless given."""
    await conn.execute(
        "UPDATE outbox SET not_before = ?, error = ?, attempts = ?,"
        " failures = COALESCE(?, failures) WHERE id = ? AND status = 'pending'",
        (not_before, error, attempts, failures, id),
    )


async def mark_failed(conn: Conn, id: int, error: str) -> None:
    await conn.execute(
        "UPDATE outbox SET status = 'failed', error = ? WHERE id = ? AND status = 'pending'",
        (error, id),
    )


async def cancel_one(conn: Conn, item_id: int) -> bool:
    """Cancel one pending row; False when it is no longer pending (sent, failed, taken)."""
    cur = await conn.execute(
        "UPDATE outbox SET status = 'cancelled' WHERE id = ? AND status = 'pending'", (item_id,)
    )
    return cur.rowcount == 1


async def delay(conn: Conn, item_id: int, not_before: float) -> None:
    """A pending row waits at least until `not_before`."""
    await conn.execute(
        "UPDATE outbox SET not_before = ? WHERE id = ? AND status = 'pending' AND not_before < ?",
        (not_before, item_id, not_before),
    )


async def cancel(conn: Conn, ids: Iterable[int]) -> None:
    await conn.executemany(
        "UPDATE outbox SET status = 'cancelled' WHERE id = ? AND status = 'pending'",
        [(i,) for i in ids],
    )


async def move_chat(
    conn: Conn, old_chat_id: int, new_chat_id: int, *, pending_only: bool = True
) -> None:
    """Re-address rows of `old_chat_id` (pending ones only, unless told otherwise)."""
    sql = "UPDATE outbox SET chat_id = ? WHERE chat_id = ?"
    if pending_only:
        sql += " AND status = 'pending'"
    await conn.execute(sql, (new_chat_id, old_chat_id))


async def counts(conn: Conn) -> dict[str, int]:
    """Rows per status, e.g. {'pending': 3, 'sent': 10}."""
    rows = await fetchall(conn, "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
    return {r["status"]: int(r["n"]) for r in rows}


async def failed_counts(conn: Conn, refs: Iterable[str]) -> dict[str, int]:
    """Messages given up for good, per ref (refs without any are left out)."""
    refs = list(dict.fromkeys(refs))
    if not refs:
        return {}
    marks = ", ".join("?" for _ in refs)
    rows = await fetchall(
        conn,
        f"SELECT ref, COUNT(*) AS n FROM outbox WHERE status = 'failed'"
        f" AND ref IN ({marks}) GROUP BY ref",
        refs,
    )
    return {r["ref"]: int(r["n"]) for r in rows}


async def by_ref(conn: Conn, ref: str) -> list[Item]:
    rows = await fetchall(conn, f"SELECT {_COLS} FROM outbox WHERE ref = ? ORDER BY id", (ref,))
    return [_item(r) for r in rows]


async def delete_private(conn: Conn, user_id: int) -> int:
    """/forgetme: every message to (or about to fall back for) one person goes."""
    cur = await conn.execute(
        "DELETE FROM outbox WHERE chat_id = ? OR user_id = ?", (user_id, user_id)
    )
    return cur.rowcount


async def payloads(conn: Conn) -> list[tuple[int, str, str]]:
    """(id, payload JSON, ref + dedupe key) of every row still holding a payload."""
    rows = await fetchall(
        conn,
        "SELECT id, payload, coalesce(ref, '') || ' ' || coalesce(dedupe_key, '')"
        " FROM outbox WHERE payload <> '{}'",
    )
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


async def scrub(conn: Conn, ids: Iterable[int]) -> None:
    """Drop rows' payloads (and dedupe keys, which may hold a user id); pending ones are cancelled."""
    await conn.executemany(
        "UPDATE outbox SET payload = '{}', dedupe_key = NULL, error = NULL,"
        " status = CASE status WHEN 'pending' THEN 'cancelled' ELSE status END WHERE id = ?",
        [(i,) for i in ids],
    )


async def drop_documents(conn: Conn, ids: Iterable[int]) -> None:
    """Sent documents and photos lose their payload (the file, its caption) at once."""
    await conn.executemany(
        "UPDATE outbox SET payload = '{}' WHERE id = ? AND status = 'sent'"
        " AND kind IN ('document', 'photo')",
        [(i,) for i in ids],
    )


async def expire(conn: Conn, before: float) -> int:
    """Rows done with (sent, failed, cancelled) and sent (else queued) before `before` lose their
    payload; returns how many."""
    cur = await conn.execute(
        "UPDATE outbox SET payload = '{}', error = NULL WHERE status <> 'pending'"
        " AND coalesce(sent_at, created_at) < ? AND payload <> '{}'",
        (before,),
    )
    return cur.rowcount
