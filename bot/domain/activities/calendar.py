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


def upload_key(a: Activity) -> str:
    """The key its file is uploaded under, once per SEQUENCE."""
    return f"actics:{a.id}:{a.edits}"


def ics(a: Activity, tz: ZoneInfo, now: float) -> bytes:
    """The activity as a one-event calendar: start and end in the bot's time zone (with its
    VTIMEZONE), the place, a reminder, a stable UID and the edit count as SEQUENCE."""
    start = datetime.fromtimestamp(a.starts_at, tz)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid_of(a))
    event.add("sequence", a.edits)
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
    cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


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
        """Queue the activity's file (as it is now) to the person and record that they have
        it; False when that version was queued for them before."""
        queued = await self.outbox.add(
            tx,
            user_id,
            t(lang, key, title=activity.title, when=self.when(activity.starts_at, lang)),
            kind="document",
            ref=f"act:{activity.id}",
            dedupe_key=f"act:{activity.id}:ics:{activity.edits}:{user_id}",
            extra={
                "data_b64": base64.b64encode(
                    ics(activity, self.settings.tz, self.clock.time())
                ).decode("ascii"),
                "filename": f"activity-{activity.id}.ics",
                "mime_type": MIME,
                "upload_key": upload_key(activity),
            },
        )
        await edit_repo.take_calendar(tx, activity.id, user_id, activity.edits, self.clock.time())
        return queued is not None

    async def resend_calendars(self, tx: Conn, activity: Activity) -> int:
        """After an edit: everyone who took an older file gets this one; how many."""
        takers = [u for u, seq in await edit_repo.calendar_takers(tx, activity.id)]
        langs = await repo.user_langs(tx, takers)
        for user_id in takers:
            lang = self.lang_of(*langs.get(user_id, (None, None)))
            await self.send_calendar(tx, activity, user_id, lang, "act_calendar_updated")
        return len(takers)

    async def forget_calendars(self, user_id: int) -> None:
        """/forgetme: no record of the files the person took."""
        async with self.db.transaction() as tx:
            await edit_repo.forget_calendars(tx, user_id)
