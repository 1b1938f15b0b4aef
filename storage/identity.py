"""Who a user is, in one query: what every update reads (bot/domain/cache.py keeps it)."""

from __future__ import annotations

from typing import Any

from bot.domain.models import Org, Person, User
from storage.db import Conn, fetchall, model_from

Found = tuple[User, Person | None, Org | None, list[tuple[Org, str]]]

_SELECT = (
    "SELECT u.id, u.first_name, u.username, u.tg_lang, u.lang, u.started, u.reachable,"
    " p.real_name, p.phone, p.org_id, p.consent_at, p.registered_at,"
    " o.id AS o_id, o.code AS o_code, o.name AS o_name, o.kind AS o_kind,"
    " o.parent_id AS o_parent_id, o.path AS o_path, o.depth AS o_depth,"
    " r.role, ro.id AS r_id, ro.code AS r_code, ro.name AS r_name, ro.kind AS r_kind,"
    " ro.parent_id AS r_parent_id, ro.path AS r_path, ro.depth AS r_depth"
    " FROM users u LEFT JOIN people p ON p.user_id = u.id"
    " LEFT JOIN orgs o ON o.id = p.org_id"
    " LEFT JOIN roles r ON r.user_id = u.id LEFT JOIN orgs ro ON ro.id = r.org_id"
)
#: ids per statement in `identities` (well under either engine's parameter limit)
CHUNK = 500


async def identity(conn: Conn, user_id: int) -> Found | None:
    """(users row, people row, the person's org, roles with their orgs); None without a users
    row. One row per role (one with NULL role columns when there is none)."""
    return (await identities(conn, [user_id])).get(user_id)


async def identities(conn: Conn, user_ids: list[int]) -> dict[int, Found]:
    """`identity` of many users, CHUNK ids to a query; users without a users row are absent."""
    rows_of: dict[int, list[Any]] = {}
    for at in range(0, len(user_ids), CHUNK):
        chunk = user_ids[at : at + CHUNK]
        marks = ",".join("?" * len(chunk))
        for row in await fetchall(
            conn, f"{_SELECT} WHERE u.id IN ({marks}) ORDER BY u.id, ro.id", chunk
        ):
            rows_of.setdefault(int(row["id"]), []).append(row)
    return {user_id: _found(rows) for user_id, rows in rows_of.items()}


def _found(rows: list[Any]) -> Found:
    row = rows[0]
    user = model_from(row, User)
    person = org = None
    if row["real_name"] is not None:
        person = model_from(row, Person, user_id="id")
        org = model_from(row, Org, "o_") if row["o_id"] is not None else None
    roles = [(model_from(r, Org, "r_"), str(r["role"])) for r in rows if r["r_id"] is not None]
    return user, person, org, roles
