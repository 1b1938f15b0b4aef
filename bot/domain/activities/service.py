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
from typing import Any

from bot.domain.access import Access
from bot.domain.activities import cards as card_view
from bot.domain.activities.copies import CardCopies
from bot.domain.activities.joins import JoinBatcher, Press
from bot.domain.activities.parsing import (
    ActivityInput,
    distance_m,
    example_values,
    fmt_span,
    is_skip,
    parse_capacity,
    parse_coords,
    parse_place,
    parse_quarters,
    parse_title,
    parse_when,
    step_name,
)
from bot.domain.activities.results import (
    CheckinResult,
    CloseResult,
    Created,
    Credit,
    FormState,
    JoinResult,
    LeaveResult,
)
from bot.domain.clock import Clock, fmt_when, local
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_activities import Activity, Signup
from bot.domain.models_reminders import Reminder
from bot.domain.outbox import Outbox
from bot.domain.reminders import Reminders
from bot.domain.when import Reading
from bot.settings import Settings
from bot.texts import normalise_lang, t
from storage import activities as repo
from storage import hours as hours_repo
from storage import orgs as org_repo
from storage import users as user_repo
from storage.db import Conn, Database

log = logging.getLogger(__name__)

KIND = "activity"  # reminders kind
FORM = "activity_form"  # guided-flow names
CHECKIN_FLOW = "activity_checkin"
CHECKIN_BEFORE = 3600.0  # the check-in window: 2 h around the start
CHECKIN_AFTER = 3600.0
RADIUS_M = 300
LIST_LIMIT = 30


