"""Read a test's database from outside the bot, on either engine (a file path or a URL).

Synchronous on purpose: tests compare "every row before" with "every row after" around bot
calls. On SQLite it opens the file; on PostgreSQL it runs asyncpg on a thread of its own.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tests.pg import in_thread


def is_pg(target: Any) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def sql_rows(target: Any, sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of one query (`?` placeholders) as plain tuples."""
    if not is_pg(target):
        conn = sqlite3.connect(target)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    async def run() -> list[tuple]:
        import asyncpg

        from storage.postgres import translate

        conn = await asyncpg.connect(str(target))
        try:
            return [tuple(r) for r in await conn.fetch(translate(sql), *params)]
        finally:
            await conn.close()

    return in_thread(run)


# rows that move on their own (heartbeats, the instances' leases): not a bot decision
VOLATILE_KV = ("heartbeat", "last_update")
VOLATILE_TABLES = ("instances", "leases")


def volatile(table: str, row: tuple) -> bool:
    """A row a timer rewrites by itself; "nothing changed" comparisons leave it out."""
    return table in VOLATILE_TABLES or (table == "kv" and row[0] in VOLATILE_KV)


def table_names(target: Any) -> list[str]:
    """Every table (the migrations' bookkeeping included), by name."""
    if is_pg(target):
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema ="
            " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
    else:
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    return [str(r[0]) for r in sql_rows(target, sql)]


def tables(target: Any) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table: (its column names, its rows in storage order)."""
    if not is_pg(target):
        conn = sqlite3.connect(target)
        try:
            out = {}
            for name in table_names(target):
                cur = conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
                out[name] = ([d[0] for d in cur.description], cur.fetchall())
            return out
        finally:
            conn.close()

    names = table_names(target)

    async def run() -> dict[str, tuple[list[str], list[tuple]]]:
        import asyncpg

        conn = await asyncpg.connect(str(target))
        try:
            out = {}
            for name in names:
                stmt = await conn.prepare(f'SELECT * FROM "{name}"')
                cols = [a.name for a in stmt.get_attributes()]
                rows = sorted((tuple(r) for r in await stmt.fetch()), key=repr)
                out[name] = (cols, rows)
            return out
        finally:
            await conn.close()

    return in_thread(run)
