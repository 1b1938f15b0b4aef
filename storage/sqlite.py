"""The SQLite engine: one writer connection, one reader (WAL snapshots), PRAGMAs, migrations.

Everything SQLite-specific lives here (PRAGMAs, BEGIN IMMEDIATE, the WAL checkpoint, the
online backup); storage/postgres.py is the other engine behind the same `Database` interface.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from storage.base import VACUUM_AFTER, Conn, Database, DatabaseLocked, fetchone, migration_files

log = logging.getLogger(__name__)

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    # deleted rows are overwritten with zeros, not left in free pages (a backup copies those)
    "PRAGMA secure_delete=ON",
)


class SqliteDatabase(Database):
    """One writer connection (serialised by a lock) and one reader connection (WAL snapshots)."""

    engine = "sqlite"
    TABLES_SQL = (
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name <> 'schema_migrations' ORDER BY name"
    )

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None

    async def connect(self, migrate: bool = True) -> SqliteDatabase:
        """Open both connections and (by default) apply pending migrations."""
        self._writer = await self._open()
        try:
            if migrate:
                await self.upgrade()
            self._reader = await self._open()
        except BaseException:
            await self.close()  # aiosqlite's threads would keep the process alive
            raise
        return self

    async def _open(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            for pragma in _PRAGMAS:
                await conn.execute(pragma)
        except sqlite3.OperationalError as exc:
            await conn.close()
            if "locked" in str(exc):
                raise DatabaseLocked(f"database {self.path} is locked by another program") from exc
            raise
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def upgrade(self) -> list[str]:
        """Apply numbered migrations not yet recorded; returns the names applied."""
        try:
            return await self._upgrade()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise DatabaseLocked(f"database {self.path} is locked by another program") from exc
            raise

    async def _upgrade(self) -> list[str]:
        conn = self._writer
        assert conn is not None
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        async with conn.execute("SELECT version FROM schema_migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        applied = []
        vacuum = False
        for version, name, sql in migration_files("sqlite"):
            if version in done:
                continue
            script = (
                "BEGIN IMMEDIATE;\n" + sql + "\n;INSERT INTO schema_migrations(version, name) "
                f"VALUES ({version}, '{name}');\nCOMMIT;"
            )
            try:
                await conn.executescript(script)
            except Exception:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise
            applied.append(name)
            vacuum = vacuum or VACUUM_AFTER in sql
            log.info("applied migration %s", name)
        if vacuum:
            await conn.execute("VACUUM")
            await self._checkpoint(conn)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """BEGIN IMMEDIATE … COMMIT on the writer; coroutines queue on a lock, never interleave."""
        conn = self._writer
        assert conn is not None, "database not connected"
        async with self._lock:
            await self._begin(conn)
            try:
                yield conn
            except BaseException:
                self._after_commit.clear()
                await conn.execute("ROLLBACK")
                raise
            try:
                await conn.execute("COMMIT")
            except BaseException:  # e.g. a deferred foreign key: undo it, keep the writer usable
                self._after_commit.clear()
                await self._rollback_open(conn)
                raise
            hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    async def _begin(self, conn: aiosqlite.Connection) -> None:
        """BEGIN IMMEDIATE that never leaves a transaction open behind a cancelled caller.

        aiosqlite runs the statement in its own thread: a caller cancelled while waiting would
        otherwise release the lock with the BEGIN still executing, and the next writer would
        fail with "cannot start a transaction within a transaction".
        """
        begin = asyncio.ensure_future(conn.execute("BEGIN IMMEDIATE"))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            try:
                await begin
                await conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001, S110 - the BEGIN itself failed: nothing is open
                pass
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise DatabaseLocked(f"database {self.path} is locked") from exc
            raise

    async def checkpoint(self) -> bool:
        """Copy the WAL into the file and truncate it, so no old page version stays there."""
        conn = self._writer
        assert conn is not None, "database not connected"
        async with self._lock:
            return await self._checkpoint(conn)

    async def _checkpoint(self, conn: aiosqlite.Connection) -> bool:
        for attempt in range(20):
            row = await fetchone(conn, "PRAGMA wal_checkpoint(TRUNCATE)")
            if row is not None and row[0] == 0:
                return True
            await asyncio.sleep(0.05 * (attempt + 1))  # a reader still holds an old snapshot
        log.warning("WAL checkpoint stayed busy")
        return False

    @staticmethod
    async def _rollback_open(conn: aiosqlite.Connection) -> None:
        """ROLLBACK if a transaction is still open (a failed COMMIT leaves it open)."""
        try:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
        except Exception:  # already closed: nothing is open
            log.exception("rollback after a failed commit")

    async def backup(
        self, target: str | Path, progress: Callable[[int, int], None] | None = None
    ) -> None:
        """SQLite online backup into `target` (safe while the bot runs)."""

        def run() -> None:
            src = sqlite3.connect(self.path)
            dst = sqlite3.connect(str(target))
            try:
                src.backup(
                    dst,
                    pages=256,
                    progress=(lambda status, remaining, total: progress(total - remaining, total))
                    if progress
                    else None,
                )
            finally:
                dst.close()
                src.close()

        await asyncio.to_thread(run)
