"""What both storage engines share: the connection API the repositories use, the Database
interface, and the SQL helpers.

Repositories speak one small API (the one aiosqlite's connection has): `execute` giving a
cursor (`rowcount`, `fetchone`, `fetchall`, `fetchmany`, also as `async with`),
`execute_fetchall`, `executemany` and `in_transaction`, with `?` placeholders and rows
readable by column name and position. The SQLite engine (storage/sqlite.py) hands out aiosqlite
connections as they are; the PostgreSQL engine (storage/postgres.py) wraps asyncpg in the same
API. SQL written here and in the repositories is the portable subset both engines run.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel


class Row(Protocol):
    """A result row: by column name or position (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...  # the values, in column order

    def keys(self) -> Iterable[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Row | None: ...

    async def fetchall(self) -> Iterable[Row]: ...

    async def fetchmany(self, size: int | None = None) -> Iterable[Row]: ...


class CursorResult(Protocol):
    """What `Conn.execute` returns: awaited, or entered with `async with`, it is a cursor."""

    def __await__(self) -> Generator[Any, None, Cursor]: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool | None: ...


class Conn(Protocol):
    """The connection API the repositories use (an aiosqlite connection has exactly this)."""

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> CursorResult: ...

    def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> Awaitable[Iterable[Row]]: ...

    def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Awaitable[Any]: ...

    @property
    def in_transaction(self) -> bool: ...


#: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; batches stay under this
NOTIFY_LIMIT = 7900


class Subscription:
    """What `Database.listen` gives: messages arrive until `close()` (base: nothing ever
    arrives, as on SQLite, where no other process holds a cache to keep in step)."""

    #: the server process that receives the messages (PostgreSQL's backend pid), if any
    backend: int | None = None

    async def close(self) -> None:
        return None


def batches(messages: Sequence[str], limit: int = NOTIFY_LIMIT) -> list[str]:
    """Messages joined by newlines into as few payloads as fit `limit` bytes each (repeated
    messages once); `split` undoes it."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for message in dict.fromkeys(messages):
        length = len(message.encode("utf-8"))
        if "\n" in message or length >= limit:
            raise ValueError(f"cannot send {message[:40]!r}…: a newline or too long")
        if current and size + 1 + length >= limit:
            out.append("\n".join(current))
            current, size = [], 0
        size += length + (1 if current else 0)
        current.append(message)
    if current:
        out.append("\n".join(current))
    return out


def split(payload: str) -> list[str]:
    """The messages of one payload made by `batches`."""
    return payload.split("\n") if payload else []


class DatabaseLocked(RuntimeError):
    """The database is locked by another program for longer than the engine waits."""


class DatabaseUnavailable(RuntimeError):
    """The database server cannot be reached or refuses the connection (PostgreSQL)."""


#: a migration holding this line is followed by VACUUM (pages freed earlier are rewritten)
VACUUM_AFTER = "-- vacuum-after:"


def migration_files(engine: str = "sqlite") -> list[tuple[int, str, str]]:
    """(version, name, sql) of every numbered migration of `engine`, in order.

    SQLite's are storage/migrations/NNNN_name.sql; PostgreSQL's live in storage/migrations/pg/
    (one baseline at the highest SQLite number, then the same numbering: see its README).
    """
    root = resources.files("storage.migrations")
    folder = root if engine == "sqlite" else root.joinpath(engine)
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database(abc.ABC):
    """One serialised writer (`transaction()`) and concurrent reads (`reader`), per engine."""

    #: 'sqlite' or 'postgresql'
    engine: str = ""

    def __init__(self, target: str | Path) -> None:
        self.target = str(target)
        self._lock = asyncio.Lock()
        self._after_commit: list[Callable[[], None]] = []
        #: the engine's reading connection while connected
        self._reader: Conn | None = None

    @property
    def path(self) -> str:
        """The SQLite file, or the PostgreSQL URL (kept for callers that name it)."""
        return self.target

    @property
    def display(self) -> str:
        """The target as it may be logged (a URL without its password)."""
        return redact_url(self.target)

    @abc.abstractmethod
    async def connect(self, migrate: bool = True) -> Database:
        """Open the connections and (by default) apply pending migrations."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def upgrade(self) -> list[str]:
        """Apply numbered migrations not yet recorded; returns the names applied."""

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Conn]:
        """BEGIN … COMMIT on the writer; coroutines queue on a lock, never interleave."""

    @property
    def reader(self) -> Conn:
        """Reads outside the writer's transaction (committed data)."""
        assert self._reader is not None, "database not connected"
        return self._reader

    @abc.abstractmethod
    async def checkpoint(self) -> bool:
        """Make deleted data leave the engine's logs where it can (SQLite's WAL)."""

    @abc.abstractmethod
    async def backup(
        self, target: str | Path, progress: Callable[[int, int], None] | None = None
    ) -> None:
        """A consistent copy of the whole database into the file `target`."""

    #: the engine's query for the application's tables (one name per row, in order)
    TABLES_SQL: str = ""

    async def tables(self) -> list[str]:
        """The application's tables (not the migrations' bookkeeping)."""
        return [str(r[0]) for r in await self.fetchall(self.TABLES_SQL)]

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"] or 0) if row else 0

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` after the current transaction commits (dropped on rollback)."""
        self._after_commit.append(hook)

    def notify(self, channel: str, message: str) -> None:  # noqa: B027 - SQLite: nothing
        """Inside a transaction: send `message` (one line) to every listener of `channel` on
        this database, other processes included, when the transaction commits (not at all on
        rollback). SQLite has no such thing: nothing is sent there."""

    async def listen(
        self,
        channel: str,
        on_message: Callable[[str], None],
        on_state: Callable[[bool], None],
    ) -> Subscription:
        """Call `on_message` with each message sent on `channel` by another connection (the
        ones this database's own writer sent are not delivered: its `on_commit` hooks ran).

        `on_state(True)` once messages arrive; `on_state(False)` as soon as messages may be
        missed (the connection dropped), then `on_state(True)` when listening again: what was
        sent in between is lost. On SQLite it is `on_state(True)` at once and nothing else.
        """
        on_state(True)
        return Subscription()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await fetchone(self.reader, sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await fetchall(self.reader, sql, params)


def redact_url(target: str) -> str:
    """`postgresql://user:secret@host/db` → `postgresql://user:***@host/db` (paths unchanged)."""
    scheme, sep, rest = target.partition("://")
    if not sep or "@" not in rest:
        return target
    creds, _, host = rest.rpartition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


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

    `path >= '/1/5/' AND path < '/1/50'` ('0' follows '/'): an index on orgs(path) serves it
    (PostgreSQL's path column compares bytes, COLLATE "C", as SQLite does).
    """
    return path, path[:-1] + "0"


#: what a redacted personal string becomes (one character: a redaction never lengthens a text)
REDACTED = "…"


def redacted(column: str, needles: Sequence[str]) -> tuple[str, str, list[str]]:
    """(expression, condition, params) replacing every needle in `column` with REDACTED.

    The expression's params come first, then the condition's (`instr` on each needle; the
    PostgreSQL schema defines an `instr` of its own).
    """
    expr = column
    for _ in needles:
        expr = f"replace({expr}, ?, '{REDACTED}')"
    cond = " OR ".join(f"instr({column}, ?) > 0" for _ in needles) or "1 = 0"
    return expr, f"({cond})", [*needles, *needles]


async def fetchone(conn: Conn, sql: str, params: Sequence[Any] = ()) -> Row | None:
    """First row or None, in one hop to the connection."""
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def fetchall(conn: Conn, sql: str, params: Iterable[Any] = ()) -> list[Row]:
    """All rows, in one hop to the connection."""
    return list(await conn.execute_fetchall(sql, tuple(params)))


M = TypeVar("M", bound=BaseModel)


async def one_of(conn: Conn, model: type[M], sql: str, params: Sequence[Any] = ()) -> M | None:
    """The first row as a `model`, or None."""
    row = await fetchone(conn, sql, params)
    return model.model_validate(dict(row)) if row else None


async def all_of(conn: Conn, model: type[M], sql: str, params: Iterable[Any] = ()) -> list[M]:
    """Every row as a `model`."""
    return [model.model_validate(dict(r)) for r in await fetchall(conn, sql, params)]


def model_from(row: Any, model: type[M], prefix: str = "", **renamed: str) -> M:
    """A `model` made of one row's columns named `prefix` + field (or as `renamed`), for rows
    that join several models under prefixed column names."""
    return model.model_validate(
        {name: row[renamed.get(name, prefix + name)] for name in model.model_fields}
    )


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


async def insert_returning_id(conn: Conn, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one INSERT (written without RETURNING) and give the new row's `id`.

    `RETURNING id` works on both engines (SQLite ≥ 3.35), where `lastrowid` is SQLite's alone.
    """
    row = await fetchone(conn, sql + " RETURNING id", params)
    assert row is not None, "INSERT … RETURNING gave no row"
    return int(row[0])
