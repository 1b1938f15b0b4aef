"""Read-only figures for `towerbot status`, and the heartbeat it reads."""

from __future__ import annotations

from typing import Any

from storage.db import Conn, fetchall, fetchone

FAILURES_SHOWN = 5  # the last few messages given up, for `towerbot status`


async def put(conn: Conn, key: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def collect(conn: Conn) -> dict[str, Any]:
    outbox = {
        r["status"]: r["n"]
        for r in await fetchall(conn, "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
    }
    oldest = await fetchone(conn, "SELECT MIN(created_at) FROM outbox WHERE status = 'pending'")
    reminders = {
        r[0]: r[1]
        for r in await fetchall(conn, "SELECT status, COUNT(*) FROM reminders GROUP BY status")
    }
    next_due = await fetchone(conn, "SELECT MIN(due_at) FROM reminders WHERE status = 'pending'")
    failures = [
        dict(r)
        for r in await fetchall(
            conn,
            "SELECT id, chat_id, kind, ref, error, created_at FROM outbox"
            " WHERE status = 'failed' ORDER BY id DESC LIMIT ?",
            (FAILURES_SHOWN,),
        )
    ]
    kv = {r[0]: r[1] for r in await fetchall(conn, "SELECT key, value FROM kv")}
    version = await fetchone(conn, "SELECT MAX(version) FROM schema_migrations")
    return {
        "schema_version": version[0] if version else 0,
        "outbox": outbox,
        "outbox_oldest_pending": oldest[0] if oldest else None,
        "outbox_failures": failures,
        "reminders": reminders,
        "next_reminder_due": next_due[0] if next_due else None,
        "heartbeat": kv.get("heartbeat"),
        "last_update": kv.get("last_update"),
    }
