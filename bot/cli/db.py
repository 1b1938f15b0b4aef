"""`towerbot db upgrade | backup | status`: database maintenance."""

from __future__ import annotations

import json

from bot.cli.common import open_db
from bot.settings import Settings


async def db_upgrade(settings: Settings) -> int:
    """Apply the schema migrations and print the version reached."""
    db = await open_db(settings)
    try:
        print(f"{settings.db}: schema version {await db.schema_version()}")
    finally:
        await db.close()
    return 0


async def backup(settings: Settings, file: str) -> int:
    """SQLite online backup to `file`, with a progress bar on a terminal."""
    from tqdm import tqdm

    db = await open_db(settings)
    try:
        with tqdm(total=1, unit="page", disable=None, desc="backup") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            await db.backup(file, progress)
    finally:
        await db.close()
    print(f"backed up {settings.db} to {file}")
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
