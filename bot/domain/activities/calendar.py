"""An activity's calendar file (RFC 5545, made with `icalendar`) and the card's "Add to calendar"
button: the file goes to the presser's private chat through the outbox, uploaded once per
activity and SEQUENCE (`upload_key`) and re-sent by file_id; who took it is recorded, so an
edit sends them the new file (same UID, higher SEQUENCE).

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

from bot.domain.activities.base import ActivityBase
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity
from bot.texts import t
from storage import activities as repo
from storage import activity_edit as edit_repo
from storage import users as user_repo
from storage.db import Conn

PRODID = "-//TowerBot//Activities//ZH"
ALARM_BEFORE = timedelta(hours=1)  # the calendar's own reminder
MIME = "text/calendar"


def uid_of(a: Activity) -> str:
    """The activity's UID: the same in every file made of it, whatever is edited."""
    return f"activity-{a.id}-{int(a.created_at)}@towerbot"


def series_uid(series_id: int) -> str:
    """A series' UID: one recurring event in the person's calendar."""
    return f"series-{series_id}@towerbot"


def sequence_of(occurrences: list[Activity]) -> int:
    """A file's SEQUENCE: it grows with every edit and every cancelled occurrence."""
    return sum(a.edits + int(a.status == "cancelled") for a in occurrences)


def upload_key(a: Activity, sequence: int | None = None) -> str:
    """The key its file is uploaded under, once per SEQUENCE (a series: one file for all)."""
    if a.series_id is not None:
        return f"seriesics:{a.series_id}:{sequence or 0}"
    return f"actics:{a.id}:{a.edits}"


def _calendar() -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    return cal


def _event(a: Activity, tz: ZoneInfo, now: float, uid: str, sequence: int) -> Event:
    """One VEVENT: start and end in the bot's time zone, the place, a reminder."""
    start = datetime.fromtimestamp(a.starts_at, tz)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", datetime.fromtimestamp(now, UTC))
    event.add("dtstart", start)
    # as long as the hours it credits (the same span the overlap warning uses)
    event.add("dtend", start + timedelta(minutes=15 * a.quarters))
    event.add("summary", a.title)
    event.add("location", a.place)
    description = "\n".join(x for x in (a.note, a.org_name) if x)
    if description:
        event.add("description", description)
    if a.lat is not None and a.lon is not None:
        event.add("geo", (a.lat, a.lon))
    event.add("status", "CANCELLED" if a.status == "cancelled" else "CONFIRMED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", a.title)
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    return event


def _done(cal: Calendar) -> bytes:
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def ics(a: Activity, tz: ZoneInfo, now: float) -> bytes:
    """The activity as a one-event calendar: start and end in the bot's time zone (with its
    VTIMEZONE), the place, a reminder, a stable UID and the edit count as SEQUENCE."""
    cal = _calendar()
    cal.add_component(_event(a, tz, now, uid_of(a), a.edits))
    return _done(cal)


#: iCalendar's day names, Monday first (a weekly rule's day is 0-6, Monday = 0)
BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def series_ics(occurrences: list[Activity], rule: str, tz: ZoneInfo, now: float) -> bytes:
    """A series as one recurring event: the first open occurrence with the series' rule
    (RRULE weekly on its days until the last one; a list of dates as RDATE), EXDATE for the
    days the rule gives that are not held (cancelled, or moved); an occurrence whose time,
    place, title or length differs from the first is its own event beside it."""
    live = sorted((a for a in occurrences if a.status == "open"), key=lambda a: a.starts_at)
    cal = _calendar()
    if not live:
        return _done(cal)
    first = live[0]

    def shape(a: Activity) -> tuple[object, ...]:
        return (a.title, a.place, a.quarters, datetime.fromtimestamp(a.starts_at, tz).time())

    regular = [a for a in live if shape(a) == shape(first)]
    assert first.series_id is not None
    master = _event(first, tz, now, series_uid(first.series_id), sequence_of(occurrences))
    starts = [datetime.fromtimestamp(a.starts_at, tz) for a in regular]
    if rule == "dates":
        if len(starts) > 1:
            master.add("rdate", starts[1:])
    else:
        days = list(range(5)) if rule == "weekdays" else [int(rule.split(":")[1])]
        last = starts[-1]
        master.add(
            "rrule",
            {"freq": "weekly", "byday": [BYDAY[d] for d in days], "until": last.astimezone(UTC)},
        )
        held, day, missing = set(starts), starts[0], []
        while day <= last:
            if day.weekday() in days and day not in held:
                missing.append(day)
            day = datetime.combine(day.date() + timedelta(days=1), day.timetz())
        if missing:
            master.add("exdate", missing)
    cal.add_component(master)
    for a in live:
        if shape(a) != shape(first):
            cal.add_component(_event(a, tz, now, uid_of(a), a.edits))
    return _done(cal)


