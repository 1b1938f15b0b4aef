"""Telegram users, registered people (personal data), roles and guided-flow state."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.models import Flow, Person, RoleGrant, User
from storage.db import Conn, all_of, fetchall, fetchone, one_of

_USER = "id, first_name, username, tg_lang, lang, started, reachable"
_PERSON = "user_id, real_name, phone, org_id, consent_at, registered_at"


async def upsert_user(
    conn: Conn,
    *,
    user_id: int,
    first_name: str,
    username: str | None,
    tg_lang: str | None,
    started: bool,
    now: float,
) -> None:
    """Record what Telegram tells us of a user; a private message also marks them reachable.

    The Telegram name and username are kept only while the user is a registered person: an
    unregistered (or forgotten) account is stored with its id and language alone.
    """
    known = await fetchone(conn, "SELECT 1 FROM people WHERE user_id = ?", (user_id,))
    if known is None:
        first_name, username = "", None
    await conn.execute(
        "INSERT INTO users(id, first_name, username, tg_lang, started, reachable, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 1, ?)"
        " ON CONFLICT(id) DO UPDATE SET first_name = excluded.first_name,"
        " username = excluded.username, tg_lang = excluded.tg_lang,"
        " started = CASE WHEN excluded.started > users.started THEN excluded.started"
        " ELSE users.started END,"
        " reachable = CASE WHEN excluded.started = 1 THEN 1 ELSE users.reachable END,"
        " updated_at = excluded.updated_at",
        (user_id, first_name, username, tg_lang, int(started), now),
    )
    if username:
        await conn.execute(
            "INSERT INTO usernames(username, user_id, first_seen, last_seen)"
            " VALUES (lower(?), ?, ?, ?)"
            " ON CONFLICT(username, user_id) DO UPDATE SET last_seen = excluded.last_seen",
            (username, user_id, now, now),
        )


async def username_holders(conn: Conn, username: str) -> list[int]:
    """Every account ever seen with this username (compared case-insensitively)."""
    rows = await fetchall(
        conn,
        "SELECT user_id FROM usernames WHERE username = lower(?) ORDER BY user_id",
        (username,),
    )
    return [int(r["user_id"]) for r in rows]


async def forget_usernames(conn: Conn, user_id: int) -> None:
    await conn.execute("DELETE FROM usernames WHERE user_id = ?", (user_id,))


async def get_user(conn: Conn, user_id: int) -> User | None:
    return await one_of(conn, User, f"SELECT {_USER} FROM users WHERE id = ?", (user_id,))


async def by_username(conn: Conn, username: str) -> User | None:
    return await one_of(
        conn, User, f"SELECT {_USER} FROM users WHERE lower(username) = lower(?)", (username,)
    )


async def set_lang(conn: Conn, user_id: int, lang: str) -> None:
    await conn.execute("UPDATE users SET lang = ? WHERE id = ?", (lang, user_id))


async def set_reachable(conn: Conn, user_id: int, reachable: bool, now: float) -> None:
    await conn.execute(
        "UPDATE users SET reachable = ?, updated_at = ? WHERE id = ?",
        (int(reachable), now, user_id),
    )


async def fallback_target(conn: Conn, user_id: int) -> tuple[int, str] | None:
    """(chat id, Telegram first name) of the active chat bound to a registered user's org."""
    row = await fetchone(
        conn,
        "SELECT c.id AS chat_id, u.first_name AS first_name FROM people p"
        " JOIN users u ON u.id = p.user_id"
        " JOIN chats c ON c.org_id = p.org_id AND c.active = 1"
        " WHERE p.user_id = ?",
        (user_id,),
    )
    return (int(row["chat_id"]), str(row["first_name"])) if row else None


async def get_person(conn: Conn, user_id: int) -> Person | None:
    return await one_of(conn, Person, f"SELECT {_PERSON} FROM people WHERE user_id = ?", (user_id,))


async def save_person(
    conn: Conn, *, user_id: int, real_name: str, phone: str | None, org_id: int, now: float
) -> None:
    await conn.execute(
        "INSERT INTO people(user_id, real_name, phone, org_id, consent_at, registered_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET real_name = excluded.real_name,"
        " phone = excluded.phone, org_id = excluded.org_id, consent_at = excluded.consent_at,"
        " updated_at = excluded.updated_at",
        (user_id, real_name, phone, org_id, now, now, now),
    )


