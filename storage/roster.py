"""Pre-registrations from an imported roster (personal data until their person registers)."""

from __future__ import annotations

from bot.domain.models import RosterEntry
from storage.db import Conn, fetchall, fetchone, one_of

_ENTRY = "phone, real_name, org_id, role, imported_at"


async def upsert(conn: Conn, entry: RosterEntry) -> bool:
    """Insert or update the row of `entry.phone`; True if it was new."""
    old = await fetchone(conn, "SELECT 1 FROM roster WHERE phone = ?", (entry.phone,))
    await conn.execute(
        "INSERT INTO roster(phone, real_name, org_id, role, imported_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(phone) DO UPDATE SET real_name = excluded.real_name,"
        " org_id = excluded.org_id, role = excluded.role, imported_at = excluded.imported_at",
        (entry.phone, entry.real_name, entry.org_id, entry.role, entry.imported_at),
    )
    return old is None


async def by_phone(conn: Conn, phone: str) -> RosterEntry | None:
    return await one_of(conn, RosterEntry, f"SELECT {_ENTRY} FROM roster WHERE phone = ?", (phone,))


async def delete(conn: Conn, phones: list[str]) -> int:
    """Drop the rows of these phones (matched, or their person forgotten); how many went."""
    gone = 0
    for phone in phones:
        cur = await conn.execute("DELETE FROM roster WHERE phone = ?", (phone,))
        gone += cur.rowcount
    return gone


async def purge(conn: Conn) -> int:
    """Drop every pre-registration still waiting for its person."""
    cur = await conn.execute("DELETE FROM roster")
    return cur.rowcount


async def count(conn: Conn) -> int:
    row = await fetchone(conn, "SELECT COUNT(*) AS n FROM roster")
    return int(row["n"]) if row else 0


async def registered_phones(conn: Conn) -> set[str]:
    """Phones of people already registered (their rows are theirs, not the roster's)."""
    rows = await fetchall(conn, "SELECT phone FROM people WHERE phone IS NOT NULL")
    return {str(r["phone"]) for r in rows}


async def org_ids(conn: Conn) -> dict[str, int]:
    """Every org's id by its code (to check a whole roster file in one read)."""
    rows = await fetchall(conn, "SELECT id, code FROM orgs")
    return {str(r["code"]): int(r["id"]) for r in rows}
