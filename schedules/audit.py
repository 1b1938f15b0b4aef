"""The nightly coverage audit (03:00 local); Telegram is asked through the gateway's probe."""

from __future__ import annotations

import logging
from datetime import time

from telegram.ext import Application, ContextTypes

from bot.context import services_of
from bot.gateway.probe import BotProbe
from schedules.common import restore_daily

log = logging.getLogger(__name__)
JOB_NAME = "audit:nightly"
AT = time(3, 0)


async def nightly(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Audit every bound chat; secretaries hear of newly missing members privately."""
    services = services_of(context.application)
    results = await services.audit.nightly(BotProbe(context.bot))
    log.info(
        "coverage audit: %s chats, %s missing", len(results), sum(len(r.missing) for r in results)
    )


async def restore(app: Application) -> None:
    """Register the daily job (stable name, local time)."""
    await restore_daily(app, JOB_NAME, AT, nightly)
