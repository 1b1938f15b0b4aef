"""One APScheduler timer, always set on the earliest pending reminder in the database.

The timer is re-armed in `finally`: whatever a tick meets (a failing handler, a failing
transaction, a failing read), no pending row is left without a timer. After a tick that failed
the next one waits at least `RETRY_DELAY`, so a broken database is not hammered.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram.ext import Application, ContextTypes

from bot.context import services_of

log = logging.getLogger(__name__)
JOB_NAME = "reminders:tick"
MAX_SLEEP = 3600.0  # re-read the database at least hourly
RETRY_DELAY = 30.0  # after a tick that failed (or left rows it could not mark)


async def _fire(app: Application, when: str) -> bool:
    """Fire what is due; True if everything due was settled (fired, missed or failed)."""
    try:
        result = await services_of(app).reminders.fire_due()
    except Exception:
        log.exception("%s: firing reminders failed", when)
        return False
    if result.fired or result.missed or result.failed:
        log.info(
            "%s: reminders fired=%s missed=%s failed=%s",
            when,
            result.fired,
            result.missed,
            result.failed,
        )
    return not result.stuck


async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Fire what is due, then (always) set the timer for the next one."""
    settled = False
    try:
        settled = await _fire(context.application, "tick")
    finally:
        await arm(context.application, min_delay=0.0 if settled else RETRY_DELAY)


async def arm(app: Application, min_delay: float = 0.0) -> None:
    """(Re)set the single timer to the earliest pending reminder (at least `min_delay` away)."""
    services = services_of(app)
    try:
        next_due = await services.reminders.next_due()
        delay = MAX_SLEEP if next_due is None else max(0.0, next_due - services.clock.time())
    except Exception:  # cannot read: look again soon rather than never
        log.exception("reminders: reading the next due time failed")
        delay = RETRY_DELAY
    assert app.job_queue is not None  # the job-queue extra is a dependency
    for job in app.job_queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    delay = min(max(delay, min_delay), MAX_SLEEP)
    app.job_queue.run_once(
        tick, when=timedelta(seconds=delay), name=JOB_NAME, job_kwargs={"misfire_grace_time": None}
    )


async def restore(app: Application) -> None:
    """At start-up: fire what came due while the bot was down (or record it missed), then arm."""
    services = services_of(app)
    settled = await _fire(app, "start-up")

    pending: set[asyncio.Task[None]] = set()

    def changed() -> None:
        if pending:  # an arm() is already on its way and will read the newest rows
            return
        task = asyncio.get_running_loop().create_task(arm(app))
        pending.add(task)
        task.add_done_callback(pending.discard)

    services.reminders.changed = changed
    await arm(app, min_delay=0.0 if settled else RETRY_DELAY)
