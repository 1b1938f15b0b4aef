"""What `towerbot status` reports: outbox backlog, scheduled items, last update received."""

from __future__ import annotations

from typing import Any

from storage import status as status_repo
from storage.db import Database


async def collect(db: Database) -> dict[str, Any]:
    return await status_repo.collect(db.reader)
