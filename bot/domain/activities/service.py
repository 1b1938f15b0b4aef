"""Activities: sign-up cards across the tower, capacity and waitlist, reminders, check-in,
attendance and the hours it earns.

Every decision about a place is made inside one BEGIN IMMEDIATE transaction (the counters on
the activity row), so capacity holds however many people press at once. Messages the bot
starts (cascade copies of a card, promotions, reminders, cancellations) go through the outbox
in the same transaction. After a change commits, the activity is marked in `cards`
(`CardCopies`); the gateway's card editor keeps the copies in chats live from there.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, Literal

from bot.domain.access import Access
from bot.domain.activities import cards as card_view
from bot.domain.activities.checkin import CheckinSteps
from bot.domain.activities.copies import CardCopies
from bot.domain.activities.ending import KIND, EndingSteps
from bot.domain.activities.form import FormSteps
from bot.domain.activities.joins import JoinBatcher, Press
from bot.domain.activities.parsing import (
    ActivityInput,
    example_values,
    fmt_span,
    step_name,
)
from bot.domain.activities.results import (
    Created,
    Credit,
    JoinResult,
    LeaveResult,
)
from bot.domain.cache import MISSING, after_commit, cache_of
from bot.domain.clock import Clock, fmt_when, local
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_activities import Activity
from bot.domain.models_reminders import Reminder
from bot.domain.outbox import Outbox
from bot.domain.reminders import Reminders
from bot.domain.service import ServiceBase
from bot.settings import Settings
from bot.texts import normalise_lang, t
from storage import activities as repo
from storage import orgs as org_repo
from storage import users as user_repo
from storage.db import Conn, Database

log = logging.getLogger(__name__)

# KIND (reminders) lives in ending.py; the guided-flow names beside their steps (form.py,
# checkin.py)
RADIUS_M = 300
LIST_LIMIT = 30


class Activities(FormSteps, CheckinSteps, EndingSteps, ServiceBase):
    """Services behind /activity, /activities, /checkin, /close and the card buttons."""

    def __init__(
        self,
        db: Database,
        access: Access,
        outbox: Outbox,
        reminders: Reminders,
        clock: Clock,
        settings: Settings,
        hours: Credit | None = None,
    ) -> None:
        super().__init__(db, access, outbox, reminders, clock, settings)
        self.hours = hours
        self.cards = CardCopies(db, outbox)  # the gateway's card editor listens here
        self._joins = JoinBatcher(db, self._join_batch)
        reminders.on(KIND, self.on_reminder)

    # --- small helpers -----------------------------------------------------------------------
    def lang_of(self, lang: str | None, tg_lang: str | None) -> str:
        """The person's language: chosen, else Telegram's, else the bot's default."""
        return lang or normalise_lang(tg_lang) or self.settings.language

    def when(self, ts: float, lang: str | None = None) -> str:
        """A time as people read it ('12月8日（周二）18:00' / 'Tue 8 Dec, 18:00')."""
        tz = self.settings.tz
        return fmt_when(
            ts, tz, lang or self.settings.language, today=local(self.clock.time(), tz).date()
        )

    def examples(self) -> dict[str, str]:
        """Values for the examples in usage texts."""
        return example_values(self.clock.time(), self.settings)

    async def get(self, activity_id: int) -> Activity:
        """The activity, or a refusal if there is none with that id."""
        activity = await repo.get(self.db.reader, activity_id)
        if activity is None:
            raise Refusal("err_act_unknown", id=activity_id)
        return activity

    async def started(self, user_id: int) -> bool:
        """Has the person a private chat with the bot (can the bot write first)?"""
        user = await user_repo.get_user(self.db.reader, user_id)
        return bool(user and user.started and user.reachable)

    async def require_organiser(self, user_id: int, chat_id: int) -> Org:
        """The chat's org, if the person may organise activities there."""
        org = await self.chat_org(chat_id)
        await self.access.require(user_id, org, "secretary")
        return org

    async def chat_org(self, chat_id: int) -> Org:
        """The org this chat is bound to."""
        org = await self.access.org_of_chat(chat_id)
        return org

    async def organised(self, user_id: int, chat_id: int, activity_id: int) -> Activity:
        """The activity, if it belongs to this chat's subtree and the person organises it."""
        here = await self.chat_org(chat_id)
        activity = await repo.get(self.db.reader, activity_id)
        org = await org_repo.get(self.db.reader, activity.org_id) if activity else None
        if activity is None or org is None or not org.path.startswith(here.path):
            raise Refusal("err_act_unknown", id=activity_id)
        await self.access.require(user_id, org, "secretary")
        return activity

    # --- cards -------------------------------------------------------------------------------
    def card_text(self, a: Activity, lang: str | None = None) -> str:
        """The card's text now (in the activity's language unless told)."""
        return card_view.card_text(a, lang or a.lang, self.clock.time(), self.settings.tz)

    @staticmethod
    def count_line(a: Activity, lang: str) -> str:
        """'12/50 · waitlist 3'."""
        return card_view.count_line(a, lang)

    def card_markup(self, a: Activity, lang: str | None = None) -> dict[str, Any] | None:
        """Bot API reply_markup of a card: Sign up / Cancel while sign-up is open."""
        return card_view.card_markup(a, lang or a.lang, self.clock.time())

    def checkin_markup(self, a: Activity, lang: str) -> dict[str, Any]:
        """Bot API reply_markup of the check-in message."""
        return card_view.checkin_markup(a, lang)

    async def record_card(
        self,
        activity_id: int,
        chat_id: int,
        message_id: int,
        version: int,
        kind: str = "card",
        guard_id: int | None = None,
    ) -> None:
        """A card (or check-in) sent as a direct reply: remember it, drop its outbox stand-in."""
        async with self.db.transaction() as tx:
            if guard_id is not None and not await self.outbox.settle(tx, guard_id):
                log.warning(
                    "activity %s: %s went out twice (outbox copy %s was first)",
                    activity_id,
                    kind,
                    guard_id,
                )
                return  # the card row stays linked to the outbox copy, which resolves
            await repo.add_card(
                tx,
                activity_id=activity_id,
                chat_id=chat_id,
                kind=kind,
                message_id=message_id,
                shown_version=version,
            )
        if kind == "card":
            self.cards.mark(activity_id)  # a press may have come in between

    async def verify_button(
        self, activity_id: int, chat_id: int, message_id: int | None, kind: str
    ) -> None:
        """In a group, a button counts only on a message recorded for that very activity.

        Private copies (deep links) carry only the card's buttons, and the handler has made
        sure the private chat is the presser's own: they can only affect themselves.
        """
        if chat_id >= 0:
            if kind != "card":
                raise Refusal("err_act_bad_button")  # check-in is never offered privately
            return
        card = await repo.card_at(self.db.reader, chat_id, message_id or 0)
        if card is None:
            await self.cards.resolve([activity_id])
            card = await repo.card_at(self.db.reader, chat_id, message_id or 0)
        if card is None or card.activity_id != activity_id or card.kind != kind:
            raise Refusal("err_act_bad_button")

    # --- creating ----------------------------------------------------------------------------
    async def create(
        self,
        user_id: int,
        chat_id: int,
        data: ActivityInput,
        lang: str,
        *,
        origin_by_outbox: bool = False,
    ) -> Created:
        """Store the activity, schedule its reminders, queue cascade copies (and, for the guided
        form, the origin chat's card) through the outbox."""
        org = await self.chat_org(chat_id)
        await self.access.require(user_id, org, "secretary")
        now = self.clock.time()
        if data.starts_at <= now:
            raise Refusal("err_act_past", got=self.when(data.starts_at), **self.examples())
        async with self.db.transaction() as tx:
            activity_id = await repo.insert(
                tx,
                org_id=org.id,
                title=data.title,
                place=data.place,
                starts_at=data.starts_at,
                quarters=data.quarters,
                capacity=data.capacity,
                lat=data.lat,
                lon=data.lon,
                radius_m=RADIUS_M,
                lang=lang,
                created_by=user_id,
                now=now,
            )
            activity = await repo.get(tx, activity_id)
            assert activity is not None
            for span in self.settings.activity_reminders:
                due = data.starts_at - span.total_seconds()
                if due > now:
                    await self.reminders.add(tx, KIND, activity_id, step_name(span), due)
            await self.reminders.add(tx, KIND, activity_id, "start", data.starts_at)
            targets = [chat_id] if origin_by_outbox else []
            if data.cascade:
                targets += [c for c in await repo.active_chats_in(tx, org.path) if c != chat_id]
            for target in targets:
                await self._queue_card(tx, activity, target)
            # the card the handler replies with: a crash or a 429 before it goes loses nothing
            guard_id = (
                None
                if origin_by_outbox
                else await self._queue_card(tx, activity, chat_id, guard=True)
            )
        return Created(
            activity=activity, copies=len(targets) - int(origin_by_outbox), guard_id=guard_id
        )

    async def _queue_card(
        self,
        tx: Conn,
        activity: Activity,
        chat_id: int,
        *,
        kind: str = "card",
        text: str | None = None,
        markup: dict[str, Any] | None = None,
        guard: bool = False,
    ) -> int | None:
        """Queue a card (or check-in) copy and record it, linked to its outbox row."""
        # a card is a live control with buttons: folding it into a digest would break it
        queue = self.outbox.guard if guard else partial(self.outbox.add, urgent=True)
        outbox_id = await queue(
            tx,
            chat_id,
            text or self.card_text(activity),
            reply_markup=markup or self.card_markup(activity),
            ref=f"act:{activity.id}",
            dedupe_key=None if guard else f"act:{activity.id}:{kind}:{chat_id}",
        )
        if outbox_id is not None:
            await repo.add_card(
                tx,
                activity_id=activity.id,
                chat_id=chat_id,
                kind=kind,
                outbox_id=outbox_id,
                shown_version=activity.version,
            )
        return outbox_id

    # --- signing up --------------------------------------------------------------------------
    async def join(
        self, user_id: int, activity_id: int, chat_id: int = 0, message_id: int | None = None
    ) -> JoinResult:
        """Take a place (or a waitlist position); a repeated press changes nothing."""
        registered, card_activity, card_kind = await repo.press_context(
            self.db.reader, user_id, chat_id, message_id or 0
        )
        if chat_id < 0 and (card_activity != activity_id or card_kind != "card"):
            await self.verify_button(activity_id, chat_id, message_id, "card")
        if not registered:
            activity = await repo.get(self.db.reader, activity_id)
            if activity is None:
                raise Refusal("err_act_bad_button")
            self._require_open(activity, self.clock.time())
            return JoinResult(kind="unregistered", activity=activity)
        # the overlap warning is advice, read outside the transaction that decides the place
        overlaps = await repo.overlapping_with(self.db.reader, user_id, activity_id)
        return await self._joins.submit(activity_id, user_id, overlaps)

    async def _join_batch(self, tx: Conn, presses: list[Press]) -> None:
        """Decide a batch of presses in one transaction, in press order.

        The counters are read once and kept here while the batch's rows are written; each
        press gets its answer (or its Refusal) on its future once the transaction commits.
        """
        now = self.clock.time()
        after_commit(self.db, "upcoming")  # on the /me of whoever joins
        state: dict[int, Activity | None] = {}
        for press in presses:
            if press.activity_id not in state:
                state[press.activity_id] = await repo.get(tx, press.activity_id)
            activity = state[press.activity_id]
            try:
                if activity is None:
                    raise Refusal("err_act_bad_button")
                self._require_open(activity, now)
            except Refusal as refusal:
                press.outcome = refusal
                continue
            status: Literal["confirmed", "waiting"] = (
                "confirmed" if activity.confirmed < activity.capacity else "waiting"
            )
            seq = activity.next_seq + 1
            if not await repo.claim(tx, activity.id, press.user_id, status, seq, now):
                existing = await repo.signup_of(tx, activity.id, press.user_id)
                assert existing is not None
                waiting = existing.status == "waiting"
                position = (
                    await repo.waiting_position(tx, activity.id, existing.seq) if waiting else 0
                )
                press.outcome = JoinResult(
                    kind="already_waiting" if waiting else "already_confirmed",
                    activity=activity,
                    position=position,
                )
                continue
            activity = activity.model_copy(
                update={
                    "confirmed": activity.confirmed + int(status == "confirmed"),
                    "waiting": activity.waiting + int(status == "waiting"),
                    "next_seq": seq,
                    "version": activity.version + 1,
                }
            )
            state[activity.id] = activity
            if press.overlaps:
                await self._warn_overlap(tx, press.user_id, activity, press.overlaps)
            press.outcome = JoinResult(
                kind=status,
                activity=activity,
                position=activity.waiting if status == "waiting" else 0,
                overlaps=len(press.overlaps),
            )
        for activity_id, activity in state.items():
            if activity is not None and any(
                p.activity_id == activity_id
                and isinstance(p.outcome, JoinResult)
                and p.outcome.kind in ("confirmed", "waiting")
                for p in presses
            ):
                await repo.set_counters(
                    tx,
                    activity_id,
                    confirmed=activity.confirmed,
                    waiting=activity.waiting,
                    next_seq=activity.next_seq,
                )
                self.db.on_commit(partial(self.cards.mark, activity_id))

    def _require_open(self, activity: Activity, now: float) -> None:
        if activity.status == "cancelled":
            raise Refusal("err_act_cancelled", title=activity.title)
        if activity.status != "open":
            raise Refusal("err_act_closed", title=activity.title)
        if now >= activity.starts_at:
            raise Refusal("err_act_signup_closed", title=activity.title)

    async def _warn_overlap(
        self, tx: Conn, user_id: int, activity: Activity, overlaps: list[Activity]
    ) -> None:
        langs = await repo.user_langs(tx, [user_id])
        lang = self.lang_of(*langs.get(user_id, (None, None)))
        others = "\n".join(
            t(lang, "act_overlap_line", title=o.title, when=self.when(o.starts_at, lang))
            for o in overlaps
        )
        await self.outbox.add(
            tx,
            user_id,
            t(
                lang,
                "act_overlap",
                title=activity.title,
                when=self.when(activity.starts_at, lang),
                others=others,
            ),
            ref=f"act:{activity.id}",
            dedupe_key=f"act:{activity.id}:overlap:{user_id}",
        )

    async def leave(
        self, user_id: int, activity_id: int, chat_id: int = 0, message_id: int | None = None
    ) -> LeaveResult:
        """Give up a place; the first waiting person moves up and is told privately."""
        await self.verify_button(activity_id, chat_id, message_id, "card")
        async with self.db.transaction() as tx:
            activity = await repo.get(tx, activity_id)
            if activity is None:
                raise Refusal("err_act_bad_button")
            self._require_open(activity, self.clock.time())
            existing = await repo.signup_of(tx, activity_id, user_id)
            if existing is None or existing.status == "cancelled":
                raise Refusal("act_ans_not_signed_up")  # nothing of theirs to give up
            promoted = await self._leave(tx, activity, user_id, existing.status)
            activity = await repo.get(tx, activity_id)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        assert activity is not None
        return LeaveResult(kind="left", activity=activity, promoted=promoted)

    async def _leave(self, tx: Conn, activity: Activity, user_id: int, was: str) -> int | None:
        after_commit(self.db, "upcoming")  # off their /me, onto the promoted person's
        promoted = await repo.leave(tx, activity.id, user_id, was)
        if promoted is not None:
            langs = await repo.user_langs(tx, [promoted])
            lang = self.lang_of(*langs.get(promoted, (None, None)))
            await self.outbox.add(
                tx,
                promoted,
                t(
                    lang,
                    "act_promoted",
                    title=activity.title,
                    when=self.when(activity.starts_at, lang),
                    place=activity.place,
                ),
                ref=f"act:{activity.id}",
                extra={
                    "fallback": True,
                    "fallback_text": t(lang, "act_promoted_fallback", title=activity.title),
                },
            )
        return promoted

    async def forget(self, user_id: int) -> None:
        """/forgetme: give up every place in open activities (waiting people move up)."""
        now = self.clock.time()
        for activity, _ in await repo.upcoming_of(self.db.reader, user_id, now, 1000):
            async with self.db.transaction() as tx:
                existing = await repo.signup_of(tx, activity.id, user_id)
                if existing is not None and existing.status != "cancelled":
                    await self._leave(tx, activity, user_id, existing.status)
            self.cards.mark(activity.id)

    async def upcoming(self, user_id: int) -> list[tuple[Activity, str]]:
        """The person's next few activities with their sign-up status (for /me); cached until
        one of them starts or a sign-up or an activity's status changes."""
        cache, now = cache_of(self.db), self.clock.time()
        found = cache.get("upcoming", user_id)
        if found is not MISSING and all(a.starts_at >= now for a, _ in found):
            return list(found)
        stamp = cache.stamp()
        fresh = await repo.upcoming_of(self.db.reader, user_id, now, 5)
        cache.put("upcoming", user_id, tuple(fresh), stamp)
        return fresh

    async def list_open(self, chat_id: int) -> tuple[Org, list[Activity]]:
        """The chat's org and the open activities of its subtree."""
        org = await self.chat_org(chat_id)
        return org, await repo.open_in(self.db.reader, org.path, LIST_LIMIT)

    async def undelivered(self, activity_ids: list[int]) -> dict[int, int]:
        """Per activity: its messages (cards, reminders, notices) given up for good."""
        counts = await self.outbox.failed_counts(f"act:{i}" for i in activity_ids)
        return {i: counts[f"act:{i}"] for i in activity_ids if f"act:{i}" in counts}

    # --- reminders ---------------------------------------------------------------------------
    async def on_reminder(self, conn: Conn, reminder: Reminder) -> None:
        """Runs inside the claiming transaction: queue each participant's reminder."""
        activity = await repo.get(conn, reminder.ref_id)
        if activity is None or activity.status != "open":
            return
        if reminder.step == "start":  # sign-up closes: the cards lose their buttons
            await repo.bump(conn, activity.id)
            self.db.on_commit(lambda: self.cards.mark(activity.id))
            return
        left = activity.starts_at - reminder.due_at
        for s in await repo.roster(conn, activity.id, ("confirmed",)):
            lang = self.lang_of(s.lang, s.tg_lang)
            await self.outbox.add(
                conn,
                s.user_id,
                t(
                    lang,
                    "act_reminder",
                    title=activity.title,
                    when=self.when(activity.starts_at, lang),
                    place=activity.place,
                    left=fmt_span(left, lang),
                ),
                ref=f"act:{activity.id}",
                dedupe_key=f"act:{activity.id}:rem:{reminder.step}:{s.user_id}",
            )
