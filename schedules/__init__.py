"""APScheduler timers. Each family rebuilds its jobs from the database in `restore`."""

from __future__ import annotations

from telegram.ext import Application


async def restore(app: Application) -> None:
    """Rebuild every timer family's jobs from the database (the only truth of what is due)."""
    from schedules import heartbeat, reminders

    await reminders.restore(app)
    await heartbeat.restore(app)
    from schedules import hours

    await hours.restore(app)
    from schedules import audit

    await audit.restore(app)
