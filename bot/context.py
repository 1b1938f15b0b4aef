"""What handlers and schedules import: the typed services and PTB context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext

from bot.domain.access import Access
from bot.domain.activities import Activities
from bot.domain.announcements import Announcements, DigestBudget
from bot.domain.audit import Audit
from bot.domain.campaigns import Campaigns
from bot.domain.clock import Clock
from bot.domain.flood import FloodGuard
from bot.domain.hours import Hours
from bot.domain.outbox import Outbox
from bot.domain.people import People
from bot.domain.reminders import Reminders
from bot.domain.stats import Stats
from bot.domain.tower import Tower
from bot.settings import Settings
from storage.db import Database

if TYPE_CHECKING:
    from bot.gateway.sender import Sender


@dataclass
class Services:
    """Everything handlers and jobs reach, built once in `build_services`."""

    settings: Settings
    db: Database
    clock: Clock
    access: Access
    flood: FloodGuard
    outbox: Outbox
    reminders: Reminders
    tower: Tower
    people: People
    hours: Hours
    activities: Activities
    campaigns: Campaigns
    digest: DigestBudget
    announcements: Announcements
    stats: Stats
    audit: Audit
    sender: Sender | None = None
    #: (update id, time) of the newest update handled; saved for `towerbot status`
    last_update: tuple[int, float] | None = None
    #: background tasks handlers keep a reference to (e.g. on-demand audits)
    extra: dict[str, Any] = field(default_factory=dict)


class Context(CallbackContext):  # type: ignore[type-arg]
    """PTB's context with typed access to our services and the person's language."""

    lang: str = "zh"

    @property
    def services(self) -> Services:
        return self.bot_data["services"]


def services_of(app: Application) -> Services:
    return app.bot_data["services"]
