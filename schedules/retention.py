"""Nightly (04:00 local): sent messages older than TOWERBOT_RETENTION_DAYS lose their payload."""

from __future__ import annotations

import logging
from datetime import time

from telegram.ext import Application, ContextTypes

from bot.context import services_of
from schedules.common import restore_daily

log = logging.getLogger(__name__)
JOB_NAME = "retention:nightly"
AT = time(4, 0)


async def nightly(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Drop expired payloads (the WAL is checkpointed after, so backups hold none)."""
    dropped = await services_of(context.application).privacy.expire()
    log.info("retention: %s payloads dropped", dropped)


async def restore(app: Application) -> None:
    """Register the daily job (stable name, local time)."""
    await restore_daily(app, JOB_NAME, AT, nightly)
