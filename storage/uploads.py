"""Files the bot uploaded once, by a key their feature names: later copies go by the file_id
Telegram returned (the outbox sender looks here for a document whose payload names a key)."""

from __future__ import annotations

from storage.db import Conn, fetchone


async def uploaded(conn: Conn, key: str) -> str | None:
    """The file_id Telegram gave the file uploaded under `key`, if any."""
    row = await fetchone(conn, "SELECT file_id FROM file_uploads WHERE key = ?", (key,))
    return str(row[0]) if row else None


async def remember_upload(conn: Conn, key: str, file_id: str, now: float) -> None:
    """The first upload under `key` wins; later copies go by its file_id."""
    await conn.execute(
        "INSERT INTO file_uploads(key, file_id, uploaded_at) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO NOTHING",
        (key, file_id, now),
    )
