"""Orgs: the league tree, stored with a materialised path for subtree queries."""

from __future__ import annotations

from typing import Protocol

from bot.domain.models import Org
from storage.db import Conn, all_of, fetchone, insert_returning_id, one_of

_COLS = "id, code, name, kind, parent_id, path, depth"


async def insert(
    conn: Conn, *, code: str, name: str, kind: str | None, parent: Org | None, now: float
) -> Org:
    new_id = await insert_returning_id(
        conn,
        "INSERT INTO orgs(code, name, kind, parent_id, created_at) VALUES (?, ?, ?, ?, ?)",
        (code, name, kind, parent.id if parent else None, now),
    )
    org_id = new_id
    path = (parent.path if parent else "/") + f"{org_id}/"
    depth = parent.depth + 1 if parent else 0
    await conn.execute("UPDATE orgs SET path = ?, depth = ? WHERE id = ?", (path, depth, org_id))
    return Org(
        id=org_id,
        code=code,
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        path=path,
        depth=depth,
    )


async def rename(conn: Conn, org_id: int, name: str, kind: str | None) -> None:
    await conn.execute("UPDATE orgs SET name = ?, kind = ? WHERE id = ?", (name, kind, org_id))


async def get(conn: Conn, org_id: int) -> Org | None:
    return await one_of(conn, Org, f"SELECT {_COLS} FROM orgs WHERE id = ?", (org_id,))


async def by_code(conn: Conn, code: str) -> Org | None:
    return await one_of(conn, Org, f"SELECT {_COLS} FROM orgs WHERE code = ?", (code,))


async def of_chat(conn: Conn, chat_id: int) -> Org | None:
    """The org a chat is bound to, if any (the one lookup every feature uses)."""
    return await one_of(
        conn,
        Org,
        f"SELECT {', '.join('o.' + c for c in _COLS.split(', '))} FROM chats c"
        " JOIN orgs o ON o.id = c.org_id WHERE c.id = ?",
        (chat_id,),
    )


async def root(conn: Conn) -> Org | None:
    return await one_of(conn, Org, f"SELECT {_COLS} FROM orgs WHERE parent_id IS NULL ORDER BY id")


async def children(conn: Conn, org_id: int) -> list[Org]:
    return await all_of(
        conn, Org, f"SELECT {_COLS} FROM orgs WHERE parent_id = ? ORDER BY code", (org_id,)
    )


async def subtree(conn: Conn, org: Org) -> list[Org]:
    """The org and everything below it, parents before children."""
    return await all_of(
        conn,
        Org,
        f"SELECT {_COLS} FROM orgs WHERE path LIKE ? ORDER BY depth, code",
        (org.path + "%",),
    )


async def many(conn: Conn, ids: list[int]) -> list[Org]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return await all_of(conn, Org, f"SELECT {_COLS} FROM orgs WHERE id IN ({marks})", ids)


class Placed(Protocol):
    """An org, or a row that carries an org's materialised path (a campaign's owing org)."""

    @property
    def path(self) -> str: ...


def ancestor_ids(org: Placed) -> list[int]:
    """Ids from the root down to the org itself, read off the path."""
    return [int(part) for part in org.path.strip("/").split("/") if part]


async def count(conn: Conn) -> int:
    row = await fetchone(conn, "SELECT COUNT(*) FROM orgs")
    return int(row[0]) if row else 0
