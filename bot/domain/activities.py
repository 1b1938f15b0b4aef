"""Activities: sign-up cards across the tower, capacity and waitlist, reminders, check-in,
attendance and the hours it earns.

Every decision about a place is made inside one BEGIN IMMEDIATE transaction (the counters on
the activity row), so capacity holds however many people press at once. Messages the bot
starts (cascade copies of a card, promotions, reminders, cancellations) go through the outbox
in the same transaction. Card copies are kept live by `CardEditor`, which coalesces changes:
at most one edit per copy every `COPY_INTERVAL` seconds and at most `GROUP_EDITS` edits per
group per minute, whatever the rate of presses.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from bot.domain.access import Access
from bot.domain.clock import Clock, fmt_local, local
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.outbox import Outbox
from bot.domain.reminders import Reminders
from bot.settings import Settings
from bot.texts import normalise_lang, t
from storage import activities as repo
from storage import hours as hours_repo
from storage import orgs as org_repo
from storage import users as user_repo
from bot.domain.models_activities import Activity, Card, Signup
from storage.db import Conn, Database
from storage.reminders import Reminder

log = logging.getLogger(__name__)

KIND = "activity"  # reminders kind
FORM = "activity_form"  # guided-flow names
CHECKIN_FLOW = "activity_checkin"
MAX_TITLE = 100
MAX_PLACE = 200
MAX_CAPACITY = 100_000
MAX_DAYS_AHEAD = 366
CHECKIN_BEFORE = 3600.0  # the check-in window: 2 h around the start
CHECKIN_AFTER = 3600.0
RADIUS_M = 300
LIST_LIMIT = 30
CASCADE_WORDS = ("cascade", "级联", "全塔")
SKIP_WORDS = ("skip", "跳过", "-", "无")

_WHEN_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{2})$")
_HOURS_RE = re.compile(r"^\d{1,3}(?:\.\d{1,4})?$")
_COORDS_RE = re.compile(r"^(-?\d{1,3}(?:\.\d+)?)\s*[,，]\s*(-?\d{1,3}(?:\.\d+)?)$")


# --- parsing ---------------------------------------------------------------------------------

class ActivityInput(BaseModel):
    """One activity as the organiser typed it, validated."""

    title: str
    starts_at: float
    quarters: int
    capacity: int
    place: str
    lat: float | None = None
    lon: float | None = None
    cascade: bool = False


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def _nfc(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def example_values(now: float, settings: Settings) -> dict[str, str]:
    """Values for the examples in the usage texts (a date a week ahead)."""
    day = (local(now, settings.tz) + timedelta(days=7)).strftime("%Y-%m-%d")
    return {"example_when": f"{day} 09:00"}


def parse_title(text: str | None, ex: dict[str, str]) -> str:
    value = _nfc(text)
    if not value:
        raise Refusal("err_act_title_empty", **ex)
    if len(value) > MAX_TITLE:
        raise Refusal("err_act_title_long", max=MAX_TITLE, got=len(value), **ex)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") for ch in value):
        raise Refusal("err_act_title_empty", **ex)
    return value


def parse_place(text: str | None, ex: dict[str, str]) -> str:
    value = _nfc(text)
    if not value:
        raise Refusal("err_act_place_empty", **ex)
    if len(value) > MAX_PLACE:
        raise Refusal("err_act_place_long", max=MAX_PLACE, got=len(value), **ex)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") for ch in value):
        raise Refusal("err_act_place_empty", **ex)
    return value


def parse_when(text: str | None, now: float, settings: Settings, ex: dict[str, str]) -> float:
    """'YYYY-MM-DD HH:MM' in the configured zone, in the future and within a year."""
    value = _norm(text)
    match = _WHEN_RE.match(value)
    if not match:
        raise Refusal("err_act_when", got=value[:30], **ex)
    y, mo, d, h, mi = (int(g) for g in match.groups())
    try:
        when = datetime(y, mo, d, h, mi, tzinfo=settings.tz)
    except ValueError:
        raise Refusal("err_act_when", got=value[:30], **ex) from None
    ts = when.timestamp()
    if ts <= now:
        raise Refusal("err_act_past", got=value[:30], **ex)
    if ts > now + MAX_DAYS_AHEAD * 86400:
        raise Refusal("err_act_far", got=value[:30], **ex)
    return ts


def parse_quarters(text: str | None, ex: dict[str, str]) -> int:
    """Hours credited: 0.25 to 24 in steps of 0.25, as quarter-hours."""
    value = _norm(text).replace(",", ".")
    if not _HOURS_RE.match(value):
        raise Refusal("err_act_hours", got=value[:20], **ex)
    try:
        hours = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex keeps these out
        raise Refusal("err_act_hours", got=value[:20], **ex) from None
    quarters = hours * 4
    if hours <= 0 or hours > 24 or quarters != quarters.to_integral_value():
        raise Refusal("err_act_hours", got=value[:20], **ex)
    return int(quarters)


def parse_capacity(text: str | None, ex: dict[str, str]) -> int:
    value = _norm(text)
    if not value.isdigit() or not 1 <= int(value) <= MAX_CAPACITY:
        raise Refusal("err_act_capacity", got=value[:20], max=MAX_CAPACITY, **ex)
    return int(value)


def parse_coords(text: str | None, ex: dict[str, str]) -> tuple[float, float]:
    value = _norm(text)
    match = _COORDS_RE.match(value)
    if not match:
        raise Refusal("err_act_coords", got=value[:40], **ex)
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Refusal("err_act_coords", got=value[:40], **ex)
    return lat, lon


def parse_activity(text: str | None, now: float, settings: Settings) -> ActivityInput:
    """'<title> | <YYYY-MM-DD HH:MM> | <hours> | <capacity> | <place> [| lat,lon] [| cascade]'."""
    ex = example_values(now, settings)
    fields = [part.strip() for part in (text or "").split("|")]
    if not 5 <= len(fields) <= 7:
        raise Refusal("usage_activity", got=len(fields) if (text or "").strip() else 0, **ex)
    title = parse_title(fields[0], ex)
    starts_at = parse_when(fields[1], now, settings, ex)
    quarters = parse_quarters(fields[2], ex)
    capacity = parse_capacity(fields[3], ex)
    place = parse_place(fields[4], ex)
    lat = lon = None
    cascade = False
    for extra in fields[5:]:
        if _norm(extra).lower() in CASCADE_WORDS and not cascade:
            cascade = True
        elif lat is None and _COORDS_RE.match(_norm(extra)):
            lat, lon = parse_coords(extra, ex)
        else:
            raise Refusal("err_act_extra", got=extra[:40], **ex)
    return ActivityInput(title=title, starts_at=starts_at, quarters=quarters, capacity=capacity,
                         place=place, lat=lat, lon=lon, cascade=cascade)


def parse_id(text: str | None) -> int:
    value = _norm(text).lstrip("#")
    if not value.isdigit() or len(value) > 12:
        raise Refusal("err_act_id", got=(text or "")[:20])
    return int(value)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def fmt_hours(quarters: int) -> str:
    return f"{quarters / 4:.2f}".rstrip("0").rstrip(".")


def step_name(span: timedelta) -> str:
    """A reminder offset as a stable step name: '24h', '1h', '90m', '2d', '45s'."""
    seconds = int(span.total_seconds())
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def fmt_span(seconds: float, lang: str) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds >= 86400 and seconds % 86400 == 0:
        return t(lang, "act_span_d", n=seconds // 86400)
    if seconds >= 3600 and seconds % 3600 == 0:
        return t(lang, "act_span_h", n=seconds // 3600)
    if seconds >= 60:
        return t(lang, "act_span_m", n=round(seconds / 60))
    return t(lang, "act_span_s", n=seconds)


# --- results ---------------------------------------------------------------------------------

class JoinResult(BaseModel):
    kind: Literal["confirmed", "waiting", "already_confirmed", "already_waiting", "unregistered"]
    activity: Activity | None = None
    position: int = 0
    overlaps: int = 0


class LeaveResult(BaseModel):
    kind: Literal["left", "not_signed_up"]
    activity: Activity
    promoted: int | None = None


class CheckinResult(BaseModel):
    kind: Literal["done", "already", "need_location"]
    activity: Activity


class CloseResult(BaseModel):
    activity: Activity
    present: int
    no_show: int
    credited_quarters: int


class Created(BaseModel):
    activity: Activity
    copies: int  # cascade copies queued in other chats


class FormState(BaseModel):
    """The guided /activity form, kept in the flows table."""

    step: Literal["title", "when", "hours", "capacity", "place", "location"] = "title"
    chat_id: int
    org_id: int
    title: str | None = None
    starts_at: float | None = None
    quarters: int | None = None
    capacity: int | None = None
    place: str | None = None
    cascade: bool = False


class Credit(Protocol):
    """What /close needs of the hours service (bot.domain.hours.Hours.credit)."""

    async def credit(self, conn: Conn, *, user_id: int, org_id: int, hours: float,
                     served_on: str, description: str, source: str, by: int) -> int: ...


# --- the service -----------------------------------------------------------------------------

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
        self.cards = CardEditor(self)
        self._joins = JoinBatcher(db, self._join_batch)
        reminders.on(KIND, self.on_reminder)

    # --- small helpers -----------------------------------------------------------------------
    def lang_of(self, lang: str | None, tg_lang: str | None) -> str:
        return lang or normalise_lang(tg_lang) or self.settings.language

    def when(self, ts: float) -> str:
        return fmt_local(ts, self.settings.tz)

    def examples(self) -> dict[str, str]:
        return example_values(self.clock.time(), self.settings)

    async def get(self, activity_id: int) -> Activity:
        activity = await repo.get(self.db.reader, activity_id)
        if activity is None:
            raise Refusal("err_act_unknown", id=activity_id)
        return activity

    async def started(self, user_id: int) -> bool:
        """Has the person a private chat with the bot (can the bot write first)?"""
        user = await user_repo.get_user(self.db.reader, user_id)
        return bool(user and user.started and user.reachable)

    async def require_organiser(self, user_id: int, chat_id: int) -> Org:
        org = await self.chat_org(chat_id)
        await self.access.require(user_id, org, "secretary")
        return org

    async def chat_org(self, chat_id: int) -> Org:
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
        lang = lang or a.lang
        status = ""
        if a.status == "cancelled":
            status = t(lang, "act_card_cancelled")
        elif a.status == "closed":
            status = t(lang, "act_card_closed")
        elif self.clock.time() >= a.starts_at:
            status = t(lang, "act_card_started")
        return t(lang, "act_card", id=a.id, title=a.title, when=self.when(a.starts_at),
                 place=a.place, hours=fmt_hours(a.quarters), org=a.org_name or "",
                 count=self.count_line(a, lang), status=status)

    @staticmethod
    def count_line(a: Activity, lang: str) -> str:
        return t(lang, "act_count", confirmed=a.confirmed, capacity=a.capacity, waiting=a.waiting)

    def card_markup(self, a: Activity, lang: str | None = None) -> dict[str, Any] | None:
        """Bot API reply_markup of a card: Sign up / Cancel while sign-up is open."""
        if a.status != "open" or self.clock.time() >= a.starts_at:
            return None
        lang = lang or a.lang
        return {"inline_keyboard": [[
            {"text": t(lang, "act_btn_join"), "callback_data": f"act:{a.id}:join"},
            {"text": t(lang, "act_btn_leave"), "callback_data": f"act:{a.id}:leave"},
        ]]}

    def checkin_markup(self, a: Activity, lang: str) -> dict[str, Any]:
        return {"inline_keyboard": [[
            {"text": t(lang, "act_btn_checkin"), "callback_data": f"act:{a.id}:in"}]]}

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

    async def _join_batch(self, tx: Conn, presses: list[_Press]) -> None:
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
        others = "\n".join(t(lang, "act_overlap_line", title=o.title, when=self.when(o.starts_at))
                           for o in overlaps)
        await self.outbox.add(
            tx, user_id, t(lang, "act_overlap", title=activity.title,
                           when=self.when(activity.starts_at), others=others),
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
                                when=self.when(activity.starts_at), place=activity.place),
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
        return await repo.upcoming_of(self.db.reader, user_id, self.clock.time(), 5)

    async def list_open(self, chat_id: int) -> tuple[Org, list[Activity]]:
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
                                     when=self.when(activity.starts_at)),
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
        org = await self.require_organiser(user_id, chat_id)
        state = FormState(chat_id=chat_id, org_id=org.id)
        await self._form_save(user_id, state)
        return state

    async def form_state(self, user_id: int) -> FormState | None:
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != FORM:
            return None
        return FormState.model_validate(flow.state)

    async def form_answer(self, user_id: int, text: str | None,
                          location: tuple[float, float] | None, lang: str
                          ) -> tuple[FormState, Created | None]:
        """One answer to the form's current step; the last one creates the activity."""
        state = await self.form_state(user_id)
        if state is None:
            raise Refusal("err_wrong_step")
        ex = self.examples()
        now = self.clock.time()
        if state.step == "title":
            state.title, state.step = parse_title(text, ex), "when"
        elif state.step == "when":
            state.starts_at, state.step = parse_when(text, now, self.settings, ex), "hours"
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
            elif _norm(text).lower() not in SKIP_WORDS:
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
                                   when=self.when(activity.starts_at), place=activity.place,
                                   left=fmt_span(left, lang)),
                ref=f"act:{activity.id}",
                dedupe_key=f"act:{activity.id}:rem:{reminder.step}:{s.user_id}")


