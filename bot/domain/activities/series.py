"""Recurring activities: a rule makes one ordinary activity per occurrence (linked by
`series_id`), so each has its own card, roster, reminders, check-in and credit unchanged.

Quiet cards: only the first occurrence's card is posted (in the chat and, with `| cascade`,
below); when an occurrence starts (its `start` reminder) or is cancelled, the next open one's
card goes to the chats that held its card. "Join all" signs a person up for this and every
later open occurrence, each through the normal join path (capacity and waitlist per
occurrence). Cancelling or editing "all future" tells each person once, listing the dates.

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from pydantic import BaseModel

from bot.domain.activities.base import KIND, InTransaction
from bot.domain.activities.editing import ActivityEdit, EditSteps
from bot.domain.activities.ending import EndingSteps
from bot.domain.activities.joins import JoinBatcher
from bot.domain.activities.parsing import ActivityInput
from bot.domain.activities.posts import on_day
from bot.domain.activities.recurrence import at_day, occurrence_days
from bot.domain.activities.results import Created, JoinResult
from bot.domain.cache import after_commit
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity
from bot.texts import Raw, t
from storage import activities as repo
from storage import activity_series as series_repo
from storage.db import Conn

ALL_WORDS = ("all", "全部")


class SeriesJoin(BaseModel):
    """What Join all did: places and waitlist positions taken (or held already); or, for a
    person not registered yet, the single join's answer that invites them to register."""

    confirmed: int = 0
    waiting: int = 0
    unregistered: JoinResult | None = None


class SeriesChange(BaseModel):
    """A cancel or edit of "this and every future occurrence"."""

    activity: Activity
    occurrences: int
    told: int
    fields: list[str] = []


