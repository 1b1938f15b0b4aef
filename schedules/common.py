"""What the nightly timer families share: one daily job, re-registered under a stable name."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import time
from typing import Any

from telegram.ext import Application, ContextTypes

from bot.context import services_of

Nightly = Callable[[ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


async def restore_daily(app: Application, name: str, at: time, callback: Nightly) -> None:
    """Register `callback` daily at `at` (local time), replacing any job already named `name`."""
    tz = services_of(app).settings.tz
    assert app.job_queue is not None  # the job-queue extra is a dependency
    for job in app.job_queue.get_jobs_by_name(name):
        job.schedule_removal()
    app.job_queue.run_daily(
        callback,
        time=at.replace(tzinfo=tz),
        name=name,
        job_kwargs={"misfire_grace_time": 3600, "coalesce": True},
    )
