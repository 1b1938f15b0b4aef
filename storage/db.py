"""The database: `open_database(TOWERBOT_DB)` picks the engine, the rest is shared.

`TOWERBOT_DB` is a SQLite file path (the default, storage/sqlite.py) or a `postgresql://` URL
(storage/postgres.py). Repositories import what they need from here: the `Conn` API they
write against, and the helpers in storage/base.py.
"""

from __future__ import annotations

from pathlib import Path

from storage.base import (
    REDACTED,
    Conn,
    Cursor,
    Database,
    DatabaseLocked,
    DatabaseUnavailable,
    Row,
    Subscription,
    all_of,
    changed,
    fetchall,
    fetchone,
    insert_once,
    insert_returning_id,
    migration_files,
    model_from,
    one_of,
    redact_url,
    redacted,
    savepoint,
    subtree_range,
)

__all__ = [
    "REDACTED",
    "Conn",
    "Cursor",
    "Database",
    "DatabaseLocked",
    "DatabaseUnavailable",
    "Row",
    "Subscription",
    "all_of",
    "changed",
    "engine_of",
    "fetchall",
    "fetchone",
    "insert_once",
    "insert_returning_id",
    "migration_files",
    "model_from",
    "one_of",
    "open_database",
    "redact_url",
    "redacted",
    "savepoint",
    "subtree_range",
]


def engine_of(target: str | Path) -> str:
    """'postgresql' for a postgresql:// (or postgres://) URL, else 'sqlite' (a file path)."""
    text = str(target)
    return "postgresql" if text.startswith(("postgresql://", "postgres://")) else "sqlite"


def open_database(target: str | Path) -> Database:
    """The (not yet connected) database at `target`: `await open_database(x).connect()`."""
    if engine_of(target) == "postgresql":
        from storage.postgres import PostgresDatabase

        return PostgresDatabase(str(target))
    from storage.sqlite import SqliteDatabase

    return SqliteDatabase(target)