# --- sign-up presses, decided in batches ------------------------------------------------------

@dataclass
class _Press:
    activity_id: int
    user_id: int
    overlaps: list[Activity]
    future: asyncio.Future[JoinResult]
    outcome: JoinResult | Refusal | None = None


class JoinBatcher:
    """Group commit for sign-up presses: presses that arrive while a transaction is running are
    decided together in the next one (in arrival order). A burst of presses then costs one
    BEGIN IMMEDIATE ... COMMIT per batch instead of per press; each press still gets its own
    answer, and a press is answered only after its decision is committed."""

    MAX_BATCH = 500

    def __init__(self, db: Database,
                 decide: Callable[[Conn, list[_Press]], Awaitable[None]]) -> None:
        self.db = db
        self.decide = decide
        self._queue: list[_Press] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, activity_id: int, user_id: int,
                     overlaps: list[Activity]) -> JoinResult:
        future: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Press(activity_id, user_id, overlaps, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="activity-joins")
        return await future

    async def _run(self) -> None:
        while self._queue:
            batch = self._queue[:self.MAX_BATCH]
            del self._queue[:self.MAX_BATCH]
            try:
                async with self.db.transaction() as tx:
                    await self.decide(tx, batch)
            except BaseException as exc:  # nothing of the batch was committed
                for press in batch:
                    if not press.future.done():
                        press.future.set_exception(
                            exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for press in batch:
                if press.future.done():
                    continue
                if isinstance(press.outcome, Refusal):
                    press.future.set_exception(press.outcome)
                elif press.outcome is not None:
                    press.future.set_result(press.outcome)
                else:  # pragma: no cover - decide() answers every press
                    press.future.set_exception(RuntimeError("press left undecided"))


# --- the card editor -------------------------------------------------------------------------

@dataclass(frozen=True)
class EditOutcome:
    kind: Literal["ok", "gone", "retry"]
    wait: float = 0.0


EditFn = Callable[[int, int, str, "dict[str, Any] | None"], Awaitable[EditOutcome]]


@dataclass
class _ChatPace:
    window: deque[float] = field(default_factory=deque)
    pause_until: float = 0.0


class CardEditor:
    """Coalesces card edits: a burst of presses becomes one edit per copy per interval.

    `mark(activity_id)` (after a commit) asks for the activity's copies to be refreshed; the
    handler layer gives `schedule(delay)` (one timer) and runs `flush(edit)` when it fires. The
    database says what is stale (`shown_version < version`), so a restart loses nothing.
    """

    COPY_INTERVAL = 2.0  # seconds between two edits of one copy
    FIRST_DELAY = 0.5  # a fresh change waits this long for company
    GROUP_EDITS = 20  # edits per group chat in any GROUP_WINDOW seconds
    GROUP_WINDOW = 60.0
    UNSENT_RETRY = 1.0  # a copy still in the outbox is looked at again after this

    def __init__(self, service: Activities) -> None:
        self.service = service
        self.dirty: set[int] = set()
        self.schedule: Callable[[float], None] | None = None  # set once the app runs
        self.edits = 0
        self._last_edit: dict[int, float] = {}
        self._chats: dict[int, _ChatPace] = {}
        self._armed_at: float | None = None
        self._flushing = False

    def mark(self, activity_id: int) -> None:
        """The activity changed: its copies will be edited soon (coalesced)."""
        self.dirty.add(activity_id)
        self._arm(self.FIRST_DELAY)

    def attach(self, schedule: Callable[[float], None]) -> None:
        """The handler layer's timer: `schedule(delay)` runs `flush` after `delay` seconds."""
        self.schedule = schedule
        self._armed_at = None
        if self.dirty:
            self._arm(self.FIRST_DELAY)

    def _arm(self, delay: float) -> None:
        if self._flushing or self.schedule is None:
            return  # the running flush re-arms when it ends; no timer yet: attach() arms
        at = time.monotonic() + delay
        if self._armed_at is not None and self._armed_at <= at + 0.01:
            return
        self._armed_at = at
        self.schedule(delay)

    async def restore(self) -> None:
        """At start-up: copies left stale by a restart become dirty again."""
        for activity_id in await repo.stale_activity_ids(self.service.db.reader):
            self.mark(activity_id)

    async def resolve(self, activity_ids: list[int]) -> None:
        """Learn the message ids of copies the outbox has sent since."""
        db = self.service.db
        found: list[tuple[int, int]] = []
        gone: list[int] = []
        for activity_id in activity_ids:
            cards = [c for c in await repo.cards_of(db.reader, [activity_id])
                     if c.message_id is None and c.outbox_id is not None]
            if not cards:
                continue
            items = {i.id: i for i in await self.service.outbox.by_ref(f"act:{activity_id}")}
            for card in cards:
                item = items.get(card.outbox_id or 0)
                if item is None or item.status in ("failed", "cancelled"):
                    gone.append(card.id)
                elif item.status == "sent" and item.message_ids:
                    found.append((card.id, int(item.message_ids[-1])))
        if found or gone:
            async with db.transaction() as tx:
                for card_id, message_id in found:
                    await repo.set_card_message(tx, card_id, message_id)
                await repo.mark_gone(tx, gone)

    def _ready_at(self, card: Card, now: float) -> float:
        pace = self._chats.setdefault(card.chat_id, _ChatPace())
        at = max(self._last_edit.get(card.id, float("-inf")) + self.COPY_INTERVAL,
                 pace.pause_until)
        if card.chat_id < 0:
            while pace.window and pace.window[0] <= now - self.GROUP_WINDOW:
                pace.window.popleft()
            if len(pace.window) >= self.GROUP_EDITS:
                at = max(at, pace.window[-self.GROUP_EDITS] + self.GROUP_WINDOW + 0.1)
        return at

    async def flush(self, edit: EditFn) -> None:
        """Edit every stale copy the limits allow now; re-arm for the rest."""
        if self._flushing:
            return
        self._armed_at = None
        self._flushing = True
        next_at: float | None = None
        try:
            ids, self.dirty = sorted(self.dirty), set()
            if not ids:
                return
            still: set[int] = set()
            try:
                next_at = await self._flush(ids, edit, still)
            except Exception:
                log.exception("card editor: flush failed")
                still.update(ids)
                next_at = time.monotonic() + self.COPY_INTERVAL
            self.dirty |= still
        finally:
            self._flushing = False
        if self.dirty:
            delay = self.FIRST_DELAY if next_at is None else max(0.05, next_at - time.monotonic())
            self._arm(delay)

    async def _flush(self, ids: list[int], edit: EditFn, still: set[int]) -> float | None:
        db = self.service.db
        await self.resolve(ids)
        activities = {a.id: a for a in await repo.many(db.reader, ids)}
        now = time.monotonic()
        next_at: float | None = None
        per_chat: dict[int, list[tuple[Card, Activity]]] = {}
        for card in await repo.cards_of(db.reader, ids):
            activity = activities.get(card.activity_id)
            if activity is None or card.shown_version >= activity.version:
                continue
            still.add(activity.id)
            if card.message_id is None:
                at = now + self.UNSENT_RETRY
            else:
                at = self._ready_at(card, now)
                if at <= now:  # reserve the slot before awaiting anything
                    self._last_edit[card.id] = now
                    if card.chat_id < 0:
                        self._chats[card.chat_id].window.append(now)
                    per_chat.setdefault(card.chat_id, []).append((card, activity))
                    continue
            next_at = at if next_at is None else min(next_at, at)

        shown: list[tuple[int, int]] = []
        gone: list[int] = []
        rendered: dict[int, tuple[str, dict[str, Any] | None]] = {}

        async def run_chat(chat_id: int, jobs: list[tuple[Card, Activity]]) -> None:
            nonlocal next_at
            for card, activity in jobs:
                if activity.id not in rendered:
                    rendered[activity.id] = (self.service.card_text(activity),
                                             self.service.card_markup(activity))
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
                    self._chats[chat_id].pause_until = at
                    next_at = at if next_at is None else min(next_at, at)

        await asyncio.gather(*(run_chat(c, jobs) for c, jobs in per_chat.items()))
        if shown or gone:
            async with db.transaction() as tx:
                await repo.mark_shown(tx, shown)
                await repo.mark_gone(tx, gone)
        # an activity stays dirty while any copy is behind (re-checked against the database)
        done_ids = {card_id for card_id, _ in shown} | set(gone)
        for activity_id in list(still):
            behind = [c for c in await repo.cards_of(db.reader, [activity_id])
                      if c.id not in done_ids and c.shown_version < activities[activity_id].version]
            if not behind:
                still.discard(activity_id)
        return next_at
