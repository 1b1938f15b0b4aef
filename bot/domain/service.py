"""What the reminder-driven services share: the same six collaborators, held the same way."""

from __future__ import annotations

from bot.domain.access import Access
from bot.domain.clock import Clock
from bot.domain.outbox import Outbox
from bot.domain.reminders import Reminders
from bot.settings import Settings
from storage.db import Database


class ServiceBase:
    """Holds the database, access rules, outbox, reminders, clock and settings of a service.

    The subclass registers its own reminder handler (`reminders.on(KIND, ...)`) after this.
    """

    def __init__(
        self,
        db: Database,
        access: Access,
        outbox: Outbox,
        reminders: Reminders,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.db = db
        self.access = access
        self.outbox = outbox
        self.reminders = reminders
        self.clock = clock
        self.settings = settings