class SeriesSteps(EndingSteps, EditSteps):
    """Creating a series, its quiet cards, Join all, and cancel / edit of all future ones."""

    _joins: JoinBatcher  # set by `Activities`: Join all goes through the normal join batches

    async def create_series(
        self,
        user_id: int,
        chat_id: int,
        data: ActivityInput,
        lang: str,
        *,
        origin_by_outbox: bool = False,
        then: InTransaction | None = None,
    ) -> Created:
        """Store the series and one activity per occurrence in one transaction; the first
        occurrence's card goes out as a single activity's does (by the outbox for the guided
        form, `origin_by_outbox`); `then` runs in the same transaction."""
        org = await self.require_organiser(user_id, chat_id)
        assert data.series is not None
        now, tz = self.clock.time(), self.settings.tz
        days = occurrence_days(data.series, local(data.starts_at, tz).date())
        starts = [at_day(data.starts_at, day, tz) for day in days]
        if starts[0] <= now:
            raise Refusal("err_act_past", got=self.when(starts[0]), **self.examples())
        lead = None if data.signup_deadline is None else data.starts_at - data.signup_deadline
        async with self.db.transaction() as tx:
            series_id = await series_repo.insert(
                tx,
                org_id=org.id,
                rule=data.series.rule,
                total=len(starts),
                created_by=user_id,
                now=now,
            )
            first: int | None = None
            for no, starts_at in enumerate(starts, start=1):
                one = data.model_copy(
                    update={
                        "starts_at": starts_at,
                        "signup_deadline": None if lead is None else starts_at - lead,
                        "posts": on_day(data.posts, starts_at, self.settings),
                    }
                )
                activity = await self._store(tx, org, one, lang, user_id, now)
                await series_repo.link(tx, activity.id, series_id, no)
                first = first or activity.id
            assert first is not None
            shown = await repo.get(tx, first)
            assert shown is not None
            created = await self._post_cards(
                tx, shown, org, chat_id, data.cascade, origin_by_outbox
            )
            if then is not None:
                await then(tx)
            return created

    async def post_next(self, tx: Conn, activity: Activity) -> None:
        """The next open occurrence's card goes to the chats that held `activity`'s card (when
        it starts or is cancelled): one card of a series in a chat at a time."""
        if activity.series_id is None:
            return
        chats = await series_repo.card_chats(tx, activity.id)
        following = await series_repo.next_open(tx, activity.series_id, activity.starts_at)
        if following is None or not chats:
            return
        nxt = await repo.get(tx, following)
        assert nxt is not None
        for chat_id in sorted(chats - await series_repo.card_chats(tx, nxt.id)):
            await self._queue_card(tx, nxt, chat_id)

    async def after_cancel(self, tx: Conn, activity: Activity) -> None:
        """A cancelled occurrence (`EndingSteps.cancel`): the next one's card takes its place
        in its chats (and the calendar files follow: `CalendarSteps.after_cancel`)."""
        await super().after_cancel(tx, activity)
        await self.post_next(tx, activity)

    async def _future(self, user_id: int, chat_id: int, activity_id: int) -> Activity:
        """The occurrence the organiser names, if it is one of a series and still open."""
        activity = await self.organised(user_id, chat_id, activity_id)
        if activity.series_id is None:
            raise Refusal("err_series_not", id=activity_id)
        if activity.status != "open":
            self._require_open(activity, 0)
        return activity

    async def cancel_future(self, user_id: int, chat_id: int, activity_id: int) -> SeriesChange:
        """Cancel this occurrence and every later open one; each person signed up or waiting
        in any of them is told once, with the dates."""
        this = await self._future(user_id, chat_id, activity_id)
        assert this.series_id is not None
        now = self.clock.time()
        async with self.db.transaction() as tx:
            after_commit(self.db, "upcoming")  # off everyone's /me
            ids = await series_repo.open_from(tx, this.series_id, this.starts_at)
            people: dict[int, tuple[str, list[Activity]]] = {}
            done = 0
            for oid in ids:
                occurrence = await repo.get(tx, oid)
                if occurrence is None or not await repo.set_status(tx, oid, "cancelled", now):
                    continue
                done += 1
                await self.reminders.cancel(tx, KIND, oid)
                for s in await repo.roster(tx, oid, ("confirmed", "waiting")):
                    lang = self.lang_of(s.lang, s.tg_lang)
                    people.setdefault(s.user_id, (lang, []))[1].append(occurrence)
                self.db.on_commit(partial(self.cards.mark, oid))
            if not done:
                self._require_open(this, 0)
            for uid, (lang, occurrences) in people.items():
                await self._tell_once(tx, uid, lang, this, "series_cancelled_notice", occurrences)
            cancelled = await repo.get(tx, this.id)
            assert cancelled is not None
            await self.cancel_calendars(tx, cancelled, "act_calendar_series_cut")
        return SeriesChange(activity=this, occurrences=done, told=len(people))

    async def edit_future(self, user_id: int, chat_id: int, change: ActivityEdit) -> SeriesChange:
        """Apply `change` to this occurrence and every later open one (`edit_in` on each); a
        new time keeps each occurrence's date, a sign-up deadline keeps its lead on the start.
        Each person signed up or waiting in any of them is told once."""
        this = await self._future(user_id, chat_id, change.activity_id)
        assert this.series_id is not None
        now, tz = self.clock.time(), self.settings.tz
        values: dict[str, Any] = change.model_dump(exclude={"activity_id"})
        new_start = values.pop("starts_at")
        new_deadline = values.pop("signup_deadline")
        lead_to = (new_start or this.starts_at) - new_deadline if new_deadline else None
        async with self.db.transaction() as tx:
            ids = await series_repo.open_from(tx, this.series_id, this.starts_at)
            people: dict[int, tuple[str, list[Activity]]] = {}
            fields: list[str] = []
            first: tuple[Activity, Activity] | None = None
            for oid in ids:
                old = await repo.get_locked(tx, oid)
                assert old is not None
                starts_at = old.starts_at
                if new_start is not None:
                    starts_at = at_day(new_start, local(old.starts_at, tz).date(), tz)
                    if starts_at <= now:
                        raise Refusal("err_act_past", got=self.when(starts_at), **self.examples())
                deadline = old.signup_deadline
                if lead_to is not None:
                    deadline = starts_at - lead_to
                elif deadline is not None:  # keeps its lead on the start
                    deadline = starts_at - (old.starts_at - deadline)
                one = {**values, "starts_at": starts_at, "signup_deadline": deadline}
                try:
                    done = await self.edit_in(tx, old, one, now, tell=False)
                except Refusal as refusal:
                    if refusal.key == "err_act_edit_same":  # this one has it already
                        continue
                    raise
                first = first or (old, done.activity)
                fields += [f for f in done.fields if f not in fields]
                for s in await repo.roster(tx, oid, ("confirmed", "waiting")):
                    lang = self.lang_of(s.lang, s.tg_lang)
                    people.setdefault(s.user_id, (lang, []))[1].append(done.activity)
            if first is None:
                raise Refusal("err_act_edit_same", id=this.id)
            before, after = first
            for uid, (lang, occurrences) in people.items():
                changes = self._changes(before, after, fields, lang)
                await self._tell_once(
                    tx, uid, lang, after, "series_edited_notice", occurrences, changes=changes
                )
            await self.resend_calendars(tx, after)  # the one file, once, as it is now
        return SeriesChange(activity=this, occurrences=len(ids), told=len(people), fields=fields)

    async def _tell_once(
        self,
        tx: Conn,
        user_id: int,
        lang: str,
        this: Activity,
        key: str,
        occurrences: list[Activity],
        **fields: object,
    ) -> None:
        """One private message to a person about several occurrences, listing their dates."""
        dates = "\n".join(
            t(lang, "series_date_line", when=self.when(a.starts_at, lang)) for a in occurrences
        )
        await self.outbox.add(
            tx,
            user_id,
            t(lang, key, title=this.title, n=len(occurrences), dates=Raw(dates), **fields),
            ref=f"act:{this.id}",
            dedupe_key=f"act:{this.id}:{key}:{this.version}:{this.edits}:{user_id}",
            extra={
                "fallback": True,
                "fallback_text": t(lang, "series_fallback", title=this.title),
            },
        )

    async def join_all(
        self, user_id: int, activity_id: int, chat_id: int, message_id: int | None
    ) -> SeriesJoin:
        """Join all: sign up for this occurrence and every later one still open for sign-up,
        each through the normal join (its capacity, its waitlist); a repeat changes nothing."""
        await self.verify_button(activity_id, chat_id, message_id, "card")
        this = await self.get(activity_id)
        now = self.clock.time()
        if this.series_id is None:
            raise Refusal("err_act_bad_button")
        self._require_open(this, now)
        ids = await series_repo.open_from(self.db.reader, this.series_id, this.starts_at)
        answers = await asyncio.gather(
            *(self._joins.submit(oid, user_id, 0, 0) for oid in ids), return_exceptions=True
        )
        summary = SeriesJoin()
        for answer in answers:
            if isinstance(answer, Refusal):  # sign-up closed for that one: it is skipped
                continue
            if isinstance(answer, BaseException):
                raise answer
            if answer.kind == "unregistered":
                return SeriesJoin(unregistered=answer)
            if answer.kind in ("confirmed", "already_confirmed"):
                summary.confirmed += 1
            elif answer.kind in ("waiting", "already_waiting"):
                summary.waiting += 1
        return summary
