"""What every CLI command shares: the operator-facing error and opening the database."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings


class CliError(Exception):
    """A one-line problem for the operator; exit status 2."""


async def open_db(settings: Settings) -> Any:
    """Open (and migrate) the database; a lock held elsewhere becomes a CliError."""
    from storage.db import DatabaseLocked, DatabaseUnavailable, open_database

    try:
        return await open_database(settings.db).connect()
    except (DatabaseLocked, DatabaseUnavailable) as exc:
        raise CliError(str(exc)) from None
