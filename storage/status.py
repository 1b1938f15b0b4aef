"""Read-only figures for `towerbot status`."""

from __future__ import annotations

from typing import Any

from storage.db import Conn, fetchall, fetchone


async def collect(conn: Conn) -> dict[str, Any]:
    outbox = {r["status"]: r["n"] for r in await fetchall(
        conn, "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")}
    oldest = await fetchone(conn, "SELECT MIN(created_at) FROM outbox WHERE status = 'pending'")
    last = await fetchone(conn, "SELECT value FROM kv WHERE key = 'last_update'")
    version = await fetchone(conn, "SELECT MAX(version) FROM schema_migrations")
    return {
        "schema_version": version[0] if version else 0,
        "outbox": outbox,
        "outbox_oldest_pending": oldest[0] if oldest else None,
        "last_update": last[0] if last else None,
    }
