"""The PostgreSQL engine (asyncpg) behind the same `Database` interface as SQLite's.

* One writer connection, serialised by an asyncio lock like SQLite's BEGIN IMMEDIATE writer:
  the domain decides inside `transaction()` from what it read there (sign-up counters, claims),
  so one transaction at a time per process keeps those decisions as they are on SQLite.
* Reads (`reader`) go to a second connection, one statement at a time in the order asked, like
  SQLite's reader connection (a pool would answer concurrent reads out of order, and the
  domain relies on first asked, first answered: a sign-up storm keeps press order).
* The connections speak the repositories' API (storage/base.py `Conn`): `?` placeholders are
  rewritten to `$1 … $n` (outside quotes and comments, cached), `execute` gives a cursor with
  `rowcount` (from PostgreSQL's command tag) and the rows of a SELECT or RETURNING.
* Migrations are storage/migrations/pg/*.sql, run under `pg_advisory_lock` so that instances
  started together migrate once.
* `notify` / `listen`: LISTEN/NOTIFY (storage/pg_listen.py); a transaction's messages go out
  with its COMMIT, so other instances keep their caches in step.
* `backup()` runs `pg_dump -Fc` (from PATH, else Debian's /usr/lib/postgresql/*/bin).
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import shutil
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg

from storage import pg_listen
from storage.base import (
    Conn,
    Database,
    DatabaseUnavailable,
    Row,
    Subscription,
    migration_files,
)

log = logging.getLogger(__name__)

#: pg_advisory_lock key held while migrating ("tower" in ASCII)
MIGRATION_LOCK = 0x746F776572


def is_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """`?` placeholders → `$1 … $n`, leaving quoted strings, identifiers and comments alone."""
    if "?" not in sql:
        return sql
    out: list[str] = []
    n = 0
    i = 0
    length = len(sql)
    while i < length:
        ch = sql[i]
        if ch in ("'", '"'):
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < length and sql[end + 1] == ch:  # '' inside a string
                end = sql.find(ch, end + 2)
            end = length - 1 if end == -1 else end
            out.append(sql[i : end + 1])
            i = end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = length if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def _returns_rows(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in ("SELECT", "WITH", "VALUES", "SHOW", "TABLE") or " RETURNING " in sql.upper()


def _rowcount(status: str) -> int:
    """'UPDATE 3' → 3, 'INSERT 0 1' → 1; -1 when the tag carries no count (e.g. 'BEGIN')."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PgCursor:
    """The rows of one statement (already fetched) and how many rows it changed or gave."""

    def __init__(self, rows: list[asyncpg.Record], rowcount: int) -> None:
        self._rows = rows
        self._at = 0
        self._rowcount = rowcount

    @property
    def rowcount(self) -> int:
        return self._rowcount

    async def fetchone(self) -> Row | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        row: Row = self._rows[self._at - 1]
        return row

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        end = len(self._rows) if size is None else self._at + size
        rows: list[Row] = list(self._rows[self._at : end])
        self._at += len(rows)
        return rows

    async def fetchall(self) -> list[Row]:
        return await self.fetchmany(None)


class PgResult:
    """`conn.execute(...)`: awaited or used as `async with`, like aiosqlite's."""

    def __init__(self, run: Callable[[], Any]) -> None:
        self._run = run

    def __await__(self) -> Generator[Any, None, PgCursor]:
        cursor: PgCursor = yield from self._run().__await__()
        return cursor

    async def __aenter__(self) -> PgCursor:
        cursor: PgCursor = await self._run()
        return cursor

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool | None:
        return None


