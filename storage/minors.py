"""Guardian requests (single-use links, stored hashed) and recorded guardian consents."""

from __future__ import annotations

from typing import Any

from bot.domain.models_minors import ConsentMethod, GuardianRequest
from storage.db import Conn, fetchall, fetchone, insert_returning_id, one_of

_REQUEST = "id, user_id, org_id, created_at, expires_at, used_at"


async def insert_request(
    conn: Conn, *, token_hash: str, user_id: int, org_id: int, now: float, expires_at: float
) -> int:
    return await insert_returning_id(
        conn,
        "INSERT INTO guardian_requests(token_hash, user_id, org_id, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (token_hash, user_id, org_id, now, expires_at),
    )


async def request_by_hash(conn: Conn, token_hash: str) -> GuardianRequest | None:
    return await one_of(
        conn,
        GuardianRequest,
        f"SELECT {_REQUEST} FROM guardian_requests WHERE token_hash = ?",
        (token_hash,),
    )


async def open_request_of(conn: Conn, user_id: int, now: float) -> GuardianRequest | None:
    """The minor's newest unused, unexpired request."""
    return await one_of(
        conn,
        GuardianRequest,
        f"SELECT {_REQUEST} FROM guardian_requests WHERE user_id = ? AND used_at IS NULL"
        " AND expires_at > ? ORDER BY id DESC LIMIT 1",
        (user_id, now),
    )


async def close_requests(conn: Conn, user_id: int, now: float) -> int:
    """Mark every open request of the minor used (one consent ends them all); how many."""
    cur = await conn.execute(
        "UPDATE guardian_requests SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
        (now, user_id),
    )
    return cur.rowcount


async def add_consent(
    conn: Conn,
    *,
    minor_id: int,
    org_id: int,
    method: ConsentMethod,
    guardian_id: int | None,
    recorded_by: int | None,
    request_id: int | None,
    now: float,
) -> None:
    await conn.execute(
        "INSERT INTO guardian_consents(minor_id, org_id, method, guardian_id, recorded_by,"
        " request_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (minor_id, org_id, method, guardian_id, recorded_by, request_id, now),
    )


async def has_consent(conn: Conn, minor_id: int) -> bool:
    row = await fetchone(
        conn, "SELECT 1 FROM guardian_consents WHERE minor_id = ? LIMIT 1", (minor_id,)
    )
    return row is not None


async def repoint_user(conn: Conn, user_id: int, tomb_id: int) -> None:
    """/forgetme: a minor's requests and consents go; as guardian or recorder, the tombstone."""
    await conn.execute("DELETE FROM guardian_consents WHERE minor_id = ?", (user_id,))
    await conn.execute("DELETE FROM guardian_requests WHERE user_id = ?", (user_id,))
    for column in ("guardian_id", "recorded_by"):
        await conn.execute(
            f"UPDATE guardian_consents SET {column} = ? WHERE {column} = ?", (tomb_id, user_id)
        )


async def records_of(conn: Conn, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """/mydata: the person's guardian requests, and consents given for, by or about them."""
    requests = await fetchall(
        conn,
        "SELECT org_id, created_at, expires_at, used_at FROM guardian_requests"
        " WHERE user_id = ? ORDER BY id",
        (user_id,),
    )
    consents = await fetchall(
        conn,
        "SELECT minor_id, org_id, method, guardian_id, recorded_by, at"
        " FROM guardian_consents WHERE ? IN (minor_id, guardian_id, recorded_by) ORDER BY id",
        (user_id,),
    )
    return {
        "guardian_requests": [dict(r) for r in requests],
        "guardian_consents": [dict(r) for r in consents],
    }
