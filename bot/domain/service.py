"""What the domain services share: the same six collaborators, held the same way."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.access import Access
from bot.domain.clock import Clock, fmt_when, local
from bot.domain.outbox import Outbox
from bot.domain.reminders import Reminders
from bot.settings import Settings
from bot.texts import normalise_lang
from storage.db import Database


@dataclass(frozen=True)
class Core:
    """The six collaborators the domain services are built from (one per application)."""

    db: Database
    access: Access
    outbox: Outbox
    reminders: Reminders
    clock: Clock
    settings: Settings


class ServiceBase:
    """Holds the database, access rules, outbox, reminders, clock and settings of a service.

    A reminder-driven subclass registers its own handler (`reminders.on(KIND, ...)`) after this;
    the others simply leave `reminders` unused.
    """

    def __init__(self, core: Core) -> None:
        self.db = core.db
        self.access = core.access
        self.outbox = core.outbox
        self.reminders = core.reminders
        self.clock = core.clock
        self.settings = core.settings

    def fmt(self, ts: float, lang: str | None = None) -> str:
        """A time as people read it ('12月1日（周二）18:00' / 'Tue 1 Dec, 18:00'; the year when it
        is not this one's), in the deployment's zone and `lang` (default: its language)."""
        tz = self.settings.tz
        today = local(self.clock.time(), tz).date()
        return fmt_when(ts, tz, lang or self.settings.language, today=today)

    async def lang_of_user(self, user_id: int) -> str:
        """A person's language for a private word: their /lang choice, else Telegram's, else
        the deployment's."""
        found = await self.access.identity(user_id)
        user = found.user if found else None
        if user is None:
            return self.settings.language
        return user.lang or normalise_lang(user.tg_lang) or self.settings.language
