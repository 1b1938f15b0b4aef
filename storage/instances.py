"""Instances sharing the database, and the named leases one of them holds at a time."""

from __future__ import annotations

from pydantic import BaseModel

from storage.db import Conn, all_of, changed


class InstanceRow(BaseModel):
    id: str
    host: str
    pid: int
    mode: str
    started_at: float
    seen_at: float


class LeaseRow(BaseModel):
    name: str
    owner: str
    expires_at: float


async def seen(conn: Conn, row: InstanceRow) -> None:
    """Record (or refresh) an instance and its heartbeat."""
    await conn.execute(
        "INSERT INTO instances(id, host, pid, mode, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at, mode = excluded.mode",
        (row.id, row.host, row.pid, row.mode, row.started_at, row.seen_at),
    )


async def gone(conn: Conn, instance_id: str) -> None:
    """An instance that stops cleanly removes itself and gives up its leases."""
    await conn.execute("DELETE FROM leases WHERE owner = ?", (instance_id,))
    await conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))


async def forget_silent(conn: Conn, seen_before: float) -> int:
    """Drop instances whose heartbeat stopped long ago (killed without a clean stop)."""
    return await changed(conn, "DELETE FROM instances WHERE seen_at < ?", (seen_before,))


async def claim(conn: Conn, name: str, owner: str, now: float, ttl: float) -> bool:
    """Take or renew lease `name` for `owner` until now + ttl; False while another holds it."""
    return (
        await changed(
            conn,
            "INSERT INTO leases(name, owner, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET owner = excluded.owner,"
            " expires_at = excluded.expires_at"
            " WHERE leases.owner = excluded.owner OR leases.expires_at < ?",
            (name, owner, now + ttl, now),
        )
        > 0
    )


async def release(conn: Conn, name: str, owner: str) -> bool:
    return await changed(conn, "DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)) > 0


async def instances(conn: Conn) -> list[InstanceRow]:
    return await all_of(
        conn,
        InstanceRow,
        "SELECT id, host, pid, mode, started_at, seen_at FROM instances ORDER BY started_at",
    )


async def leases(conn: Conn) -> list[LeaseRow]:
    return await all_of(conn, LeaseRow, "SELECT name, owner, expires_at FROM leases ORDER BY name")
