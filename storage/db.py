"""The SQLite connection, its PRAGMAs, migrations and the one transaction() helper.

Everything SQLite-specific lives here (PRAGMAs, BEGIN IMMEDIATE, the online backup), so a
PostgreSQL backend can later replace this module without touching repositories' callers.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

Row = sqlite3.Row
Conn = aiosqlite.Connection

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    # deleted rows are overwritten with zeros, not left in free pages (a backup copies those)
    "PRAGMA secure_delete=ON",
)
#: a migration holding this line is followed by VACUUM (pages freed earlier are rewritten)
_VACUUM_AFTER = "-- vacuum-after:"


class DatabaseLocked(RuntimeError):
    """The database file is locked by another program for longer than busy_timeout."""


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every numbered migration, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """One writer connection (serialised by a lock) and one reader connection (WAL snapshots)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer: Conn | None = None
        self._reader: Conn | None = None
        self._lock = asyncio.Lock()
        self._after_commit: list[Callable[[], None]] = []

    async def connect(self, migrate: bool = True) -> Database:
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

    async def _open(self) -> Conn:
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
        for version, name, sql in migration_files():
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
            vacuum = vacuum or _VACUUM_AFTER in sql
            log.info("applied migration %s", name)
        if vacuum:
            await conn.execute("VACUUM")
            await self._checkpoint(conn)
        return applied

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"] or 0) if row else 0

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

    async def _begin(self, conn: Conn) -> None:
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

    async def _checkpoint(self, conn: Conn) -> bool:
        for attempt in range(20):
            row = await fetchone(conn, "PRAGMA wal_checkpoint(TRUNCATE)")
            if row is not None and row[0] == 0:
                return True
            await asyncio.sleep(0.05 * (attempt + 1))  # a reader still holds an old snapshot
        log.warning("WAL checkpoint stayed busy")
        return False

    @staticmethod
    async def _rollback_open(conn: Conn) -> None:
        """ROLLBACK if a transaction is still open (a failed COMMIT leaves it open)."""
        try:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
        except Exception:  # already closed: nothing is open
            log.exception("rollback after a failed commit")

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` after the current transaction commits (dropped on rollback)."""
        self._after_commit.append(hook)

    @property
    def reader(self) -> Conn:
        assert self._reader is not None, "database not connected"
        return self._reader

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await fetchone(self.reader, sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await fetchall(self.reader, sql, params)

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


@asynccontextmanager
async def savepoint(conn: Conn, name: str) -> AsyncIterator[None]:
    """A nested part of the caller's transaction, undone alone if the block raises (re-raised)."""
    await conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except Exception:
        await conn.execute(f"ROLLBACK TO {name}")
        await conn.execute(f"RELEASE {name}")
        raise
    await conn.execute(f"RELEASE {name}")


def subtree_range(path: str) -> tuple[str, str]:
    """Bounds of every org path under (and including) `path`, which ends with '/'.

    `path >= '/1/5/' AND path < '/1/50'` ('0' follows '/'): an index on orgs(path) serves it.
    """
    return path, path[:-1] + "0"


#: what a redacted personal string becomes (one character: a redaction never lengthens a text)
REDACTED = "…"


def redacted(column: str, needles: Sequence[str]) -> tuple[str, str, list[str]]:
    """(expression, condition, params) replacing every needle in `column` with REDACTED.

    The expression's params come first, then the condition's (`instr` on each needle).
    """
    expr = column
    for _ in needles:
        expr = f"replace({expr}, ?, '{REDACTED}')"
    cond = " OR ".join(f"instr({column}, ?) > 0" for _ in needles) or "0"
    return expr, f"({cond})", [*needles, *needles]


async def fetchone(conn: Conn, sql: str, params: Sequence[Any] = ()) -> Row | None:
    """First row or None, in one hop to the connection's thread."""
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def fetchall(conn: Conn, sql: str, params: Iterable[Any] = ()) -> list[Row]:
    """All rows, in one hop to the connection's thread."""
    return list(await conn.execute_fetchall(sql, tuple(params)))


async def changed(conn: Conn, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one INSERT/UPDATE/DELETE; how many rows it changed (0 when a guard or conflict held)."""
    cur = await conn.execute(sql, params)
    return cur.rowcount


async def insert_once(conn: Conn, table: str, row: dict[str, Any], key: str) -> bool:
    """INSERT `row` unless one with the same `key` (the conflict columns) is there; True if new.

    `table`, the column names and `key` are the caller's constants, never user input.
    """
    cols = ", ".join(row)
    marks = ", ".join("?" * len(row))
    sql = f"INSERT INTO {table}({cols}) VALUES ({marks}) ON CONFLICT({key}) DO NOTHING"
    return await changed(conn, sql, tuple(row.values())) > 0