async def delete_person(conn: Conn, user_id: int) -> bool:
    cur = await conn.execute("DELETE FROM people WHERE user_id = ?", (user_id,))
    return cur.rowcount > 0


async def people_in(conn: Conn, org_ids: list[int]) -> list[Person]:
    if not org_ids:
        return []
    marks = ",".join("?" * len(org_ids))
    return await all_of(
        conn,
        Person,
        f"SELECT {_PERSON} FROM people WHERE org_id IN ({marks}) ORDER BY user_id",
        org_ids,
    )


async def set_role(
    conn: Conn, *, org_id: int, user_id: int, role: str, by: int | None, now: float
) -> None:
    await conn.execute(
        "INSERT INTO roles(org_id, user_id, role, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(org_id, user_id) DO UPDATE SET role = excluded.role,"
        " granted_by = excluded.granted_by, granted_at = excluded.granted_at",
        (org_id, user_id, role, by, now),
    )


async def remove_role(conn: Conn, *, org_id: int, user_id: int) -> bool:
    cur = await conn.execute(
        "DELETE FROM roles WHERE org_id = ? AND user_id = ?", (org_id, user_id)
    )
    return cur.rowcount > 0


async def remove_all_roles(conn: Conn, user_id: int) -> None:
    await conn.execute("DELETE FROM roles WHERE user_id = ?", (user_id,))


async def roles_of(conn: Conn, user_id: int) -> list[RoleGrant]:
    return await all_of(
        conn,
        RoleGrant,
        "SELECT org_id, user_id, role FROM roles WHERE user_id = ? ORDER BY org_id",
        (user_id,),
    )


async def holders(conn: Conn, org_ids: list[int], role: str) -> list[RoleGrant]:
    if not org_ids:
        return []
    marks = ",".join("?" * len(org_ids))
    return await all_of(
        conn,
        RoleGrant,
        f"SELECT org_id, user_id, role FROM roles WHERE role = ? AND org_id IN ({marks})"
        " ORDER BY org_id, user_id",
        [role, *org_ids],
    )


async def get_flow(conn: Conn, user_id: int) -> Flow | None:
    row = await fetchone(
        conn, "SELECT user_id, name, state FROM flows WHERE user_id = ?", (user_id,)
    )
    if not row:
        return None
    return Flow(user_id=row["user_id"], name=row["name"], state=json.loads(row["state"]))


async def set_flow(conn: Conn, user_id: int, name: str, state: dict[str, Any], now: float) -> None:
    await conn.execute(
        "INSERT INTO flows(user_id, name, state, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET name = excluded.name, state = excluded.state,"
        " updated_at = excluded.updated_at",
        (user_id, name, json.dumps(state, ensure_ascii=False), now),
    )


async def clear_flow(conn: Conn, user_id: int) -> bool:
    cur = await conn.execute("DELETE FROM flows WHERE user_id = ?", (user_id,))
    return cur.rowcount > 0


async def add_tombstone(conn: Conn, tomb_id: int) -> bool:
    """A new tombstone (a nameless users row with a negative id); False if the id is taken."""
    cur = await conn.execute(
        "INSERT INTO tombstones(id) VALUES (?) ON CONFLICT DO NOTHING", (tomb_id,)
    )
    if cur.rowcount != 1:
        return False
    await conn.execute(
        "INSERT INTO users(id, first_name, started, reachable, updated_at) VALUES (?, '', 0, 0, 0)",
        (tomb_id,),
    )
    return True


async def erase_user(conn: Conn, user_id: int, tomb_id: int) -> None:
    """The person's row, roles, flow and Telegram identity go; roles they granted name the
    tombstone."""
    await conn.execute("DELETE FROM flows WHERE user_id = ?", (user_id,))
    await conn.execute("DELETE FROM roles WHERE user_id = ?", (user_id,))
    await conn.execute("UPDATE roles SET granted_by = ? WHERE granted_by = ?", (tomb_id, user_id))
    await conn.execute("DELETE FROM people WHERE user_id = ?", (user_id,))
    await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
