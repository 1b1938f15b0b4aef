"""Announcements, their copies per chat, acknowledgements, digest items and audit presence."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.models_announcements import Ack, Announcement, DigestItem, Target
from storage.db import Conn, all_of, fetchall, fetchone, insert_returning_id, one_of, redacted

_ANN = (
    "id, org_id, chat_id, author_id, kind, text, file_id, urgent, created_at, status, send_at,"
    " pin, edited_at, edits, recalled_at"
)
#: outbox kinds that change a message already sent (they count against no daily budget)
_SENDS = "kind IN ('message', 'document', 'photo')"


# --- announcements -------------------------------------------------------------------------


async def insert(
    conn: Conn,
    *,
    org_id: int,
    chat_id: int,
    author_id: int,
    kind: str,
    text: str,
    file_id: str | None,
    urgent: bool,
    now: float,
    pin: bool = False,
    send_at: float | None = None,
) -> int:
    """A new announcement: 'sent' (its copies are queued in the same transaction), or
    'scheduled' when `send_at` is given."""
    return await insert_returning_id(
        conn,
        "INSERT INTO announcements(org_id, chat_id, author_id, kind, text, file_id, urgent,"
        " created_at, pin, send_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            org_id,
            chat_id,
            author_id,
            kind,
            text,
            file_id,
            int(urgent),
            now,
            int(pin),
            send_at,
            "sent" if send_at is None else "scheduled",
        ),
    )


async def get(conn: Conn, ann_id: int) -> Announcement | None:
    return await one_of(
        conn, Announcement, f"SELECT {_ANN} FROM announcements WHERE id = ?", (ann_id,)
    )


async def latest_in(conn: Conn, path: str) -> Announcement | None:
    """The newest announcement posted from an org of the subtree at `path`."""
    return await one_of(
        conn,
        Announcement,
        f"SELECT {', '.join('a.' + c.strip() for c in _ANN.split(','))}"
        " FROM announcements a JOIN orgs o ON o.id = a.org_id WHERE o.path LIKE ?"
        " AND a.status IN ('sent', 'recalled') ORDER BY a.id DESC LIMIT 1",
        (path + "%",),
    )


async def active_chats_in(conn: Conn, path: str) -> list[tuple[int, int]]:
    """(chat id, org id) of every active chat bound to an org of the subtree, top down."""
    rows = await fetchall(
        conn,
        "SELECT c.id, c.org_id FROM chats c JOIN orgs o ON o.id = c.org_id"
        " WHERE c.active = 1 AND o.path LIKE ? ORDER BY o.depth, o.code",
        (path + "%",),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


async def add_target(
    conn: Conn, ann_id: int, chat_id: int, org_id: int, outbox_id: int | None
) -> None:
    await conn.execute(
        "INSERT INTO announcement_targets(announcement_id, chat_id, org_id, outbox_id)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (ann_id, chat_id, org_id, outbox_id),
    )


async def add_targets(conn: Conn, rows: list[tuple[int, int, int, int | None]]) -> None:
    """Many (announcement id, chat id, org id, outbox id) at once."""
    await conn.executemany(
        "INSERT INTO announcement_targets(announcement_id, chat_id, org_id, outbox_id)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        rows,
    )


async def targets(conn: Conn, ann_id: int, ref: str) -> list[Target]:
    """Every target chat with its copy's outbox row and, if folded, its digest item."""
    rows = await fetchall(
        conn,
        "SELECT t.chat_id, t.org_id, o.name AS org_name, COALESCE(c.title, '') AS title,"
        " COALESCE(c.active, 0) AS active, t.outbox_id, ob.status, ob.message_ids, ob.error,"
        " ob.sent_at,"
        " d.id AS digest_item, d.outbox_id AS digest_outbox, dob.status AS digest_status,"
        " dob.message_ids AS digest_message_ids"
        " FROM announcement_targets t JOIN orgs o ON o.id = t.org_id"
        " LEFT JOIN chats c ON c.id = t.chat_id"
        " LEFT JOIN outbox ob ON ob.id = t.outbox_id"
        " LEFT JOIN digest_items d ON d.ref = ? AND d.chat_id = t.chat_id"
        " LEFT JOIN outbox dob ON dob.id = d.outbox_id"
        " WHERE t.announcement_id = ? ORDER BY o.depth, o.code",
        (ref, ann_id),
    )
    found = []
    for r in rows:
        data = dict(r)
        for key in ("message_ids", "digest_message_ids"):
            data[key] = json.loads(data[key]) if data[key] else []
        found.append(Target.model_validate(data))
    return found


