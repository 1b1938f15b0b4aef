"""What handlers and schedules import: the typed services and PTB context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackContext

from bot.domain.access import Access
from bot.domain.activities import Activities
from bot.domain.announcements import Announcements, DigestBudget
from bot.domain.audit import Audit
from bot.domain.cadres import Cadres
from bot.domain.campaigns import Campaigns
from bot.domain.clock import Clock
from bot.domain.flood import FloodGuard
from bot.domain.hours import Hours
from bot.domain.minors import Minors
from bot.domain.outbox import Outbox
from bot.domain.people import People, Profile
from bot.domain.privacy import Privacy
from bot.domain.reminders import Reminders
from bot.domain.requests import Requests
from bot.domain.roster import Roster
from bot.domain.stats import Stats
from bot.domain.tower import OrgView, Tower
from bot.domain.welcome import Welcomes
from bot.settings import Settings
from storage.db import Database

if TYPE_CHECKING:
    from bot.gateway.leader import SenderLeader
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
    minors: Minors
    hours: Hours
    activities: Activities
    campaigns: Campaigns
    digest: DigestBudget
    announcements: Announcements
    stats: Stats
    audit: Audit
    privacy: Privacy
    welcomes: Welcomes
    roster: Roster
    requests: Requests
    cadres: Cadres
    sender: Sender | None = None
    #: runs `sender` while this instance holds the 'sender' lease (one sender per database)
    leader: SenderLeader | None = None
    #: (update id, time) of the newest update handled; saved for `towerbot status`
    last_update: tuple[int, float] | None = None
    #: background tasks handlers keep a reference to (e.g. on-demand audits)
    extra: dict[str, Any] = field(default_factory=dict)


class Context(CallbackContext):
    """PTB's context with typed access to our services, hooks and the person's language."""

    lang: str = "zh"

    @property
    def services(self) -> Services:
        return self.bot_data["services"]

    @property
    def hooks(self) -> Hooks:
        return self.bot_data["hooks"]


def services_of(app: Application) -> Services:
    return app.bot_data["services"]


# --- hooks features register with each other ------------------------------------------------
# They live here, beside Context, because the hook signatures name Context: a registry module
# under handlers/ would have to import this one, and this one it (a cycle).

#: a guided flow's step: the person's private message while the flow named in `flows` is on
FlowHandler = Callable[[Update, Context], Awaitable[None]]
#: `/start <prefix>_<rest>`: called with `rest`
DeepLinkHandler = Callable[[Update, Context, str], Awaitable[None]]
#: a part of /me; None adds nothing
MeSection = Callable[[Update, Context, Profile], Awaitable[str | None]]
#: anonymise a feature's records of one user on /forgetme
ForgetHook = Callable[[Context, int], Awaitable[None]]
#: `/export <kind> <args...>`
ExportHandler = Callable[[Update, Context, list[str]], Awaitable[None]]
#: run after /org has answered (e.g. the coverage audit)
OrgHook = Callable[[Update, Context, OrgView], Awaitable[None]]


@dataclass
class Hooks:
    """What features register for each other, one object per Application (`hooks_of(app)`).

    Built by the composition root and filled by each feature's `register_handlers(app, hooks)`,
    so two applications in one process (tests build many) never share a hook.
    """

    flows: dict[str, FlowHandler] = field(default_factory=dict)
    deep_links: dict[str, DeepLinkHandler] = field(default_factory=dict)
    me_sections: list[MeSection] = field(default_factory=list)
    forget_hooks: list[ForgetHook] = field(default_factory=list)
    #: (text key, the least role that sees it: member | secretary | staff)
    help_sections: list[tuple[str, str]] = field(default_factory=list)
    exports: dict[str, ExportHandler] = field(default_factory=dict)
    org_hooks: list[OrgHook] = field(default_factory=list)
    #: a private message while no guided flow is on (handlers/guide.py answers it)
    idle: FlowHandler | None = None

    def add_flow(self, name: str, handler: FlowHandler) -> None:
        """The handler of the guided flow stored under `name` in the flows table."""
        _add_new(self.flows, name, handler, "flow")

    def add_deep_link(self, prefix: str, handler: DeepLinkHandler) -> None:
        """The handler of `/start <prefix>_<rest>`."""
        _add_new(self.deep_links, prefix, handler, "deep link")

    def add_me_section(self, section: MeSection) -> None:
        """A part of /me, shown after the ones added before it."""
        self.me_sections.append(section)

    def add_forget_hook(self, hook: ForgetHook) -> None:
        """Run on /forgetme before the person's records are erased (bot/domain/privacy.py)."""
        self.forget_hooks.append(hook)

    def add_help_section(self, key: str, least_role: str) -> None:
        """A /help paragraph for people with at least `least_role`."""
        self.help_sections.append((key, least_role))

    def add_export(self, kind: str, handler: ExportHandler) -> None:
        """The handler of `/export <kind>`."""
        _add_new(self.exports, kind, handler, "export")

    def set_idle(self, handler: FlowHandler) -> None:
        """The answer to a private message outside any guided flow (one per application)."""
        if self.idle is not None:
            raise ValueError("the idle handler is registered twice")
        self.idle = handler

    def add_org_hook(self, hook: OrgHook) -> None:
        """Run after /org has answered."""
        self.org_hooks.append(hook)


def _add_new(table: dict[str, Any], key: str, value: object, what: str) -> None:
    """Add `key`, refusing a second registration (two features would fight over it)."""
    if key in table:
        raise ValueError(f"{what} {key!r} is registered twice")
    table[key] = value


def hooks_of(app: Application) -> Hooks:
    return app.bot_data["hooks"]
