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
from typing import Literal

from bot.domain.activities.attendance import AttendanceSteps
from bot.domain.activities.base import KIND
from bot.domain.activities.checkin import CheckinSteps
from bot.domain.activities.copies import CardCopies
from bot.domain.activities.form import FormSteps
from bot.domain.activities.joins import JoinBatcher, Press
from bot.domain.activities.parsing import fmt_span
from bot.domain.activities.posts import post_name, with_counts
from bot.domain.activities.results import JoinResult, LeaveResult
from bot.domain.activities.series import SeriesSteps
from bot.domain.cache import MISSING, after_commit, cache_of
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.hours import Hours
from bot.domain.models import Org
from bot.domain.models_activities import Activity
from bot.domain.models_reminders import Reminder
from bot.domain.service import Core
from bot.texts import t
from storage import activities as repo
from storage import activity_posts as post_repo
from storage import users as user_repo
from storage.db import Conn

log = logging.getLogger(__name__)

# KIND (reminders) and RADIUS_M live in base.py; the guided-flow names beside their steps
# (form.py, checkin.py)
LIST_LIMIT = 30


class Activities(FormSteps, CheckinSteps, SeriesSteps, AttendanceSteps):
    """Services behind /activity (and its edit, its series), /activities, /checkin, /close,
    /attendance and the card buttons (Add to calendar and Join all too). `SeriesSteps` brings
    `EndingSteps` and `EditSteps`."""

    def __init__(self, core: Core, hours: Hours) -> None:
        super().__init__(core)
        self.hours = hours
        self.cards = CardCopies(self.db, self.outbox)  # the gateway's card editor listens here
        self._joins = JoinBatcher(self.db, self._join_batch)
        self.reminders.on(KIND, self.on_reminder)

    # --- small helpers (the shared ones are in base.py) --------------------------------------
    async def started(self, user_id: int) -> bool:
        """Has the person a private chat with the bot (can the bot write first)?"""
        user = await user_repo.get_user(self.db.reader, user_id)
        return bool(user and user.started and user.reachable)

    # --- cards -------------------------------------------------------------------------------
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

    # --- signing up --------------------------------------------------------------------------
    async def join(
        self,
        user_id: int,
        activity_id: int,
        chat_id: int = 0,
        message_id: int | None = None,
        post_no: int | None = None,
    ) -> JoinResult:
        """Take a place (or a waitlist position), in post `post_no` for an activity with posts;
        a repeated press changes nothing.

        Nothing is read before the press joins its batch, so presses are decided in the order
        they came; the batch checks the card, the registration and the overlaps for all."""
        result = await self._joins.submit(activity_id, user_id, chat_id, message_id or 0, post_no)
        if result.kind == "unverified":  # a card not recorded yet, or not this activity's
            await self.verify_button(activity_id, chat_id, message_id, "card")
            result = await self._joins.submit(activity_id, user_id, 0, 0, post_no)
        return result

    async def _join_batch(self, tx: Conn, presses: list[Press]) -> None:
        """Decide a batch of presses in one transaction, in press order.

        The counters are read once and kept here while the batch's rows are written; each
        press gets its answer (or its Refusal) on its future once the transaction commits.
        """
        now = self.clock.time()
        after_commit(self.db, "upcoming")  # on the /me of whoever joins
        state: dict[int, Activity | None] = {}
        registered = await repo.registered_among(tx, list({p.user_id for p in presses}))
        overlapping: dict[int, dict[int, list[Activity]]] = {}  # activity -> person -> others
        cards: dict[int, set[tuple[int, int]]] = {}  # activity -> its card messages
        # activity -> person -> (status, seq, post) of who holds a place or a waitlist position;
        # the batch's new sign-ups join it as decided and are written in one go at the end
        holding: dict[int, dict[int, tuple[str, int, int | None]]] = {}
        claims: list[repo.Claim] = []
        for activity_id in {p.activity_id for p in presses}:
            overlapping[activity_id] = await repo.overlapping_for(
                tx, activity_id, [p.user_id for p in presses if p.activity_id == activity_id]
            )
            cards[activity_id] = await repo.card_messages(tx, activity_id)
            holding[activity_id] = await repo.live_signups(
                tx, activity_id, [p.user_id for p in presses if p.activity_id == activity_id]
            )
        for press in presses:
            if press.activity_id not in state:
                state[press.activity_id] = await repo.get_locked(tx, press.activity_id)
            activity = state[press.activity_id]
            if (
                press.chat_id < 0
                and (press.chat_id, press.message_id) not in cards[press.activity_id]
            ):
                press.outcome = JoinResult(kind="unverified")
                continue
            try:
                if activity is None:
                    raise Refusal("err_act_bad_button")
                self._require_open(activity, now)
                post = activity.post(press.post_no)
                if activity.post_count and press.post_no is None:
                    raise Refusal("err_post_choose", title=activity.title)
                if (press.post_no is None) != (post is None):
                    raise Refusal("err_act_bad_button")  # no such post, or none to press
            except Refusal as refusal:
                press.outcome = refusal
                continue
            if press.user_id not in registered:
                press.outcome = JoinResult(
                    kind="unregistered", activity=activity, post_no=press.post_no
                )
                continue
            held, room = (
                (post, post.capacity) if post is not None else (activity, activity.capacity)
            )
            status: Literal["confirmed", "waiting"] = (
                "confirmed" if held.confirmed < room else "waiting"
            )
            seq = activity.next_seq + 1
            held_by = holding[activity.id].get(press.user_id)
            if held_by is not None:  # signed up before, or earlier in this batch
                press.outcome = await self._already(tx, claims, activity, press, held_by)
                continue
            claims.append((activity.id, press.user_id, status, seq, now, press.post_no))
            confirmed, waiting = int(status == "confirmed"), int(status == "waiting")
            posts = activity.posts
            if post is not None:
                post = with_counts(post, post.confirmed + confirmed, post.waiting + waiting)
                posts = tuple(post if p.post_no == post.post_no else p for p in posts)
            activity = activity.model_copy(
                update={
                    "confirmed": activity.confirmed + confirmed,
                    "waiting": activity.waiting + waiting,
                    "next_seq": seq,
                    "version": activity.version + 1,
                    "posts": posts,
                }
            )
            state[activity.id] = activity
            holding[activity.id][press.user_id] = (status, seq, press.post_no)
            overlaps = overlapping[activity.id].get(press.user_id, [])
            if overlaps:
                await self._warn_overlap(tx, press.user_id, activity, overlaps)
            press.outcome = JoinResult(
                kind=status,
                activity=activity,
                position=(post or activity).waiting if status == "waiting" else 0,
                overlaps=len(overlaps),
                post_no=press.post_no,
            )
        await repo.claim_many(tx, claims)
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
                if activity.posts:
                    await post_repo.set_counters(tx, activity_id, activity.posts)
                self.db.on_commit(partial(self.cards.mark, activity_id))

    @staticmethod
    async def _already(
        tx: Conn,
        claims: list[repo.Claim],
        activity: Activity,
        press: Press,
        held_by: tuple[str, int, int | None],
    ) -> JoinResult | Refusal:
        """A press by someone already signed up or waiting (before, or earlier in this batch,
        whose rows are not written yet): where they are. A press on another post is refused
        with the post they hold: one post per person, Cancel to change."""
        status, seq, post_no = held_by
        if post_no != press.post_no:
            return Refusal("err_post_held", post=post_name(activity, post_no))
        waiting = status == "waiting"
        position = 0
        if waiting:
            position = (
                await post_repo.waiting_position(tx, activity.id, post_no, seq)
                if post_no is not None
                else await repo.waiting_position(tx, activity.id, seq)
            ) + sum(
                1
                for a, _u, state, s, _t, p in claims
                if a == activity.id and state == "waiting" and p == post_no and s <= seq
            )
        return JoinResult(
            kind="already_waiting" if waiting else "already_confirmed",
            activity=activity,
            position=position,
            post_no=post_no,
        )

    async def _warn_overlap(
        self, tx: Conn, user_id: int, activity: Activity, overlaps: list[Activity]
    ) -> None:
        langs = await repo.user_langs(tx, [user_id])
        lang = self.lang_of(*langs.get(user_id, (None, None)))
        others = "\n".join(
            t(lang, "act_overlap_line", title=o.title, when=self.when(o.starts_at, lang))
            for o in overlaps
        )
        await self.tell(
            tx, user_id, lang, activity, "act_overlap", {"others": others}, once="overlap"
        )

    async def leave(
        self, user_id: int, activity_id: int, chat_id: int = 0, message_id: int | None = None
    ) -> LeaveResult:
        """Give up a place; the first waiting person moves up and is told privately."""
        await self.verify_button(activity_id, chat_id, message_id, "card")
        async with self.db.transaction() as tx:
            activity = await repo.get_locked(tx, activity_id)
            if activity is None:
                raise Refusal("err_act_bad_button")
            self._require_open(activity, self.clock.time())
            existing = await repo.signup_of(tx, activity_id, user_id)
            if existing is None or existing.status == "cancelled":
                raise Refusal("act_ans_not_signed_up")  # nothing of theirs to give up
            promoted = await self._leave(tx, activity, user_id, existing.status, existing.post_no)
            activity = await repo.get(tx, activity_id)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        assert activity is not None
        return LeaveResult(kind="left", activity=activity, promoted=promoted)

    async def _leave(
        self, tx: Conn, activity: Activity, user_id: int, was: str, post_no: int | None = None
    ) -> int | None:
        after_commit(self.db, "upcoming")  # off their /me, onto the promoted person's
        promoted = await repo.leave(tx, activity.id, user_id, was, post_no)
        if promoted is not None:
            langs = await repo.user_langs(tx, [promoted])
            lang = self.lang_of(*langs.get(promoted, (None, None)))
            await self.tell(
                tx,
                promoted,
                lang,
                activity,
                "act_promoted",
                {"place": activity.place},
                fallback="act_promoted_fallback",
            )
        return promoted

    async def forget(self, user_id: int) -> None:
        """/forgetme: give up every place in open activities (waiting people move up)."""
        now = self.clock.time()
        for activity, _ in await repo.upcoming_of(self.db.reader, user_id, now, 1000):
            async with self.db.transaction() as tx:
                existing = await repo.signup_of(tx, activity.id, user_id)
                if existing is not None and existing.status != "cancelled":
                    await self._leave(tx, activity, user_id, existing.status, existing.post_no)
            self.cards.mark(activity.id)
        await self.forget_calendars(user_id)

    async def upcoming(self, user_id: int) -> list[tuple[Activity, str]]:
        """The person's next few activities with their sign-up status (for /me); cached until
        one of them starts or a sign-up or an activity's status changes."""
        cache, now = cache_of(self.db), self.clock.time()
        found = cache.get("upcoming", user_id)
        if found is not MISSING and all(a.starts_at >= now for a, _ in found):
            return list(found)
        stamp = cache.stamp("upcoming")
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
        if reminder.step.split(".")[0] in ("start", "deadline"):  # sign-up closes: the cards
            # lose their Sign up / Cancel buttons (the step's suffix: see `EditSteps`)
            await repo.bump(conn, activity.id)
            self.db.on_commit(lambda: self.cards.mark(activity.id))
            if reminder.step.startswith("start"):  # a series: the next occurrence's card
                await self.post_next(conn, activity)
            return
        post_no = next(
            (int(tag[1:]) for tag in reminder.step.split(".")[1:] if tag[:1] == "p"), None
        )
        if post_no is None:  # the people of posts with their own shift have theirs
            left = activity.starts_at - reminder.due_at
            await self.tell_roster(
                conn,
                activity,
                ("confirmed",),
                "act_reminder",
                lambda lang: {"place": activity.place, "left": fmt_span(left, lang)},
                once=f"rem:{reminder.step}",
                post_no="unshifted",
            )
            return
        post = activity.post(post_no)
        if post is None or post.shift_start is None or post.shift_end is None:
            return  # (an edit reschedules: a step of a shift no longer there names nothing)
        start, end = post.shift_start, post.shift_end
        await self.tell_roster(
            conn,
            activity,
            ("confirmed",),
            "act_reminder_shift",
            lambda lang: {
                "place": activity.place,
                "post": post.name,
                "left": fmt_span(start - reminder.due_at, lang),
                "shift": self.when(start, lang),
                "end": local(end, self.settings.tz).strftime("%H:%M"),
            },
            once=f"rem:{reminder.step}",
            post_no=post_no,
        )