async def target_of(conn: Conn, ann_id: int, chat_id: int) -> bool:
    row = await fetchone(
        conn,
        "SELECT 1 FROM announcement_targets WHERE announcement_id = ? AND chat_id = ?",
        (ann_id, chat_id),
    )
    return row is not None


async def unacked_targets(conn: Conn, ann_id: int) -> list[int]:
    """Target chats (still active) where nobody acknowledged and whose copy did not fail."""
    rows = await fetchall(
        conn,
        "SELECT t.chat_id FROM announcement_targets t JOIN chats c ON c.id = t.chat_id"
        " LEFT JOIN outbox ob ON ob.id = t.outbox_id"
        " WHERE t.announcement_id = ? AND c.active = 1"
        " AND COALESCE(ob.status, 'pending') NOT IN ('failed', 'cancelled')"
        " AND NOT EXISTS (SELECT 1 FROM announcement_acks a WHERE a.announcement_id ="
        " t.announcement_id AND a.chat_id = t.chat_id) ORDER BY t.chat_id",
        (ann_id,),
    )
    return [int(r[0]) for r in rows]


# --- scheduled, corrected, recalled (issue 14) ----------------------------------------------


async def scheduled_in(conn: Conn, path: str, author_id: int | None) -> list[Announcement]:
    """Scheduled announcements of orgs of the subtree at `path` (only `author_id`'s if given),
    the soonest first."""
    cols = ", ".join("a." + c.strip() for c in _ANN.split(","))
    sql = (
        f"SELECT {cols} FROM announcements a JOIN orgs o ON o.id = a.org_id"
        " WHERE a.status = 'scheduled' AND o.path LIKE ?"
    )
    params: tuple[Any, ...] = (path + "%",)
    if author_id is not None:
        sql += " AND a.author_id = ?"
        params += (author_id,)
    return await all_of(conn, Announcement, sql + " ORDER BY a.send_at, a.id", params)


async def set_status(conn: Conn, ann_id: int, new: str, old: str) -> bool:
    """Move an announcement from `old` to `new`; False if it was no longer `old` (a second
    press, a timer that already fired)."""
    cur = await conn.execute(
        "UPDATE announcements SET status = ? WHERE id = ? AND status = ?", (new, ann_id, old)
    )
    return cur.rowcount > 0


async def set_text(conn: Conn, ann_id: int, text: str, now: float) -> None:
    """The corrected text (safe HTML), counted as one more edit at `now`."""
    await conn.execute(
        "UPDATE announcements SET text = ?, edited_at = ?, edits = edits + 1 WHERE id = ?",
        (text, now, ann_id),
    )


async def mark_recalled(conn: Conn, ann_id: int, now: float) -> bool:
    cur = await conn.execute(
        "UPDATE announcements SET status = 'recalled', recalled_at = ? WHERE id = ?"
        " AND status = 'sent'",
        (now, ann_id),
    )
    return cur.rowcount > 0


async def waiting_digest_items(conn: Conn, ref: str) -> list[DigestItem]:
    """Copies of `ref` kept for an evening digest that has not gone yet."""
    return await _waiting(conn, "ref", ref)


