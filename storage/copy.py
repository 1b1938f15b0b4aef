"""`towerbot db copy`: every table of a SQLite database into an empty PostgreSQL database.

Tables go in foreign-key order (referenced tables first; rows of a table in rowid order, so an
org's parent comes before it), in batches over PostgreSQL's COPY, in one transaction with the
tables' triggers off (hour_totals is copied as it is, not recomputed by the triggers). Then the
id sequences continue after the highest id copied (the outbox's after the highest id SQLite
ever handed out), and every table's row count is compared on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from storage.base import Database, fetchall, fetchone
from storage.postgres import PgConn, PostgresDatabase
from storage.sqlite import SqliteDatabase

BATCH = 2000


class CopyError(RuntimeError):
    """The copy cannot start, or what arrived differs from the source."""


def dependency_order(tables: list[str], refs: dict[str, set[str]]) -> list[str]:
    """`tables` with every table after the tables it references (alphabetical otherwise)."""
    out: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(table: str) -> None:
        if table in done:
            return
        if table in visiting:
            raise CopyError(f"foreign keys form a cycle through {table}")
        visiting.add(table)
        for parent in sorted(refs.get(table, set()) - {table}):
            if parent in tables:
                visit(parent)
        visiting.discard(table)
        done.add(table)
        out.append(table)

    for table in sorted(tables):
        visit(table)
    return out


async def _references(src: SqliteDatabase, tables: list[str]) -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {}
    for table in tables:
        rows = await fetchall(src.reader, f"PRAGMA foreign_key_list({table})")
        refs[table] = {str(r["table"]) for r in rows}
    return refs


def _converter(pg_type: str) -> Callable[[Any], Any]:
    """SQLite stores what it was given; PostgreSQL's COPY wants each column's own type."""
    if pg_type in ("bigint", "integer", "smallint"):
        return lambda v: None if v is None else int(v)
    if pg_type in ("double precision", "real", "numeric"):
        return lambda v: None if v is None else float(v)
    if pg_type == "text":
        return lambda v: None if v is None else str(v)
    return lambda v: v


async def counts(db: Database, tables: list[str]) -> dict[str, int]:
    out = {}
    for table in tables:
        row = await fetchone(db.reader, f"SELECT COUNT(*) FROM {table}")
        out[table] = int(row[0]) if row else 0
    return out


async def copy_database(
    src: SqliteDatabase,
    dst: PostgresDatabase,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Copy every table of `src` into `dst` (migrated, empty); returns rows per table.

    `progress(table, rows done, rows in all)` is called after each batch.
    """
    tables = await src.tables()
    missing = sorted(set(tables) - set(await dst.tables()))
    if missing:
        raise CopyError(f"the PostgreSQL schema lacks tables {', '.join(missing)}")
    if await src.schema_version() != await dst.schema_version():
        raise CopyError(
            f"schema versions differ (SQLite {await src.schema_version()}, PostgreSQL"
            f" {await dst.schema_version()}): run `towerbot db upgrade` on the SQLite file first"
        )
    full = [t for t, n in (await counts(dst, tables)).items() if n]
    if full:
        raise CopyError(f"the PostgreSQL database is not empty ({', '.join(full)} have rows)")
    order = dependency_order(tables, await _references(src, tables))
    expected = await counts(src, order)
    total, done = sum(expected.values()), 0
    async with dst.transaction() as tx:
        assert isinstance(tx, PgConn)
        raw = tx.raw
        for table in order:
            await raw.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for table in order:
            types = {
                str(r[0]): str(r[1])
                for r in await raw.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = $1",
                    table,
                )
            }
            cols = [
                str(r["name"]) for r in await fetchall(src.reader, f"PRAGMA table_info({table})")
            ]
            convert = [_converter(types.get(c, "")) for c in cols]
            async with src.reader.execute(
                f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid"
            ) as cur:
                while rows := list(await cur.fetchmany(BATCH)):
                    records = [tuple(f(row[i]) for i, f in enumerate(convert)) for row in rows]
                    try:
                        await raw.copy_records_to_table(table, records=records, columns=cols)
                    except asyncpg.PostgresError as exc:
                        raise CopyError(f"{table}: {exc}") from exc
                    done += len(records)
                    if progress:
                        progress(table, done, total)
            if "id" in types:
                await _continue_sequence(src, raw, table)
        for table in order:
            await raw.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    copied = await counts(dst, order)
    wrong = {t: (expected[t], copied[t]) for t in order if expected[t] != copied[t]}
    if wrong:
        raise CopyError(
            "row counts differ after the copy: "
            + ", ".join(f"{t} SQLite {a} / PostgreSQL {b}" for t, (a, b) in wrong.items())
        )
    return copied


async def _continue_sequence(src: SqliteDatabase, raw: asyncpg.Connection, table: str) -> None:
    """The table's id sequence (if any) continues after every id SQLite handed out."""
    seq = await raw.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table)
    if seq is None:
        return
    high = int(await raw.fetchval(f"SELECT COALESCE(MAX(id), 0) FROM {table}"))
    row = await fetchone(src.reader, "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    if row is not None:
        high = max(high, int(row[0]))
    await raw.execute("SELECT setval($1, $2, false)", seq, high + 1)