class CalendarSteps(ActivityBase):
    """The Add to calendar button and the files an edit sends again."""

    async def calendar_press(
        self, user_id: int, activity_id: int, chat_id: int, message_id: int | None
    ) -> Literal["sent", "again", "start_bot"]:
        """Queue the file for the presser's private chat: 'again' when this very version was
        sent to them already (a double tap), 'start_bot' when the bot cannot write to them."""
        await self.verify_button(activity_id, chat_id, message_id, "card")
        activity = await repo.get(self.db.reader, activity_id)
        if activity is None:
            raise Refusal("err_act_bad_button")
        self._require_not_started(activity)
        user = await user_repo.get_user(self.db.reader, user_id)
        if not (user and user.started and user.reachable):
            return "start_bot"
        lang = self.lang_of(user.lang, user.tg_lang)
        async with self.db.transaction() as tx:
            activity = await repo.get(tx, activity_id)
            assert activity is not None
            queued = await self.send_calendar(tx, activity, user_id, lang, "act_calendar_file")
        return "sent" if queued else "again"

    def _require_not_started(self, activity: Activity) -> None:
        if activity.status != "open":
            self._require_open(activity, 0)
        if self.clock.time() >= activity.starts_at:
            raise Refusal("err_act_signup_closed", title=activity.title)

    async def send_calendar(
        self, tx: Conn, activity: Activity, user_id: int, lang: str, key: str
    ) -> bool:
        """Queue the activity's file (as it is now; an occurrence of a series: the series' one
        file) to the person and record that they have it; False when that version was queued
        for them before."""
        now, tz = self.clock.time(), self.settings.tz
        if activity.series_id is not None:
            occurrences = await repo.of_series(tx, activity.series_id)
            sequence = sequence_of(occurrences)
            data = series_ics(occurrences, activity.series_rule or "dates", tz, now)
            name, dedupe = f"series-{activity.series_id}", f"series:{activity.series_id}"
        else:
            sequence, data = activity.edits, ics(activity, tz, now)
            name, dedupe = f"activity-{activity.id}", f"act:{activity.id}"
        queued = await self.outbox.add(
            tx,
            user_id,
            t(lang, key, title=activity.title, when=self.when(activity.starts_at, lang)),
            kind="document",
            ref=f"act:{activity.id}",
            dedupe_key=f"{dedupe}:ics:{sequence}:{user_id}",
            extra={
                "data_b64": base64.b64encode(data).decode("ascii"),
                "filename": f"{name}.ics",
                "mime_type": MIME,
                "upload_key": upload_key(activity, sequence),
            },
        )
        await edit_repo.take_calendar(tx, activity.id, user_id, sequence, now)
        return queued is not None

    async def resend_calendars(self, tx: Conn, activity: Activity) -> int:
        """After an edit: everyone who took an older file gets this one (of a series: whoever
        took the file from any of its occurrences); how many."""
        ids = [activity.id]
        if activity.series_id is not None:
            ids = [a.id for a in await repo.of_series(tx, activity.series_id)]
        takers: list[int] = []
        for one in ids:
            takers += [u for u, _ in await edit_repo.calendar_takers(tx, one) if u not in takers]
        langs = await repo.user_langs(tx, takers)
        for user_id in takers:
            lang = self.lang_of(*langs.get(user_id, (None, None)))
            await self.send_calendar(tx, activity, user_id, lang, "act_calendar_updated")
        return len(takers)

    async def forget_calendars(self, user_id: int) -> None:
        """/forgetme: no record of the files the person took."""
        async with self.db.transaction() as tx:
            await edit_repo.forget_calendars(tx, user_id)
