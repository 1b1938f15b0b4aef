"""The weekly digest of pending hour entries, privately to each approver (Mondays 09:00 local).

The outbox's dedupe key (approver + ISO week) is the record of what was sent, so the job may run
again after a restart, and runs at start-up if this week's digest time has passed: a digest is
neither sent twice nor lost while the bot was down.
"""

from __future__ import annotations

import logging
from datetime import time

from telegram.ext import Application, CallbackContext

log = logging.getLogger(__name__)

JOB_NAME = "hours:digest"
MONDAY = 1  # PTB 20+: 0 = Sunday


async def digest_job(context: CallbackContext) -> None:
    """Queue this week's digests (a no-op for approvers who already had theirs)."""
    services = context.application.bot_data["services"]
    queued = await services.hours.weekly_digest()
    log.info("hours digest: %d queued", queued)


async def restore(app: Application) -> None:
    """Register the weekly job; catch up at once if this week's time has already passed."""
    jq = app.job_queue
    if jq is None:  # pragma: no cover - the job-queue extra is a dependency
        return
    services = app.bot_data["services"]
    tz = services.settings.tz
    for job in jq.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    jq.run_daily(
        digest_job,
        time=time(9, 0, tzinfo=tz),
        days=(MONDAY,),
        name=JOB_NAME,
        job_kwargs={"misfire_grace_time": None},
    )
    if services.clock.now() >= services.hours.digest_due():
        jq.run_once(
            digest_job,
            when=1.0,
            name=JOB_NAME + ":catch-up",
            job_kwargs={"misfire_grace_time": None},
        )  # a busy start-up must not drop it
