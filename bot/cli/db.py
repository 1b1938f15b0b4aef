"""`towerbot db upgrade | copy`, `towerbot backup | status`: database maintenance."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli.common import CliError, open_db
from bot.settings import Settings


async def db_upgrade(settings: Settings) -> int:
    """Apply the schema migrations and print the version reached."""
    db = await open_db(settings)
    try:
        print(f"{db.display}: schema version {await db.schema_version()}")
    finally:
        await db.close()
    return 0


async def backup(settings: Settings, file: str) -> int:
    """SQLite online backup to `file`, with a progress bar on a terminal; on PostgreSQL a
    `pg_dump -Fc` archive (restore it with `pg_restore`)."""
    from tqdm import tqdm

    db = await open_db(settings)
    try:
        with tqdm(total=1, unit="page", disable=None, desc="backup") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                await db.backup(file, progress)
            except RuntimeError as exc:  # pg_dump missing or failing
                raise CliError(str(exc)) from None
    finally:
        await db.close()
    print(f"backed up {db.display} to {file}")
    return 0


async def status(settings: Settings) -> int:
    """Outbox backlog, scheduled jobs and the last update received, as JSON."""
    from bot.status import collect

    db = await open_db(settings)
    try:
        print(json.dumps(await collect(db), ensure_ascii=False, indent=2))
    finally:
        await db.close()
    return 0


async def copy(source: str, target: str) -> int:
    """Copy every table of the SQLite file `source` into the empty PostgreSQL database at
    `target` (migrated first), with a progress bar on stderr; exit 1 if row counts differ."""
    import sys

    from tqdm import tqdm

    from storage.copy import CopyError, copy_database
    from storage.db import (
        DatabaseLocked,
        DatabaseUnavailable,
        engine_of,
        open_database,
        redact_url,
    )
    from storage.postgres import PostgresDatabase
    from storage.sqlite import SqliteDatabase

    if engine_of(source) != "sqlite" or engine_of(target) != "postgresql":
        raise CliError("usage: towerbot db copy SQLITE_FILE postgresql://user@host/db")
    if not Path(source).is_file():
        raise CliError(f"{source}: no such file")
    try:
        src = await open_database(source).connect(migrate=False)
    except DatabaseLocked as exc:
        raise CliError(str(exc)) from None
    try:
        dst = await open_database(target).connect()
    except DatabaseUnavailable as exc:
        await src.close()
        raise CliError(str(exc)) from None
    except Exception:
        await src.close()
        raise
    assert isinstance(src, SqliteDatabase) and isinstance(dst, PostgresDatabase)
    try:
        with tqdm(total=1, unit="row", desc="copy", file=sys.stderr, disable=None) as bar:

            def progress(table: str, done: int, total: int) -> None:
                bar.total = total
                bar.set_postfix_str(table, refresh=False)
                bar.n = done
                bar.refresh()

            copied = await copy_database(src, dst, progress)
    except CopyError as exc:
        print(f"towerbot: copy failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await src.close()
        await dst.close()
    for table, n in copied.items():
        print(f"{table}: {n}")
    print(f"copied {sum(copied.values())} rows from {source} to {redact_url(target)}")
    return 0
