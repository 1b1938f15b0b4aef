"""APScheduler timers. Each family rebuilds its jobs from the database in `restore`."""

from __future__ import annotations

from telegram.ext import Application


async def restore(app: Application) -> None:
    """Rebuild every timer family's jobs from the database (the only truth of what is due)."""
    from schedules import audit, heartbeat, hours, reminders, retention

    await reminders.restore(app)  # fires what came due while down (< 12 h late), then arms
    await heartbeat.restore(app)
    await hours.restore(app)  # the weekly digest for approvers
    await audit.restore(app)  # the nightly coverage audit
    await retention.restore(app)  # sent messages' payloads dropped after RETENTION_DAYS
