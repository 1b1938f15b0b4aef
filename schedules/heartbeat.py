"""Every 15 s, save the newest update handled, for `towerbot status` in another process."""

from __future__ import annotations

from telegram.ext import Application, ContextTypes

from bot import status
from bot.context import services_of

JOB_NAME = "heartbeat"


async def beat(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context.application)
    await status.heartbeat(services.db, services.last_update, services.clock.time())


async def restore(app: Application) -> None:
    assert app.job_queue is not None  # the job-queue extra is a dependency
    app.job_queue.run_repeating(
        beat,
        interval=15,
        first=15,
        name=JOB_NAME,
        job_kwargs={"misfire_grace_time": None, "coalesce": True},
    )
