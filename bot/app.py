"""The one composition root: builds the Application and the services it runs on."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot.concurrency import PerChatUpdateProcessor
from bot.context import (  # noqa: F401  (Services, services_of re-exported for CLI, demo, tests)
    Context,
    Hooks,
    Services,
    services_of,
)
from bot.domain.access import Access
from bot.domain.activities import Activities
from bot.domain.announcements import Announcements, DigestBudget
from bot.domain.audit import Audit
from bot.domain.cache import follow
from bot.domain.cadres import Cadres
from bot.domain.campaigns import Campaigns
from bot.domain.clock import Clock
from bot.domain.flood import FloodGuard
from bot.domain.hours import Hours
from bot.domain.instances import Instances
from bot.domain.minors import Minors
from bot.domain.outbox import Outbox
from bot.domain.people import People
from bot.domain.privacy import Privacy
from bot.domain.reminders import Reminders
from bot.domain.requests import Requests
from bot.domain.roster import Roster
from bot.domain.service import Core
from bot.domain.stats import Stats
from bot.domain.tower import Tower
from bot.domain.welcome import Welcomes
from bot.gateway.leader import SenderLeader
from bot.gateway.menu import publish_menus
from bot.gateway.sender import Sender
from bot.settings import Settings
from storage.db import Database, open_database

log = logging.getLogger(__name__)

#: the cyclic collector's first threshold while the bot runs (Python's default is 700 new
#: objects). A burst of presses keeps thousands of update tasks alive at once, each holding
#: PTB objects; at 700 the collector ran every few presses and rescanned the survivors, about
#: 40 % of a sign-up storm's time (bench/signup_storm.py, bench/big_event.py). Up to this many
#: unreachable objects may now wait for a collection (a few MB).
GC_YOUNG = 50_000
#: young collections per middle one, middle per full one (Python's default: 10, 10)
GC_OLDER = 20


def tune_collector() -> None:
    """Set the collector's thresholds for a server under bursts (GC_YOUNG); idempotent."""
    young, older, oldest = gc.get_threshold()
    if young < GC_YOUNG:
        gc.set_threshold(GC_YOUNG, max(older, GC_OLDER), max(oldest, GC_OLDER))


def build_services(settings: Settings, db: Database, clock: Clock) -> Services:
    """Wire the domain services; features that own reminders register their handlers here."""
    access = Access(db, settings.superusers)
    outbox = Outbox(db, clock)
    reminders = Reminders(db, clock)
    people = People(db, access, clock, default_lang=settings.language)
    core = Core(db, access, outbox, reminders, clock, settings)
    hours = Hours(core, people.lang)
    # quiet by design: a group's messages over its daily budget wait for the evening digest
    digest = DigestBudget(settings, clock, reminders, outbox)
    outbox.budget = digest
    return Services(
        settings=settings,
        db=db,
        clock=clock,
        access=access,
        flood=FloodGuard(settings.flood_limit, settings.flood_window),
        outbox=outbox,
        reminders=reminders,
        tower=Tower(db, access, clock),
        people=people,
        # under 14: guardian links and paper consents; the minor is told through the outbox
        minors=Minors(db, access, clock, outbox, people),
        hours=hours,
        # /close credits attendance through hours; 'activity' reminders
        activities=Activities(core, hours=hours),
        # 'campaign' reminders: the ladder, the board at the due time, the escalation
        campaigns=Campaigns(core, people.lang),
        digest=digest,
        announcements=Announcements(core),
        stats=Stats(core),
        audit=Audit(core, people.lang),
        privacy=Privacy(db, access, clock, settings.retention_days),
        # one welcome per group per window, through the outbox and the daily budget
        welcomes=Welcomes(core),
        roster=Roster(db, clock),
        # requests upward (请示报告): 'request' reminders to the staff of the org above
        requests=Requests(core, people.lang),
        # posts, holders and terms; 'cadre_term' reminders before a term ends
        cadres=Cadres(core, people.lang),
    )


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    clock: Clock | None = None,
    token: str | None = None,
) -> Application:
    """Build the PTB Application with handlers registered; services start in `startup`."""
    from handlers import register

    tok = token or (settings.token.get_secret_value() if settings.token else None)
    if not tok:
        raise ValueError("a bot token is required")
    builder = (
        ApplicationBuilder()
        .token(tok)
        .context_types(ContextTypes(context=Context))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz))
        .concurrent_updates(PerChatUpdateProcessor(settings.concurrency))
        .post_init(startup)
        .post_shutdown(shutdown)
    )
    if settings.api_base_url:
        builder = builder.base_url(settings.api_base_url)
    if request is not None:
        builder = builder.request(request)
    elif settings.proxy:  # PTB's httpx client: for networks that reach Telegram only this way
        builder = builder.proxy(settings.proxy)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    elif settings.proxy:
        builder = builder.get_updates_proxy(settings.proxy)
    app = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data["clock"] = clock or Clock()
    # one hook registry per application: features find each other's hooks through it
    hooks = Hooks()
    app.bot_data["hooks"] = hooks
    register(app, hooks)
    return app


async def startup(app: Application) -> None:
    """Open the database (migrating it), build services, start the sender, restore timers."""
    if "services" in app.bot_data:
        return
    settings: Settings = app.bot_data["settings"]
    clock: Clock = app.bot_data["clock"]
    tune_collector()
    db = await open_database(settings.db).connect()
    # PostgreSQL: other instances' writes invalidate this one's cache (closed with the db)
    await follow(db)
    services = build_services(settings, db, clock)
    app.bot_data["services"] = services
    services.campaigns.bot_username = app.bot.username or ""
    services.welcomes.bot_username = app.bot.username or ""
    services.sender = Sender(app.bot, services.outbox, db, clock, settings.rate)
    mode = "webhook" if settings.webhook_url else "polling"
    services.leader = SenderLeader(
        services.sender, Instances(db, mode=mode, ttl=settings.lease_seconds)
    )
    await services.leader.start()
    try:  # the "/" menu per scope and language; a bot without it still works
        await publish_menus(app.bot)
    except Exception as exc:  # noqa: BLE001  (never fatal: logged and start-up goes on)
        log.warning("could not publish the command menus: %r", exc)
    from schedules import restore

    await restore(app)
    log.info("started: bot @%s, database %s", app.bot.username, db.display)


async def shutdown(app: Application) -> None:
    """Stop the outbox sender and close the database."""
    services: Services | None = app.bot_data.pop("services", None)
    if services is None:
        return
    if services.leader is not None:
        await services.leader.stop()
    await services.db.close()
    log.info("stopped: outbox sender and database closed")


@asynccontextmanager
async def running(settings: Settings, **kwargs: Any) -> AsyncIterator[Application]:
    """An initialised, started Application (without polling) for tests, demo and benchmarks."""
    app = build_application(settings, **kwargs)
    await app.initialize()
    await startup(app)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        await shutdown(app)
        await app.shutdown()


ALL_UPDATES = Update.ALL_TYPES