class Activities:
    """Services behind /activity, /activities, /checkin, /close and the card buttons."""

    def __init__(self, db: Database, access: Access, outbox: Outbox, reminders: Reminders,
                 clock: Clock, settings: Settings, hours: Credit | None = None) -> None:
        self.db = db
        self.access = access
        self.outbox = outbox
        self.reminders = reminders
        self.clock = clock
        self.settings = settings
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
        return fmt_when(ts, tz, lang or self.settings.language,
                        today=local(self.clock.time(), tz).date())

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


    async def record_card(self, activity_id: int, chat_id: int, message_id: int,
                          version: int, kind: str = "card") -> None:
        """A card (or check-in button) sent as a direct reply: remember where it is."""
        async with self.db.transaction() as tx:
            await repo.add_card(tx, activity_id=activity_id, chat_id=chat_id, kind=kind,
                                message_id=message_id, shown_version=version)
        if kind == "card":
            self.cards.mark(activity_id)  # a press may have come in between

    async def verify_button(self, activity_id: int, chat_id: int, message_id: int | None,
                            kind: str) -> None:
        """In a group, a button counts only on a message recorded for that very activity."""
        if chat_id >= 0:
            return  # private copies (and deep links): the person can only affect themselves
        card = await repo.card_at(self.db.reader, chat_id, message_id or 0)
        if card is None:
            await self.cards.resolve([activity_id])
            card = await repo.card_at(self.db.reader, chat_id, message_id or 0)
        if card is None or card.activity_id != activity_id or card.kind != kind:
            raise Refusal("err_act_bad_button")

    # --- creating ----------------------------------------------------------------------------
    async def create(self, user_id: int, chat_id: int, data: ActivityInput, lang: str, *,
                     origin_by_outbox: bool = False) -> Created:
        """Store the activity, schedule its reminders, queue cascade copies (and, for the guided
        form, the origin chat's card) through the outbox."""
        org = await self.chat_org(chat_id)
        await self.access.require(user_id, org, "secretary")
        now = self.clock.time()
        if data.starts_at <= now:
            raise Refusal("err_act_past", got=self.when(data.starts_at), **self.examples())
        async with self.db.transaction() as tx:
            activity_id = await repo.insert(
                tx, org_id=org.id, title=data.title, place=data.place, starts_at=data.starts_at,
                quarters=data.quarters, capacity=data.capacity, lat=data.lat, lon=data.lon,
                radius_m=RADIUS_M, lang=lang, created_by=user_id, now=now)
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
        return Created(activity=activity, copies=len(targets) - int(origin_by_outbox))

    async def _queue_card(self, tx: Conn, activity: Activity, chat_id: int) -> None:
        # a card is a live control with buttons: folding it into a digest would break it
        outbox_id = await self.outbox.add(
            tx, chat_id, self.card_text(activity), reply_markup=self.card_markup(activity),
            ref=f"act:{activity.id}", dedupe_key=f"act:{activity.id}:card:{chat_id}",
            urgent=True)
        if outbox_id is not None:
            await repo.add_card(tx, activity_id=activity.id, chat_id=chat_id,
                                outbox_id=outbox_id, shown_version=activity.version)

    # --- signing up --------------------------------------------------------------------------
    async def join(self, user_id: int, activity_id: int, chat_id: int = 0,
                   message_id: int | None = None) -> JoinResult:
        """Take a place (or a waitlist position); a repeated press changes nothing."""
        registered, card_activity, card_kind = await repo.press_context(
            self.db.reader, user_id, chat_id, message_id or 0)
        if not registered:
            activity = await repo.get(self.db.reader, activity_id)
            if activity is None:
                raise Refusal("err_act_bad_button")
            self._require_open(activity, self.clock.time())
            return JoinResult(kind="unregistered", activity=activity)
        if chat_id < 0 and (card_activity != activity_id or card_kind != "card"):
            await self.verify_button(activity_id, chat_id, message_id, "card")
        # the overlap warning is advice, read outside the transaction that decides the place
        overlaps = await repo.overlapping_with(self.db.reader, user_id, activity_id)
        return await self._joins.submit(activity_id, user_id, overlaps)

    async def _join_batch(self, tx: Conn, presses: list[Press]) -> None:
        """Decide a batch of presses in one transaction, in press order.

        The counters are read once and kept here while the batch's rows are written; each
        press gets its answer (or its Refusal) on its future once the transaction commits.
        """
        now = self.clock.time()
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
            status = "confirmed" if activity.confirmed < activity.capacity else "waiting"
            seq = activity.next_seq + 1
            if not await repo.claim(tx, activity.id, press.user_id, status, seq, now):
                existing = await repo.signup_of(tx, activity.id, press.user_id)
                assert existing is not None
                waiting = existing.status == "waiting"
                position = (await repo.waiting_position(tx, activity.id, existing.seq)
                            if waiting else 0)
                press.outcome = JoinResult(
                    kind="already_waiting" if waiting else "already_confirmed",
                    activity=activity, position=position)
                continue
            activity = activity.model_copy(update={
                "confirmed": activity.confirmed + int(status == "confirmed"),
                "waiting": activity.waiting + int(status == "waiting"), "next_seq": seq,
                "version": activity.version + 1})
            state[activity.id] = activity
            if press.overlaps:
                await self._warn_overlap(tx, press.user_id, activity, press.overlaps)
            press.outcome = JoinResult(
                kind=status, activity=activity,  # type: ignore[arg-type]
                position=activity.waiting if status == "waiting" else 0,
                overlaps=len(press.overlaps))
        for activity_id, activity in state.items():
            if activity is not None and any(
                    p.activity_id == activity_id and isinstance(p.outcome, JoinResult)
                    and p.outcome.kind in ("confirmed", "waiting") for p in presses):
                await repo.set_counters(tx, activity_id, confirmed=activity.confirmed,
                                        waiting=activity.waiting, next_seq=activity.next_seq)
                self.db.on_commit(partial(self.cards.mark, activity_id))

    def _require_open(self, activity: Activity, now: float) -> None:
        if activity.status == "cancelled":
            raise Refusal("err_act_cancelled", title=activity.title)
        if activity.status != "open":
            raise Refusal("err_act_closed", title=activity.title)
        if now >= activity.starts_at:
            raise Refusal("err_act_signup_closed", title=activity.title)

    async def _warn_overlap(self, tx: Conn, user_id: int, activity: Activity,
                            overlaps: list[Activity]) -> None:
        langs = await repo.user_langs(tx, [user_id])
        lang = self.lang_of(*langs.get(user_id, (None, None)))
        others = "\n".join(t(lang, "act_overlap_line", title=o.title,
                                  when=self.when(o.starts_at, lang))
                           for o in overlaps)
        await self.outbox.add(
            tx, user_id, t(lang, "act_overlap", title=activity.title,
                           when=self.when(activity.starts_at, lang), others=others),
            ref=f"act:{activity.id}", dedupe_key=f"act:{activity.id}:overlap:{user_id}")

    async def leave(self, user_id: int, activity_id: int, chat_id: int = 0,
                    message_id: int | None = None) -> LeaveResult:
        """Give up a place; the first waiting person moves up and is told privately."""
        await self.verify_button(activity_id, chat_id, message_id, "card")
        async with self.db.transaction() as tx:
            activity = await repo.get(tx, activity_id)
            if activity is None:
                raise Refusal("err_act_bad_button")
            self._require_open(activity, self.clock.time())
            existing = await repo.signup_of(tx, activity_id, user_id)
            if existing is None or existing.status == "cancelled":
                return LeaveResult(kind="not_signed_up", activity=activity)
            promoted = await self._leave(tx, activity, user_id, existing.status)
            activity = await repo.get(tx, activity_id)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        assert activity is not None
        return LeaveResult(kind="left", activity=activity, promoted=promoted)

    async def _leave(self, tx: Conn, activity: Activity, user_id: int, was: str) -> int | None:
        promoted = await repo.leave(tx, activity.id, user_id, was)
        if promoted is not None:
            langs = await repo.user_langs(tx, [promoted])
            lang = self.lang_of(*langs.get(promoted, (None, None)))
            await self.outbox.add(
                tx, promoted, t(lang, "act_promoted", title=activity.title,
                                when=self.when(activity.starts_at, lang), place=activity.place),
                ref=f"act:{activity.id}",
                extra={"fallback": True, "fallback_text": t(lang, "act_promoted_fallback",
                                                            title=activity.title)})
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
        """The person's next few activities with their sign-up status (for /me)."""
        return await repo.upcoming_of(self.db.reader, user_id, self.clock.time(), 5)

    async def list_open(self, chat_id: int) -> tuple[Org, list[Activity]]:
        """The chat's org and the open activities of its subtree."""
        org = await self.chat_org(chat_id)
        return org, await repo.open_in(self.db.reader, org.path, LIST_LIMIT)

    # --- ending ------------------------------------------------------------------------------
    async def cancel(self, user_id: int, chat_id: int, activity_id: int) -> tuple[Activity, int]:
        """The organiser calls it off: everyone signed up or waiting is told privately."""
        await self.organised(user_id, chat_id, activity_id)
        async with self.db.transaction() as tx:
            activity = await repo.get(tx, activity_id)
            assert activity is not None
            if not await repo.set_status(tx, activity_id, "cancelled", self.clock.time()):
                self._require_open(activity, 0)
            await self.reminders.cancel(tx, KIND, activity_id)
            people = await repo.roster(tx, activity_id, ("confirmed", "waiting"))
            for s in people:
                lang = self.lang_of(s.lang, s.tg_lang)
                await self.outbox.add(
                    tx, s.user_id, t(lang, "act_cancelled_notice", title=activity.title,
                                     when=self.when(activity.starts_at, lang)),
                    ref=f"act:{activity_id}", dedupe_key=f"act:{activity_id}:cancel:{s.user_id}",
                    extra={"fallback": True, "fallback_text": t(
                        lang, "act_cancelled_fallback", title=activity.title)})
            activity = await repo.get(tx, activity_id)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        assert activity is not None
        return activity, len(people)

    async def close(self, user_id: int, chat_id: int, activity_id: int) -> CloseResult:
        """Credit every checked-in person the activity's hours (approved); record no-shows."""
        await self.organised(user_id, chat_id, activity_id)
        now = self.clock.time()
        async with self.db.transaction() as tx:
            activity = await repo.get(tx, activity_id)
            assert activity is not None
            if activity.status != "open":
                self._require_open(activity, 0)
            opens, _ = self.checkin_window(activity)
            if now < opens:  # nobody could have checked in yet
                raise Refusal("err_act_close_early", title=activity.title,
                              when=self.when(activity.starts_at), opens=self.when(opens))
            await repo.set_status(tx, activity_id, "closed", now)
            await self.reminders.cancel(tx, KIND, activity_id)
            served_on = local(activity.starts_at, self.settings.tz).date().isoformat()
            present = no_show = 0
            for s in await repo.roster(tx, activity_id, ("confirmed",)):
                if s.checked_in_at is None:
                    await repo.set_attendance(tx, activity_id, s.user_id, "no_show", None)
                    no_show += 1
                    continue
                entry_id = await self._credit(
                    tx, user_id=s.user_id, org_id=s.org_id or activity.org_id,
                    quarters=activity.quarters, served_on=served_on,
                    description=activity.title, source=f"activity:{activity_id}", by=user_id)
                await repo.set_attendance(tx, activity_id, s.user_id, "present", entry_id)
                present += 1
            activity = await repo.get(tx, activity_id)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        assert activity is not None
        return CloseResult(activity=activity, present=present, no_show=no_show,
                           credited_quarters=present * activity.quarters)

    async def _credit(self, tx: Conn, *, user_id: int, org_id: int, quarters: int,
                      served_on: str, description: str, source: str, by: int) -> int:
        if self.hours is not None:
            return await self.hours.credit(
                tx, user_id=user_id, org_id=org_id, hours=quarters / 4, served_on=served_on,
                description=description, source=source, by=by)
        return await hours_repo.insert(
            tx, user_id=user_id, org_id=org_id, served_on=served_on, quarters=quarters,
            description=description, now=self.clock.time(), status="approved", source=source,
            decided_by=by)

    # --- check-in ----------------------------------------------------------------------------
    async def open_checkin(self, user_id: int, chat_id: int, activity_id: int) -> Activity:
        """Allow check-in for the activity (organiser, until an hour after the start)."""
        activity = await self.organised(user_id, chat_id, activity_id)
        if activity.status != "open":
            self._require_open(activity, 0)
        now = self.clock.time()
        if now > activity.starts_at + CHECKIN_AFTER:
            raise Refusal("err_act_checkin_over", title=activity.title)
        async with self.db.transaction() as tx:
            await repo.open_checkin(tx, activity_id)
        return activity

    def checkin_window(self, a: Activity) -> tuple[float, float]:
        """When check-in opens and closes: an hour either side of the start."""
        return a.starts_at - CHECKIN_BEFORE, a.starts_at + CHECKIN_AFTER

    def _require_checkin(self, a: Activity, s: Signup | None, now: float) -> None:
        if a.status != "open":
            self._require_open(a, 0)
        opens, closes = self.checkin_window(a)
        if not a.checkin_open or not opens <= now <= closes:
            raise Refusal("err_act_checkin_window", title=a.title, opens=self.when(opens),
                          closes=self.when(closes))
        if s is None or s.status != "confirmed":
            raise Refusal("err_act_checkin_not_signed", title=a.title)

    async def checkin_press(self, user_id: int, activity_id: int, chat_id: int,
                            message_id: int | None) -> CheckinResult:
        """The check-in button: done at once, or (with coordinates) ask for a live location."""
        await self.verify_button(activity_id, chat_id, message_id, "checkin")
        activity = await self.get(activity_id)
        return await self._checkin_start(user_id, activity)

    async def _checkin_start(self, user_id: int, activity: Activity) -> CheckinResult:
        now = self.clock.time()
        signup = await repo.signup_of(self.db.reader, activity.id, user_id)
        self._require_checkin(activity, signup, now)
        assert signup is not None
        if signup.checked_in_at is not None:
            return CheckinResult(kind="already", activity=activity)
        if activity.lat is not None:
            async with self.db.transaction() as tx:
                await user_repo.set_flow(tx, user_id, CHECKIN_FLOW,
                                         {"activity_id": activity.id}, now)
            return CheckinResult(kind="need_location", activity=activity)
        async with self.db.transaction() as tx:
            done = await repo.check_in(tx, activity.id, user_id, now)
        return CheckinResult(kind="done" if done else "already", activity=activity)

    async def checkin_link(self, user_id: int, activity_id: int) -> CheckinResult:
        """`/start actin_<id>`: the private side of a check-in that needs a location."""
        return await self._checkin_start(user_id, await self.get(activity_id))

    async def checkin_location(self, user_id: int, lat: float, lon: float,
                               live_period: int | None) -> tuple[CheckinResult, int]:
        """A location sent in the check-in flow: live, inside the radius, in the window."""
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != CHECKIN_FLOW:
            raise Refusal("err_wrong_step")
        activity = await self.get(int(flow.state.get("activity_id") or 0))
        if not live_period:
            raise Refusal("err_act_live_only")
        assert activity.lat is not None and activity.lon is not None
        metres = round(distance_m(lat, lon, activity.lat, activity.lon))
        async with self.db.transaction() as tx:
            now = self.clock.time()
            signup = await repo.signup_of(tx, activity.id, user_id)
            self._require_checkin(activity, signup, now)
            if metres > activity.radius_m:
                raise Refusal("err_act_too_far", metres=metres, radius=activity.radius_m)
            done = await repo.check_in(tx, activity.id, user_id, now)
            await user_repo.clear_flow(tx, user_id)
        return CheckinResult(kind="done" if done else "already", activity=activity), metres

    # --- guided form -------------------------------------------------------------------------
    async def form_begin(self, user_id: int, chat_id: int) -> FormState:
        """Start the guided /activity form for an organiser."""
        org = await self.require_organiser(user_id, chat_id)
        state = FormState(chat_id=chat_id, org_id=org.id)
        await self._form_save(user_id, state)
        return state

    async def form_state(self, user_id: int) -> FormState | None:
        """The person's guided form, if they are filling one in."""
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != FORM:
            return None
        return FormState.model_validate(flow.state)

    async def form_answer(self, user_id: int, text: str | None,
                          location: tuple[float, float] | None, lang: str,
                          chosen: Reading | None = None) -> tuple[FormState, Created | None]:
        """One answer to the form's current step (`chosen`: a start time pressed); the last one
        creates the activity."""
        state = await self.form_state(user_id)
        if state is None or (chosen is not None and state.step != "when"):
            raise Refusal("err_wrong_step")
        ex = self.examples()
        now = self.clock.time()
        if state.step == "title":
            state.title, state.step = parse_title(text, ex), "when"
        elif state.step == "when":
            state.starts_at = parse_when(None if chosen else text, now, self.settings, ex, chosen)
            state.step = "hours"
        elif state.step == "hours":
            state.quarters, state.step = parse_quarters(text, ex), "capacity"
        elif state.step == "capacity":
            state.capacity, state.step = parse_capacity(text, ex), "place"
        elif state.step == "place":
            state.place, state.step = parse_place(text, ex), "location"
        elif state.step == "location":
            lat = lon = None
            if location is not None:
                lat, lon = location
            elif not is_skip(text):
                lat, lon = parse_coords(text, ex)
            assert state.title and state.starts_at and state.quarters and state.capacity
            assert state.place
            data = ActivityInput(title=state.title, starts_at=state.starts_at,
                                 quarters=state.quarters, capacity=state.capacity,
                                 place=state.place, lat=lat, lon=lon, cascade=state.cascade)
            created = await self.create(user_id, state.chat_id, data, lang, origin_by_outbox=True)
            async with self.db.transaction() as tx:
                await user_repo.clear_flow(tx, user_id)
            return state, created
        await self._form_save(user_id, state)
        return state, None

    async def _form_save(self, user_id: int, state: FormState) -> None:
        async with self.db.transaction() as tx:
            await user_repo.set_flow(tx, user_id, FORM, state.model_dump(), self.clock.time())

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
                conn, s.user_id, t(lang, "act_reminder", title=activity.title,
                                   when=self.when(activity.starts_at, lang), place=activity.place,
                                   left=fmt_span(left, lang)),
                ref=f"act:{activity.id}",
                dedupe_key=f"act:{activity.id}:rem:{reminder.step}:{s.user_id}")

