"""Keeping activity card copies live in the chats: coalesced, paced edits through Telegram.

The domain marks an activity in its `CardCopies` after a change commits; the `CardEditor`
hears of it and edits the copies: at most one edit per copy every `COPY_INTERVAL` seconds and
at most `GROUP_EDITS` edits per group per minute, whatever the rate of presses. It runs on one
APScheduler timer (`attach_timer`), started once the application runs (`start_cards`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol, cast

from telegram import Bot
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.domain.activities import Activities
from bot.domain.models_activities import Activity, Card
from bot.domain.outbox import Outbox
from bot.gateway.errors import classify
from bot.gateway.markup import markup_of
from bot.gateway.pacing import ChatPace, GroupLimit

log = logging.getLogger(__name__)

CARDS_JOB = "activities:cards"


@dataclass(frozen=True)
class EditOutcome:
    """What one edit came to: shown, the copy is gone for good, or try again after `wait`."""

    kind: Literal["ok", "gone", "retry"]
    wait: float = 0.0


EditFn = Callable[[int, int, str, "dict[str, Any] | None"], Awaitable[EditOutcome]]


class CardEditor:
    """Coalesces card edits: a burst of presses becomes one edit per copy per interval.

    A mark in the activities' `CardCopies` asks for the activity's copies to be refreshed; the
    editor arms `schedule(delay)` (one timer) and runs `flush(edit)` when it fires.
    """

    COPY_INTERVAL = 2.0  # seconds between two edits of one copy
    FIRST_DELAY = 0.5  # a fresh change waits this long for company
    GROUP_EDITS = 20  # edits per group chat in any GROUP_WINDOW seconds
    GROUP_WINDOW = 60.0
    UNSENT_RETRY = 1.0  # a copy still in the outbox is looked at again after this
    #: edits per second over all copies: Telegram allows about 30 messages a second overall
    #: (and the outbox sends too), so a card in 200 chats is redrawn in rounds, not at once
    EDITS_PER_SECOND = 20.0

    def __init__(self, service: Activities) -> None:
        self.service = service
        self.copies = service.cards
        self.schedule: Callable[[float], None] | None = None  # set by attach()
        self.edits = 0
        self._last_edit: dict[int, float] = {}
        self._chats: dict[int, ChatPace] = {}
        self._armed_at: float | None = None
        self._flushing = False
        self._tokens = self.EDITS_PER_SECOND  # the overall budget (a token bucket)
        self._tokens_at = time.monotonic()
        self.copies.listener = self._marked

    def _marked(self) -> None:
        self._arm(self.FIRST_DELAY)

    def attach(self, schedule: Callable[[float], None]) -> None:
        """The timer: `schedule(delay)` runs `flush` after `delay` seconds."""
        self.schedule = schedule
        self._armed_at = None
        if self.copies.dirty:
            self._arm(self.FIRST_DELAY)

    def _arm(self, delay: float) -> None:
        if self._flushing or self.schedule is None:
            return  # the running flush re-arms when it ends; no timer yet: attach() arms
        at = time.monotonic() + delay
        if self._armed_at is not None and self._armed_at <= at + 0.01:
            return
        self._armed_at = at
        self.schedule(delay)

    def _pace(self, chat_id: int) -> ChatPace:
        pace = self._chats.get(chat_id)
        if pace is None:
            limit = GroupLimit(most=self.GROUP_EDITS, window=self.GROUP_WINDOW, slack=0.1)
            pace = self._chats[chat_id] = ChatPace(chat_id, limit)
        return pace

    def _ready_at(self, card: Card, now: float) -> float:
        after = self._last_edit.get(card.id, float("-inf")) + self.COPY_INTERVAL
        return self._pace(card.chat_id).next_start(now, after)

    async def flush(self, edit: EditFn) -> None:
        """Edit every stale copy the limits allow now; re-arm for the rest."""
        if self._flushing:
            return
        self._armed_at = None
        self._flushing = True
        next_at: float | None = None
        try:
            ids = self.copies.take()
            if not ids:
                return
            still: set[int] = set()
            try:
                next_at = await self._flush(ids, edit, still)
            except Exception:
                log.exception("card editor: flush failed")
                still.update(ids)
                next_at = time.monotonic() + self.COPY_INTERVAL
            self.copies.keep(still)
        finally:
            self._flushing = False
        if self.copies.dirty:
            delay = self.FIRST_DELAY if next_at is None else max(0.05, next_at - time.monotonic())
            self._arm(delay)

    async def _flush(self, ids: list[int], edit: EditFn, still: set[int]) -> float | None:
        await self.copies.resolve(ids)
        now = time.monotonic()
        next_at: float | None = None
        per_chat: dict[int, list[tuple[Card, Activity]]] = {}
        versions: dict[int, Activity] = {}
        ready: list[tuple[Card, Activity]] = []
        for card, activity in await self.copies.stale(ids):
            versions[activity.id] = activity
            still.add(activity.id)
            if card.message_id is None:
                at = now + self.UNSENT_RETRY
            else:
                at = self._ready_at(card, now)
                if at <= now:
                    ready.append((card, activity))
                    continue
            next_at = at if next_at is None else min(next_at, at)
        # the overall budget goes to the copies waiting longest (round robin over many chats)
        ready.sort(key=lambda job: self._last_edit.get(job[0].id, float("-inf")))
        self._tokens = min(
            self.EDITS_PER_SECOND, self._tokens + (now - self._tokens_at) * self.EDITS_PER_SECOND
        )
        self._tokens_at = now
        take = min(len(ready), int(self._tokens))
        self._tokens -= take
        for card, activity in ready[:take]:  # reserve the slots before awaiting anything
            self._last_edit[card.id] = now
            self._pace(card.chat_id).started(now)
            per_chat.setdefault(card.chat_id, []).append((card, activity))
        if take < len(ready):  # the rest once half a second's budget has refilled
            at = now + max(0.5, (1 - self._tokens) / self.EDITS_PER_SECOND)
            next_at = at if next_at is None else min(next_at, at)

        shown: list[tuple[int, int]] = []
        gone: list[int] = []
        rendered: dict[int, tuple[str, dict[str, Any] | None]] = {}

        async def run_chat(chat_id: int, jobs: list[tuple[Card, Activity]]) -> None:
            """One chat's edits, one after another."""
            nonlocal next_at
            for card, activity in jobs:
                if activity.id not in rendered:
                    rendered[activity.id] = (
                        self.service.card_text(activity),
                        self.service.card_markup(activity),
                    )
                text, markup = rendered[activity.id]
                assert card.message_id is not None
                outcome = await edit(chat_id, card.message_id, text, markup)
                if outcome.kind == "ok":
                    self.edits += 1
                    shown.append((card.id, activity.version))
                elif outcome.kind == "gone":
                    gone.append(card.id)
                else:
                    at = time.monotonic() + max(outcome.wait, 0.5)
                    self._pace(chat_id).pause_until = at
                    next_at = at if next_at is None else min(next_at, at)

        await asyncio.gather(*(run_chat(c, jobs) for c, jobs in per_chat.items()))
        await self.copies.record(shown, gone)
        # an activity stays marked while any copy is behind (re-checked against the database)
        done = {card_id for card_id, _ in shown} | set(gone)
        for activity_id in list(still):
            if not await self.copies.behind(versions[activity_id], done):
                still.discard(activity_id)
        return next_at