async def set_digest_payload(conn: Conn, item_id: int, payload: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE digest_items SET payload = ? WHERE id = ? AND outbox_id IS NULL",
        (json.dumps(payload, ensure_ascii=False), item_id),
    )


async def chat_titles(conn: Conn, chat_ids: list[int]) -> dict[int, str]:
    """The stored titles of some chats (for telling an author where a pin was refused)."""
    if not chat_ids:
        return {}
    rows = await fetchall(
        conn,
        f"SELECT id, COALESCE(title, '') FROM chats WHERE id IN ({','.join('?' * len(chat_ids))})",
        tuple(chat_ids),
    )
    return {int(r[0]): str(r[1]) for r in rows}


# --- acknowledgements ----------------------------------------------------------------------


async def ack(
    conn: Conn, ann_id: int, user_id: int, chat_id: int, first_name: str, now: float
) -> bool:
    """Record a press; False when this person had already acknowledged."""
    cur = await conn.execute(
        "INSERT INTO announcement_acks(announcement_id, user_id, chat_id, first_name, acked_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (ann_id, user_id, chat_id, first_name, now),
    )
    return cur.rowcount > 0


async def acks(conn: Conn, ann_id: int) -> list[Ack]:
    return await all_of(
        conn,
        Ack,
        "SELECT user_id, chat_id, first_name, acked_at FROM announcement_acks"
        " WHERE announcement_id = ? ORDER BY acked_at, user_id",
        (ann_id,),
    )


# --- digest --------------------------------------------------------------------------------


async def sent_today(conn: Conn, chat_id: int, since: float) -> int:
    """Bot-started messages queued for a chat since `since` (not counting cancelled ones)."""
    row = await fetchone(
        conn,
        "SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND created_at >= ?"
        f" AND status <> 'cancelled' AND {_SENDS}",
        (chat_id, since),
    )
    return int(row[0]) if row else 0


async def sent_today_many(conn: Conn, chat_ids: list[int], since: float) -> dict[int, int]:
    """`sent_today` for many chats in one query (chats with none are 0)."""
    counts = dict.fromkeys(chat_ids, 0)
    if not chat_ids:
        return counts
    for start in range(0, len(chat_ids), 500):
        chunk = chat_ids[start : start + 500]
        rows = await fetchall(
            conn,
            "SELECT chat_id, COUNT(*) FROM outbox WHERE created_at >= ?"
            f" AND status <> 'cancelled' AND {_SENDS} AND chat_id IN ({','.join('?' * len(chunk))})"
            " GROUP BY chat_id",
            (since, *chunk),
        )
        counts.update({int(r[0]): int(r[1]) for r in rows})
    return counts


async def dedupe_used(conn: Conn, dedupe_key: str) -> bool:
    row = await fetchone(
        conn,
        "SELECT 1 FROM outbox WHERE dedupe_key = ? UNION ALL"
        " SELECT 1 FROM digest_items WHERE dedupe_key = ? LIMIT 1",
        (dedupe_key, dedupe_key),
    )
    return row is not None


