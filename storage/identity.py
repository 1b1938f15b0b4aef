"""Who a user is, in one query: what every update reads (bot/domain/cache.py keeps it)."""

from __future__ import annotations

from typing import Any

from bot.domain.models import Org, Person, User
from storage.db import Conn, fetchall

_ORG = ("id", "code", "name", "kind", "parent_id", "path", "depth")


def _org(row: Any, prefix: str) -> Org:
    return Org(**{col: row[prefix + col] for col in _ORG})


async def identity(
    conn: Conn, user_id: int
) -> tuple[User, Person | None, Org | None, list[tuple[Org, str]]] | None:
    """(users row, people row, the person's org, roles with their orgs); None without a users
    row. One row per role (one with NULL role columns when there is none)."""
    rows = await fetchall(
        conn,
        "SELECT u.id, u.first_name, u.username, u.tg_lang, u.lang, u.started, u.reachable,"
        " p.real_name, p.phone, p.org_id, p.consent_at, p.registered_at,"
        " o.id AS o_id, o.code AS o_code, o.name AS o_name, o.kind AS o_kind,"
        " o.parent_id AS o_parent_id, o.path AS o_path, o.depth AS o_depth,"
        " r.role, ro.id AS r_id, ro.code AS r_code, ro.name AS r_name, ro.kind AS r_kind,"
        " ro.parent_id AS r_parent_id, ro.path AS r_path, ro.depth AS r_depth"
        " FROM users u LEFT JOIN people p ON p.user_id = u.id"
        " LEFT JOIN orgs o ON o.id = p.org_id"
        " LEFT JOIN roles r ON r.user_id = u.id LEFT JOIN orgs ro ON ro.id = r.org_id"
        " WHERE u.id = ? ORDER BY ro.id",
        (user_id,),
    )
    if not rows:
        return None
    row = rows[0]
    user = User(
        id=row["id"],
        first_name=row["first_name"],
        username=row["username"],
        tg_lang=row["tg_lang"],
        lang=row["lang"],
        started=row["started"],
        reachable=row["reachable"],
    )
    person = org = None
    if row["real_name"] is not None:
        person = Person(
            user_id=row["id"],
            real_name=row["real_name"],
            phone=row["phone"],
            org_id=row["org_id"],
            consent_at=row["consent_at"],
            registered_at=row["registered_at"],
        )
        org = _org(row, "o_") if row["o_id"] is not None else None
    roles = [(_org(r, "r_"), str(r["role"])) for r in rows if r["r_id"] is not None]
    return user, person, org, roles