def _args(parameters: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(parameters) if parameters is not None else ()


async def _run(conn: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> PgCursor:
    query = translate(sql)
    if _returns_rows(sql):
        rows = await conn.fetch(query, *args)
        return PgCursor(rows, len(rows))
    status = await conn.execute(query, *args)
    return PgCursor([], _rowcount(status))


class PgConn:
    """One asyncpg connection with the repositories' API (the writer's, in a transaction)."""

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> PgResult:
        args = _args(parameters)
        return PgResult(lambda: _run(self.raw, sql, args))

    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> list[Row]:
        rows: list[Row] = list(await self.raw.fetch(translate(sql), *_args(parameters)))
        return rows

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> None:
        batch = [tuple(p) for p in parameters]
        if batch:
            await self.raw.executemany(translate(sql), batch)

    async def executescript(self, script: str) -> None:
        """Several statements at once (simple query protocol, no parameters)."""
        await self.raw.execute(script)

    @property
    def in_transaction(self) -> bool:
        return self.raw.is_in_transaction()


class PgReader:
    """The reader: one connection whose statements queue on a lock, answered in the order
    asked (as SQLite's one reader connection answers them: first pressed, first served)."""

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw
        self._lock = asyncio.Lock()

    async def _run(self, sql: str, args: tuple[Any, ...]) -> PgCursor:
        async with self._lock:
            return await _run(self.raw, sql, args)

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> PgResult:
        args = _args(parameters)
        return PgResult(lambda: self._run(sql, args))

    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> list[Row]:
        async with self._lock:
            rows: list[Row] = list(await self.raw.fetch(translate(sql), *_args(parameters)))
        return rows

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> None:
        batch = [tuple(p) for p in parameters]
        if batch:
            async with self._lock:
                await self.raw.executemany(translate(sql), batch)

    @property
    def in_transaction(self) -> bool:
        return False


class PostgresDatabase(Database):
    """A writer connection (serialised by a lock) and a reader connection, on one PostgreSQL DB."""

    engine = "postgresql"
    TABLES_SQL = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema ="
        " current_schema() AND table_type = 'BASE TABLE'"
        " AND table_name <> 'schema_migrations' ORDER BY table_name"
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._writer: PgConn | None = None
        self._reader: PgReader | None = None
        #: (channel, message) the current transaction sends as it commits
        self._notices: list[tuple[str, str]] = []
        self._listeners: list[pg_listen.PgListener] = []

    async def _open(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(self.target)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(f"cannot connect to {self.display}: {exc}") from exc

    async def connect(self, migrate: bool = True) -> PostgresDatabase:
        self._writer = PgConn(await self._open())
        try:
            if migrate:
                await self.upgrade()
            self._reader = PgReader(await self._open())
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            await listener.close()
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.raw.close()
        self._reader = self._writer = None

    async def upgrade(self) -> list[str]:
        """Apply pending migrations, one transaction each, holding the migration lock."""
        conn = self._writer
        assert conn is not None, "database not connected"
        raw = conn.raw
        await raw.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await raw.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in await raw.fetch("SELECT version FROM schema_migrations")}
            applied = []
            for version, name, sql in migration_files("pg"):
                if version in done:
                    continue
                async with raw.transaction():
                    await raw.execute(sql)
                    await raw.execute(
                        "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)",
                        version,
                        name,
                    )
                applied.append(name)
                log.info("applied migration %s", name)
            return applied
        finally:
            await raw.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """BEGIN … COMMIT on the writer; coroutines queue on a lock, never interleave."""
        conn = self._writer
        assert conn is not None, "database not connected"
        async with self._lock:
            await conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                self._after_commit.clear()
                self._notices.clear()
                await self._rollback(conn)
                raise
            try:
                notices, self._notices = self._notices, []
                if notices:  # in the transaction: delivered only if it commits
                    await pg_listen.send(conn.raw, notices)
                await conn.execute("COMMIT")
            except BaseException:
                self._after_commit.clear()
                await self._rollback(conn)
                raise
            hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def notify(self, channel: str, message: str) -> None:
        self._notices.append((channel, message))

    async def listen(
        self,
        channel: str,
        on_message: Callable[[str], None],
        on_state: Callable[[bool], None],
    ) -> Subscription:
        """LISTEN on a connection of its own, reopened when it drops (until `close()`)."""

        def own_pid() -> int | None:
            return self._writer.raw.get_server_pid() if self._writer is not None else None

        listener = pg_listen.PgListener(self.target, channel, on_message, on_state, own_pid)
        await listener.start()
        self._listeners.append(listener)
        return listener

    async def _rollback(self, conn: PgConn) -> None:
        """ROLLBACK; a connection that cannot (broken, cancelled mid-query) is replaced."""
        try:
            if conn.in_transaction:
                await asyncio.shield(conn.raw.execute("ROLLBACK"))
        except BaseException:  # noqa: BLE001 - whatever broke it, a new connection follows
            log.warning("the writer connection could not roll back: reconnecting")
            conn.raw.terminate()
            conn.raw = await asyncpg.connect(self.target)

    async def checkpoint(self) -> bool:
        """Nothing to do: PostgreSQL recycles its WAL itself (VACUUM reclaims deleted rows)."""
        return True

    async def backup(
        self, target: str | Path, progress: Callable[[int, int], None] | None = None
    ) -> None:
        """`pg_dump -Fc` of the database into `target` (restore with `pg_restore`)."""
        pg_dump = shutil.which("pg_dump") or next(
            iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)), None
        )
        if pg_dump is None:
            raise RuntimeError("pg_dump is not on PATH: install the PostgreSQL client tools")
        if progress:
            progress(0, 1)
        proc = await asyncio.create_subprocess_exec(
            pg_dump,
            "--format=custom",
            "--no-owner",
            f"--file={target}",
            f"--dbname={self.target}",
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ},
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {err.decode(errors='replace').strip()}")
        if progress:
            progress(1, 1)
