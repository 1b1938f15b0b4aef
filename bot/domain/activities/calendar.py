"""An activity's calendar file (RFC 5545, made with `icalendar`) and the card's "Add to calendar"
button: the file goes to the presser's private chat through the outbox, uploaded once per
activity and SEQUENCE (`upload_key`) and re-sent by file_id; who took it is recorded, so an
edit sends them the new file (same UID, higher SEQUENCE), a cancelled occurrence of a series
the series' file with that day in EXDATE, and a cancelled activity (or a series with nothing
left) a cancellation (METHOD:CANCEL, STATUS:CANCELLED, same UID, higher SEQUENCE).

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

from bot.domain.activities.base import ActivityBase
from bot.domain.activities.posts import shift_of
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity, Post
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


def _calendar(method: str = "PUBLISH") -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    return cal


def _event(
    a: Activity, tz: ZoneInfo, now: float, uid: str, sequence: int, post: Post | None = None
) -> Event:
    """One VEVENT: start and end in the bot's time zone, the place, a reminder; for a person
    on a post with its own shift (`post`), the shift's start and end, the post in the title."""
    start = datetime.fromtimestamp(a.starts_at, tz)
    # as long as the hours it credits (the same span the overlap warning uses)
    end = start + timedelta(minutes=15 * a.quarters)
    summary = a.title
    if post is not None and post.shift_start is not None and post.shift_end is not None:
        start = datetime.fromtimestamp(post.shift_start, tz)
        end = datetime.fromtimestamp(post.shift_end, tz)
        summary = f"{a.title} · {post.name}"
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", datetime.fromtimestamp(now, UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
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


def ics(a: Activity, tz: ZoneInfo, now: float, post: Post | None = None) -> bytes:
    """The activity as a one-event calendar: start and end in the bot's time zone (with its
    VTIMEZONE), the place, a reminder, a stable UID and the edit count as SEQUENCE (`post`:
    the shift of the person it is for)."""
    cal = _calendar()
    cal.add_component(_event(a, tz, now, uid_of(a), a.edits, post))
    return _done(cal)


#: iCalendar's day names, Monday first (a weekly rule's day is 0-6, Monday = 0)
BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def series_ics(occurrences: list[Activity], rule: str, tz: ZoneInfo, now: float) -> bytes:
    """A series as one recurring event from its first occurrence with the series' rule
    (RRULE weekly on its days until the last one held; a list of dates as RDATE), EXDATE for
    the days it gives that are not held (cancelled, even the first, or moved); an occurrence
    whose time, place, title or length differs from the first is its own event beside it."""
    ordered = sorted(occurrences, key=lambda a: (a.starts_at, a.id))
    live = [a for a in ordered if a.status != "cancelled"]
    cal = _calendar()
    if not live:
        return _done(cal)  # nothing held: the takers get `cancel_ics` instead
    first = ordered[0]  # the anchor (DTSTART), in EXDATE when it was cancelled

    def shape(a: Activity) -> tuple[object, ...]:
        return (a.title, a.place, a.quarters, datetime.fromtimestamp(a.starts_at, tz).time())

    regular = [a for a in live if shape(a) == shape(first)]
    if not regular:  # the first one was moved and the rest follow it: anchor there
        first = live[0]
        regular = [a for a in live if shape(a) == shape(first)]
    assert first.series_id is not None
    master = _event(first, tz, now, series_uid(first.series_id), sequence_of(occurrences))
    master.pop("status")  # the series is held, even when its first day is not
    master.add("status", "CONFIRMED")
    anchor = datetime.fromtimestamp(first.starts_at, tz)
    starts = [datetime.fromtimestamp(a.starts_at, tz) for a in regular]
    held, missing = set(starts), []
    if rule == "dates":
        if [s for s in starts if s != anchor]:
            master.add("rdate", [s for s in starts if s != anchor])
        missing = [
            datetime.fromtimestamp(a.starts_at, tz) for a in ordered if a.status == "cancelled"
        ]
        missing = [d for d in missing if d >= anchor and d not in held]
    else:
        days = list(range(5)) if rule == "weekdays" else [int(rule.split(":")[1])]
        last = starts[-1]
        master.add(
            "rrule",
            {"freq": "weekly", "byday": [BYDAY[d] for d in days], "until": last.astimezone(UTC)},
        )
        day = anchor
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


