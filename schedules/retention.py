"""Nightly (04:00 local): sent messages older than TOWERBOT_RETENTION_DAYS lose their payload."""

from __future__ import annotations

import logging
from datetime import time

from telegram.ext import Application, ContextTypes

from bot.context import services_of

log = logging.getLogger(__name__)
JOB_NAME = "retention:nightly"
AT = time(4, 0)


async def nightly(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Drop expired payloads (the WAL is checkpointed after, so backups hold none)."""
    dropped = await services_of(context.application).privacy.expire()
    log.info("retention: %s payloads dropped", dropped)


async def restore(app: Application) -> None:
    """Register the daily job (stable name, local time)."""
    tz = services_of(app).settings.tz
    assert app.job_queue is not None  # the job-queue extra is a dependency
    for job in app.job_queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    app.job_queue.run_daily(nightly, time=AT.replace(tzinfo=tz), name=JOB_NAME,
                            job_kwargs={"misfire_grace_time": 3600, "coalesce": True})
