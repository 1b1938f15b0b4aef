"""The organiser edits an activity: `/activity edit <id> | 时间 … | 地点 … | 人数 … | 说明 …`.

Every card copy is redrawn (the version moves on), the people signed up or waiting are told
privately what changed, a lower capacity moves the last confirmed people back to the head of
the waitlist and a higher one promotes from it (each told), the reminders follow a new time,
and whoever took the calendar file gets the new one (same UID, SEQUENCE + 1). All of it in one
transaction on the locked activity row.

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from bot.domain import validate
from bot.domain.activities.base import KIND
from bot.domain.activities.calendar import CalendarSteps
from bot.domain.activities.parsing import (
    DEADLINE_WORDS,
    NOTE_WORDS,
    example_values,
    option,
    parse_capacity,
    parse_deadline,
    parse_id,
    parse_note,
    parse_place,
    parse_title,
    parse_when,
)
from bot.domain.activities.recurrence import at_day
from bot.domain.cache import after_commit
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity
from bot.domain.when import Choose
from bot.settings import Settings
from bot.texts import Raw, t
from storage import activities as repo
from storage import activity_edit as edit_repo
from storage import activity_posts as post_repo
from storage.db import Conn

EDIT_WORDS = ("edit", "修改", "编辑")
#: field -> the words that name it in `| <word> <value>`
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "title": ("标题", "title"),
    "when": ("时间", "开始", "time", "when", "start"),
    "place": ("地点", "place", "where"),
    "capacity": ("人数", "名额", "capacity", "places"),
    "note": NOTE_WORDS,
    "deadline": DEADLINE_WORDS,
}
NO_DEADLINE = float("inf")  # parse a deadline before the start it must precede is known


class ActivityEdit(BaseModel):
    """What an edit changes (None: left as it is)."""

    activity_id: int
    title: str | None = None
    starts_at: float | None = None
    place: str | None = None
    capacity: int | None = None
    note: str | None = None
    signup_deadline: float | None = None


class EditResult(BaseModel):
    """The activity after the edit, the fields changed and who was told or moved."""

    activity: Activity
    fields: list[str]
    told: int
    demoted: int = 0
    promoted: int = 0


def parse_edit(text: str | None, now: float, settings: Settings) -> ActivityEdit:
    """'<id> | <field word> <value> [| …]' with each field at most once (see FIELD_WORDS)."""
    ex = example_values(now, settings)
    parts = [part.strip() for part in (text or "").split("|")]
    if len(parts) < 2 or not parts[0]:
        raise Refusal("usage_activity_edit", **ex)
    edit = ActivityEdit(activity_id=parse_id(parts[0]))
    seen: set[str] = set()
    for part in parts[1:]:
        odd = validate.odd_char(part)
        if odd is not None:
            raise Refusal("err_act_odd_char", code=f"U+{ord(odd):04X}")
        name, value = next(
            ((f, v) for f, words in FIELD_WORDS.items() if (v := option(part, words)) is not None),
            (None, None),
        )
        if name is None or value is None or name in seen:
            raise Refusal("err_act_edit_field", got=validate.excerpt(part), **ex)
        seen.add(name)
        if name == "title":
            edit.title = parse_title(value, ex)
        elif name == "when":
            try:
                edit.starts_at = parse_when(value, now, settings, ex)
            except Choose:  # no buttons here: the organiser writes it so it reads one way
                raise Refusal("err_act_when_exact", got=validate.excerpt(value), **ex) from None
        elif name == "place":
            edit.place = parse_place(value, ex)
        elif name == "capacity":
            edit.capacity = parse_capacity(value, ex)
        elif name == "note":
            edit.note = parse_note(value, ex)
        else:
            edit.signup_deadline = parse_deadline(value, now, NO_DEADLINE, settings, ex)
    return edit


class EditSteps(CalendarSteps):
    """The organiser's edit."""

    async def edit(self, user_id: int, chat_id: int, change: ActivityEdit) -> EditResult:
        """Apply `change` to an open activity that has not started (organiser only)."""
        await self.organised(user_id, chat_id, change.activity_id)
        now = self.clock.time()
        async with self.db.transaction() as tx:
            old = await repo.get_locked(tx, change.activity_id)
            assert old is not None
            return await self.edit_in(tx, old, change.model_dump(exclude={"activity_id"}), now)

    async def edit_in(
        self, tx: Conn, old: Activity, values: dict[str, object], now: float, *, tell: bool = True
    ) -> EditResult:
        """Apply `values` (None: unchanged) to the locked activity `old` in the caller's
        transaction; `tell=False` leaves telling the roster what changed, and sending the
        calendar file again, to the caller (a series' edit tells each person once for all its
        occurrences)."""
        if old.status != "open":
            self._require_open(old, 0)
        if now >= old.starts_at:
            raise Refusal("err_act_edit_started", title=old.title)
        new = old.model_copy(update={k: v for k, v in values.items() if v is not None})
        fields = [
            f
            for f in ("title", "starts_at", "place", "capacity", "note", "signup_deadline")
            if getattr(new, f) != getattr(old, f)
        ]
        if not fields:
            raise Refusal("err_act_edit_same", id=old.id)
        if "capacity" in fields and old.post_count:
            raise Refusal("err_act_edit_posts_capacity", id=old.id)
        if new.signup_deadline is not None and new.signup_deadline > new.starts_at:
            raise Refusal(
                "err_act_deadline_late", got=self.when(new.signup_deadline), **self.examples()
            )
        demoted: list[int] = []
        promoted: list[int] = []
        if "capacity" not in fields:  # (with posts, each post keeps its own waitlist)
            pass
        elif new.capacity < old.confirmed:
            demoted = await edit_repo.demote(tx, old.id, old.confirmed - new.capacity)
        elif new.capacity > old.confirmed and old.waiting:
            count = min(old.waiting, new.capacity - old.confirmed)
            promoted = await edit_repo.promote(tx, old.id, count)
        moved = len(demoted) - len(promoted)
        await edit_repo.update(
            tx,
            old.id,
            title=new.title,
            place=new.place,
            starts_at=new.starts_at,
            capacity=new.capacity,
            note=new.note,
            signup_deadline=new.signup_deadline,
            confirmed=old.confirmed - moved,
            waiting=old.waiting + moved,
        )
        if "starts_at" in fields:
            await self._move_shifts(tx, old, new.starts_at)
        activity = await repo.get(tx, old.id)
        assert activity is not None
        if "starts_at" in fields or "signup_deadline" in fields:
            await self._reschedule(tx, activity, now)
        told = 0
        if tell:
            told = await self.tell_roster(
                tx,
                activity,
                ("confirmed", "waiting"),
                "act_edited",
                lambda lang: {"changes": self._changes(old, activity, fields, lang)},
                once=f"edit{activity.edits}",
            )
        await self._tell_moved(tx, activity, demoted, "act_demoted", old.capacity)
        await self._tell_moved(tx, activity, promoted, "act_promoted_edit", old.capacity)
        if tell:  # (a series' edit sends its one file once, after all its occurrences)
            await self.resend_calendars(tx, activity)
        after_commit(self.db, "upcoming")  # a new time or place on people's /me
        self.db.on_commit(lambda: self.cards.mark(activity.id))
        return EditResult(
            activity=activity,
            fields=fields,
            told=told,
            demoted=len(demoted),
            promoted=len(promoted),
        )

    async def _move_shifts(self, tx: Conn, old: Activity, starts_at: float) -> None:
        """Posts' shifts are on the activity's day: a new day takes them along, at the same
        times of day (a new time on the same day leaves them as they are)."""
        tz = self.settings.tz
        day = local(starts_at, tz).date()
        if day == local(old.starts_at, tz).date():
            return
        await post_repo.set_shifts(
            tx,
            old.id,
            [
                (
                    p.post_no,
                    at_day(p.shift_start, day, tz),
                    at_day(p.shift_start, day, tz) + (p.shift_end - p.shift_start),
                )
                for p in old.posts
                if p.shift_start is not None and p.shift_end is not None
            ],
        )

    async def _reschedule(self, tx: Conn, a: Activity, now: float) -> None:
        """The reminders follow the new time: the pending ones go, the new ones carry the edit
        count in their step (a step is scheduled once, and a reminder told once, per name)."""
        await self.reminders.cancel(tx, KIND, a.id)
        suffix = f".e{a.edits}"
        await self.schedule_nudges(tx, a, now, suffix)
        await self.reminders.add(tx, KIND, a.id, "start" + suffix, a.starts_at)
        if a.signup_deadline is not None and now < a.signup_deadline < a.starts_at:
            await self.reminders.add(tx, KIND, a.id, "deadline" + suffix, a.signup_deadline)

    def _changes(self, old: Activity, new: Activity, fields: list[str], lang: str) -> str:
        """One line per changed field: 'Time: old → new'."""
        shown: dict[str, Callable[[Activity], str]] = {
            "title": lambda a: a.title,
            "starts_at": lambda a: self.when(a.starts_at, lang),
            "place": lambda a: a.place,
            "capacity": lambda a: str(a.capacity),
            "note": lambda a: a.note or "—",
            "signup_deadline": lambda a: self.when(a.deadline, lang),
        }
        return Raw(
            "\n".join(
                t(lang, f"act_edit_line_{f}", old=shown[f](old), new=shown[f](new)) for f in fields
            )
        )

    async def _tell_moved(
        self, tx: Conn, a: Activity, user_ids: list[int], key: str, was: int
    ) -> None:
        """Tell each person moved by the capacity change (demoted: their waitlist position)."""
        langs = await repo.user_langs(tx, user_ids)
        for position, user_id in enumerate(user_ids, start=1):
            lang = self.lang_of(*langs.get(user_id, (None, None)))
            await self.tell(
                tx,
                user_id,
                lang,
                a,
                key,
                {"place": a.place, "was": was, "capacity": a.capacity, "position": position},
                once=f"moved{a.edits}",
                fallback="act_moved_fallback",
            )