def cancel_ics(a: Activity, uid: str, sequence: int, tz: ZoneInfo, now: float) -> bytes:
    """The cancellation of an activity (or of a whole series, by its UID): METHOD:CANCEL with
    STATUS:CANCELLED and a higher SEQUENCE, which calendars apply by removing the event."""
    cal = _calendar("CANCEL")
    event = _event(a, tz, now, uid, sequence)
    event.pop("status")
    event.add("status", "CANCELLED")
    event.subcomponents = []  # no reminder for what is not held
    cal.add_component(event)
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
        """Queue the activity's file (as it is now: `_file`) to the person and record that they
        have it; False when that version was queued for them before."""
        shift = None
        if activity.series_id is None and activity.status != "cancelled":
            held = await repo.signup_of(tx, activity.id, user_id)
            if held is not None and held.status in ("confirmed", "waiting"):
                shift = shift_of(activity, held.post_no)
        sequence, data, name, upload = await self._file(tx, activity, shift)
        sid = activity.series_id
        prefix = f"act:{activity.id}" if sid is None else f"series:{sid}"
        own = f":p{shift.post_no}" if shift is not None else ""  # another post: another file
        title, starts_at = activity.title, activity.starts_at
        if shift is not None and shift.shift_start is not None:
            title, starts_at = f"{activity.title} · {shift.name}", shift.shift_start
        queued = await self.outbox.add(
            tx,
            user_id,
            t(lang, key, title=title, when=self.when(starts_at, lang)),
            kind="document",
            ref=f"act:{activity.id}",
            dedupe_key=f"{prefix}:ics:{sequence}:{user_id}{own}",
            extra={
                "data_b64": base64.b64encode(data).decode("ascii"),
                "filename": f"{name}.ics",
                "mime_type": MIME,
                "upload_key": upload,
            },
        )
        await edit_repo.take_calendar(tx, activity.id, user_id, sequence, self.clock.time())
        return queued is not None

    async def _file(
        self, tx: Conn, activity: Activity, shift: Post | None = None
    ) -> tuple[int, bytes, str, str]:
        """(SEQUENCE, file, name, upload key) of the activity's file as it is now: of an
        occurrence, the series' one file while any of it is held; once nothing is (or for a
        cancelled single activity), the cancellation under the same UID; for a person on a
        post with a shift (`shift`, single activities), the shift's own file."""
        now, tz = self.clock.time(), self.settings.tz
        if activity.series_id is not None:
            occurrences = await repo.of_series(tx, activity.series_id)
            sequence, name = sequence_of(occurrences), f"series-{activity.series_id}"
            if any(a.status != "cancelled" for a in occurrences):
                data = series_ics(occurrences, activity.series_rule or "dates", tz, now)
                return sequence, data, name, upload_key(activity, sequence)
            first = min(occurrences, key=lambda a: (a.starts_at, a.id))
            data = cancel_ics(first, series_uid(activity.series_id), sequence, tz, now)
            return sequence, data, name, f"seriescancel:{activity.series_id}:{sequence}"
        name = f"activity-{activity.id}"
        if activity.status == "cancelled":
            sequence = sequence_of([activity])
            data = cancel_ics(activity, uid_of(activity), sequence, tz, now)
            return sequence, data, name, f"actcancel:{activity.id}:{sequence}"
        if shift is not None:
            upload = f"{upload_key(activity)}:p{shift.post_no}"
            return activity.edits, ics(activity, tz, now, shift), name, upload
        return activity.edits, ics(activity, tz, now), name, upload_key(activity)

    async def resend_calendars(
        self, tx: Conn, activity: Activity, key: str = "act_calendar_updated"
    ) -> int:
        """After an edit or a cancel: everyone who took an older file gets the file as it is
        now (of a series: whoever took the file from any of its occurrences); how many."""
        ids = [activity.id]
        if activity.series_id is not None:
            ids = [a.id for a in await repo.of_series(tx, activity.series_id)]
        takers: list[int] = []
        for one in ids:
            takers += [u for u, _ in await edit_repo.calendar_takers(tx, one) if u not in takers]
        langs = await repo.user_langs(tx, takers)
        for user_id in takers:
            lang = self.lang_of(*langs.get(user_id, (None, None)))
            await self.send_calendar(tx, activity, user_id, lang, key)
        return len(takers)

    async def cancel_calendars(self, tx: Conn, activity: Activity, key: str) -> int:
        """After a cancel: the takers get the cancellation file, or, while some of its series
        is still held, the series' updated file (`key`: its message); how many."""
        if activity.series_id is not None:
            occurrences = await repo.of_series(tx, activity.series_id)
            if all(a.status == "cancelled" for a in occurrences):
                key = "act_calendar_cancelled"
        elif activity.status == "cancelled":
            key = "act_calendar_cancelled"
        return await self.resend_calendars(tx, activity, key)

    async def after_cancel(self, tx: Conn, activity: Activity) -> None:
        """A cancel of one activity (or one occurrence): its calendar files follow."""
        await super().after_cancel(tx, activity)
        await self.cancel_calendars(tx, activity, "act_calendar_series_cancelled")

    async def forget_calendars(self, user_id: int) -> None:
        """/forgetme: no record of the files the person took."""
        async with self.db.transaction() as tx:
            await edit_repo.forget_calendars(tx, user_id)
