"""Group chats the bot is in, and which org each is bound to."""

from __future__ import annotations

from bot.domain.models import Chat
from storage.db import Conn, all_of, fetchone, one_of

_COLS = "id, type, title, active, is_admin, org_id"


async def upsert(
    conn: Conn,
    *,
    chat_id: int,
    type: str,
    title: str,
    active: bool | None,
    is_admin: bool | None,
    now: float,
) -> None:
    """Create or refresh a chat row; None leaves active/is_admin as they are."""
    await conn.execute(
        "INSERT INTO chats(id, type, title, active, is_admin, updated_at)"
        " VALUES (?, ?, ?, COALESCE(?, 1), COALESCE(?, 0), ?)"
        " ON CONFLICT(id) DO UPDATE SET type = excluded.type, title = excluded.title,"
        " active = COALESCE(?, chats.active), is_admin = COALESCE(?, chats.is_admin),"
        " updated_at = excluded.updated_at",
        (chat_id, type, title, active, is_admin, now, active, is_admin),
    )


async def get(conn: Conn, chat_id: int) -> Chat | None:
    return await one_of(conn, Chat, f"SELECT {_COLS} FROM chats WHERE id = ?", (chat_id,))


async def of_org(conn: Conn, org_id: int) -> Chat | None:
    return await one_of(conn, Chat, f"SELECT {_COLS} FROM chats WHERE org_id = ?", (org_id,))


async def bound_in(conn: Conn, org_ids: list[int]) -> list[Chat]:
    if not org_ids:
        return []
    marks = ",".join("?" * len(org_ids))
    return await all_of(conn, Chat, f"SELECT {_COLS} FROM chats WHERE org_id IN ({marks})", org_ids)


async def bind(conn: Conn, chat_id: int, org_id: int | None) -> None:
    await conn.execute("UPDATE chats SET org_id = ? WHERE id = ?", (org_id, chat_id))


async def set_active(conn: Conn, chat_id: int, active: bool, now: float) -> None:
    await conn.execute(
        "UPDATE chats SET active = ?, updated_at = ? WHERE id = ?", (active, now, chat_id)
    )


async def take_over(conn: Conn, old: int, new: int, now: float) -> bool:
    """Group → supergroup, first half: the `new` row exists (created, or merged into when the
    bot already knew it) and holds `old`'s org binding; False when `old` was never known.

    Foreign-key safe order: references move to `new` next, and `delete(old)` comes last.
    """
    old_row = await fetchone(conn, "SELECT * FROM chats WHERE id = ?", (old,))
    if old_row is None:
        return False
    # free the UNIQUE org binding before the new row takes it
    await conn.execute("UPDATE chats SET org_id = NULL WHERE id = ?", (old,))
    await conn.execute(
        "INSERT INTO chats(id, type, title, active, is_admin, org_id, updated_at)"
        " VALUES (?, 'supergroup', ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET type = 'supergroup',"
        " org_id = COALESCE(chats.org_id, excluded.org_id),"
        " title = CASE WHEN chats.title = '' THEN excluded.title ELSE chats.title END,"
        " updated_at = excluded.updated_at",
        (new, old_row["title"], old_row["active"], old_row["is_admin"], old_row["org_id"], now),
    )
    return True


async def delete(conn: Conn, chat_id: int) -> None:
    await conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))


async def set_title(conn: Conn, chat_id: int, title: str, now: float) -> None:
    await conn.execute(
        "UPDATE chats SET title = ?, updated_at = ? WHERE id = ?", (title, now, chat_id)
    )
