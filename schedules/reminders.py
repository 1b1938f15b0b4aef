"""One APScheduler timer, always set on the earliest pending reminder in the database."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram.ext import Application, ContextTypes

from bot.context import services_of

log = logging.getLogger(__name__)
JOB_NAME = "reminders:tick"
MAX_SLEEP = 3600.0  # re-read the database at least hourly


async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Fire what is due, then set the timer for the next one."""
    services = services_of(context.application)
    result = await services.reminders.fire_due()
    if result.fired or result.missed:
        log.info("reminders fired=%s missed=%s", result.fired, result.missed)
    await arm(context.application)


async def arm(app: Application) -> None:
    """(Re)set the single timer to the earliest pending reminder."""
    services = services_of(app)
    next_due = await services.reminders.next_due()
    assert app.job_queue is not None  # the job-queue extra is a dependency
    for job in app.job_queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    delay = MAX_SLEEP if next_due is None else max(0.0, next_due - services.clock.time())
    app.job_queue.run_once(tick, when=timedelta(seconds=min(delay, MAX_SLEEP)), name=JOB_NAME,
                           job_kwargs={"misfire_grace_time": None})


async def restore(app: Application) -> None:
    """At start-up: fire what came due while the bot was down (or record it missed), then arm."""
    services = services_of(app)
    result = await services.reminders.fire_due()
    if result.fired or result.missed:
        log.info("start-up: reminders fired=%s missed=%s", result.fired, result.missed)

    pending: set[asyncio.Task[None]] = set()

    def changed() -> None:
        if pending:  # an arm() is already on its way and will read the newest rows
            return
        task = asyncio.get_running_loop().create_task(arm(app))
        pending.add(task)
        task.add_done_callback(pending.discard)

    services.reminders.changed = changed
    await arm(app)