async def add_digest_item(
    conn: Conn,
    *,
    chat_id: int,
    kind: str,
    payload: dict[str, Any],
    ref: str | None,
    dedupe_key: str | None,
    now: float,
) -> int | None:
    async with conn.execute(
        "INSERT INTO digest_items(chat_id, kind, payload, ref, dedupe_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING RETURNING id",
        (chat_id, kind, json.dumps(payload, ensure_ascii=False), ref, dedupe_key, now),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else None


async def waiting_items(conn: Conn, chat_id: int) -> list[DigestItem]:
    """What a chat has kept for its next digest."""
    return await _waiting(conn, "chat_id", chat_id)


async def _waiting(conn: Conn, column: str, value: object) -> list[DigestItem]:
    """Digest items not yet folded into a sent digest, where `column` is `value`."""
    rows = await fetchall(
        conn,
        "SELECT id, chat_id, kind, payload, ref, created_at FROM digest_items"
        f" WHERE {column} = ? AND outbox_id IS NULL ORDER BY id",
        (value,),
    )
    return [
        DigestItem.model_validate({**dict(r), "payload": json.loads(r["payload"])}) for r in rows
    ]


async def fold_items(conn: Conn, ids: list[int], outbox_id: int) -> None:
    await conn.executemany(
        "UPDATE digest_items SET outbox_id = ? WHERE id = ?", [(outbox_id, i) for i in ids]
    )


# --- coverage audit ------------------------------------------------------------------------


async def presence(conn: Conn, chat_id: int) -> dict[int, str]:
    rows = await fetchall(
        conn, "SELECT user_id, status FROM chat_presence WHERE chat_id = ?", (chat_id,)
    )
    return {int(r[0]): str(r[1]) for r in rows}


async def set_presence(
    conn: Conn, chat_id: int, results: list[tuple[int, str]], now: float
) -> None:
    await conn.executemany(
        "INSERT INTO chat_presence(chat_id, user_id, status, checked_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(chat_id, user_id) DO UPDATE SET status = excluded.status,"
        " checked_at = excluded.checked_at",
        [(chat_id, uid, status, now) for uid, status in results],
    )


# --- a group became a supergroup -----------------------------------------------------------


async def migrate_chat(conn: Conn, old: int, new: int) -> None:
    """Move this feature's chat ids (called from bot.domain.outbox.migrate_chat)."""
    await conn.execute("UPDATE announcements SET chat_id = ? WHERE chat_id = ?", (new, old))
    # a target already in the new chat keeps its row (the old one stays, as UPDATE OR IGNORE did)
    await conn.execute(
        "UPDATE announcement_targets SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM announcement_targets n WHERE n.chat_id = ?"
        " AND n.announcement_id = announcement_targets.announcement_id)",
        (new, old, new),
    )
    await conn.execute("UPDATE announcement_acks SET chat_id = ? WHERE chat_id = ?", (new, old))
    await conn.execute("UPDATE digest_items SET chat_id = ? WHERE chat_id = ?", (new, old))
    await conn.execute(
        "UPDATE chat_presence SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM chat_presence n WHERE n.chat_id = ? AND n.user_id = chat_presence.user_id)",
        (new, old, new),
    )


async def repoint_user(conn: Conn, user_id: int, tomb_id: int, needles: list[str]) -> None:
    """/forgetme: acknowledgements (without the display name) and authorship name the
    tombstone; texts lose the person's strings; the coverage audit's row of them goes."""
    await conn.execute(
        "UPDATE announcement_acks SET user_id = ?, first_name = '' WHERE user_id = ?",
        (tomb_id, user_id),
    )
    await conn.execute(
        "UPDATE announcements SET author_id = ? WHERE author_id = ?", (tomb_id, user_id)
    )
    expr, cond, params = redacted("text", needles)
    await conn.execute(f"UPDATE announcements SET text = {expr} WHERE {cond}", params)
    await conn.execute("DELETE FROM chat_presence WHERE user_id = ?", (user_id,))


async def digest_payloads(conn: Conn) -> list[tuple[int, str, str]]:
    """(id, payload JSON, ref + dedupe key) of every digest item (for /forgetme's search)."""
    rows = await fetchall(
        conn,
        "SELECT id, payload, coalesce(ref, '') || ' ' || coalesce(dedupe_key, '')"
        " FROM digest_items",
    )
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


async def delete_digest_items(conn: Conn, ids: list[int]) -> None:
    await conn.executemany("DELETE FROM digest_items WHERE id = ?", [(i,) for i in ids])


async def expire_digest(conn: Conn, before: float) -> int:
    """Digest items already folded into a sent digest, older than `before`, lose their payload."""
    cur = await conn.execute(
        "UPDATE digest_items SET payload = '{}' WHERE outbox_id IS NOT NULL AND created_at < ?"
        " AND payload <> '{}'",
        (before,),
    )
    return cur.rowcount