async def edit_card(
    bot: Bot,
    outbox: Outbox,
    chat_id: int,
    message_id: int,
    text: str,
    markup: dict[str, Any] | None,
) -> EditOutcome:
    """One card edit, with Telegram's answer mapped to what the editor does next."""
    try:
        await bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=markup_of(markup, bot)
        )
    except TelegramError as exc:
        failure = classify(exc)
        if failure.kind == "flood":
            return EditOutcome("retry", failure.wait)
        if failure.kind == "migrated":
            assert failure.new_chat_id is not None
            await outbox.on_migrated(chat_id, failure.new_chat_id)
            return EditOutcome("retry", 1.0)
        if failure.kind == "not_modified":
            return EditOutcome("ok")
        if failure.kind == "forbidden":
            return EditOutcome("gone")
        if failure.gone:  # any other 400: the message was deleted, or is no longer ours
            log.info("card %s/%s cannot be edited: %s", chat_id, message_id, failure.message)
            return EditOutcome("gone")
        # network trouble, 5xx: try again a little later
        log.warning("card %s/%s edit failed: %r", chat_id, message_id, exc)
        return EditOutcome("retry", 2.0)
    return EditOutcome("ok")


class _Services(Protocol):
    """What the card timer needs of the application's services (`bot.context.Services`)."""

    activities: Activities
    outbox: Outbox


async def flush_cards(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The card timer fired: edit what the limits allow, the editor re-arms for the rest."""
    services: _Services | None = context.application.bot_data.get("services")
    if services is None or context.job is None:
        return
    editor = cast(CardEditor, context.job.data)
    await editor.flush(partial(edit_card, context.bot, services.outbox))


def attach_timer(app: Application, editor: CardEditor) -> None:
    """Give the editor its one APScheduler timer."""

    def schedule(delay: float) -> None:
        """Replace the pending timer with one firing after `delay` seconds."""
        assert app.job_queue is not None
        for job in app.job_queue.get_jobs_by_name(CARDS_JOB):
            job.schedule_removal()
        app.job_queue.run_once(
            flush_cards,
            when=max(0.0, delay),
            name=CARDS_JOB,
            data=editor,
            job_kwargs={"misfire_grace_time": None},
        )

    editor.attach(schedule)


async def start_cards(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Once the application runs: start the card editor and refresh copies left stale."""
    services: _Services | None = context.application.bot_data.get("services")
    if services is None:
        return
    editor = CardEditor(services.activities)
    attach_timer(context.application, editor)
    await services.activities.cards.restore()
