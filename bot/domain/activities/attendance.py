"""Attendance marked by the organiser, for people without a phone at hand: present, no-show or
undo, on a paged roster sent privately to the organiser, before and after /close.

Before /close a mark only decides what /close will count (a mark wins over the check-in;
undo leaves it to the check-in again). After /close the hours follow at once: marking
present credits a new approved entry (evidence 'marked', or 'checkin' when they had checked
in; the volunteer is told privately, through the outbox in the same transaction); marking a credited person no-show (or undoing the mark that credited them) revokes that
entry with a reason (approved entries are never edited: hours_revoke.py). Every mark is logged
(`attendance_marks`: who, when, what, and the entry it credited or revoked). Nobody marks
their own attendance.

The roster's buttons carry `att:<verb>:<activity>:<user>:<page>` (`p` present, `n` no-show,
`u` undo) and `att:g:<activity>:<page>` (another page): built by `build`, read by `parse`, here.

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple, cast

from pydantic import BaseModel

from bot.domain.activities.base import ActivityBase
from bot.domain.activities.parsing import fmt_hours
from bot.domain.activities.posts import post_name, quarters_of
from bot.domain.cache import after_commit
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity
from bot.domain.models_attendance import RosterLine
from bot.texts import t
from storage import activities as repo
from storage import attendance as att_repo
from storage import hours as hour_repo
from storage import orgs as org_repo
from storage.db import Conn

PAGE = 8
Verb = Literal["p", "n", "u", "g"]
PATTERN = r"^att:"
_MARK_RE = re.compile(r"att:([pnu]):([0-9]{1,12}):([0-9]{1,15}):([0-9]{1,6})")
_PAGE_RE = re.compile(r"att:g:([0-9]{1,12}):([0-9]{1,6})")
_MARKS: dict[str, str | None] = {"p": "present", "n": "no_show", "u": None}


class Press(NamedTuple):
    """A roster button: `verb` on `activity_id` for person `user_id` (0 for another page),
    pressed on (or leading to) roster page `page`."""

    verb: Verb
    activity_id: int
    user_id: int
    page: int


def build(verb: Verb, activity_id: int, page: int, user_id: int = 0) -> str:
    """The callback data of one roster button (at most 48 bytes)."""
    if verb == "g":
        return f"att:g:{activity_id}:{page}"
    return f"att:{verb}:{activity_id}:{user_id}:{page}"


def parse(data: str | None) -> Press:
    """The button behind callback data; anything else is refused."""
    match = _MARK_RE.fullmatch(data or "")
    if match is not None:
        verb = cast(Verb, match.group(1))
        return Press(verb, int(match.group(2)), int(match.group(3)), int(match.group(4)))
    match = _PAGE_RE.fullmatch(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    return Press("g", int(match.group(1)), 0, int(match.group(2)))


class RosterPage(BaseModel):
    """One page of an activity's roster as the organiser marks it."""

    activity: Activity
    lines: list[RosterLine]
    page: int
    pages: int
    total: int


class Marked(BaseModel):
    """What one press did: nothing (a repeat), or a mark and the hours it moved."""

    changed: bool
    name: str
    credited: int | None = None
    revoked: int | None = None


class AttendanceSteps(ActivityBase):
    """The roster's marks and the hours they move."""

    async def attendance_of(self, user_id: int, activity_id: int) -> Activity:
        """The activity, if the person may mark its attendance (secretary or staff of its org
        or above); a cancelled one has no attendance."""
        activity = await self.get(activity_id)
        org = await org_repo.get(self.db.reader, activity.org_id)
        assert org is not None
        await self.access.require(user_id, org, "secretary")
        if activity.status == "cancelled":
            raise Refusal("err_act_cancelled", title=activity.title)
        return activity

    async def roster_page(
        self, user_id: int, activity_id: int, page: int, *, clamp: bool = False
    ) -> RosterPage:
        """A page of the confirmed people with their check-in and marks (organisers only);
        a page past the end is refused, or (`clamp`, redrawing after a mark) the last one."""
        activity = await self.attendance_of(user_id, activity_id)
        total = await att_repo.confirmed_count(self.db.reader, activity_id)
        pages = max(1, -(-total // PAGE))
        if clamp:
            page = min(page, pages - 1)
        if not 0 <= page < pages:
            raise Refusal("err_stale_button")
        lines = await att_repo.roster_page(
            self.db.reader, activity_id, limit=PAGE, offset=page * PAGE
        )
        return RosterPage(activity=activity, lines=lines, page=page, pages=pages, total=total)

    async def mark(
        self, user_id: int, activity_id: int, target: int, verb: Verb, lang: str
    ) -> Marked:
        """Mark `target` present / no-show, or undo the mark; after /close the hours follow.
        A repeated press changes nothing."""
        await self.attendance_of(user_id, activity_id)
        if target == user_id:
            raise Refusal("err_att_self")
        wanted = _MARKS[verb]
        async with self.db.transaction() as tx:
            activity = await repo.get_locked(tx, activity_id)
            assert activity is not None
            line = await att_repo.line_of(tx, activity_id, target)
            if line is None:
                raise Refusal("err_att_not_signed")
            name = line.first_name or str(target)
            if line.marked == wanted:
                return Marked(changed=False, name=name)
            await att_repo.set_marked(tx, activity_id, target, wanted)
            credited = revoked = None
            closed = activity.status == "closed"
            if closed:
                credited, revoked = await self._follow(tx, activity, line, wanted, user_id, lang)
            await att_repo.log(
                tx,
                activity_id=activity_id,
                user_id=target,
                mark=wanted or "undo",
                by=user_id,
                at=self.clock.time(),
                after_close=closed,
                credited=credited,
                revoked=revoked,
            )
        return Marked(changed=True, name=name, credited=credited, revoked=revoked)

    async def _follow(
        self,
        tx: Conn,
        activity: Activity,
        line: RosterLine,
        wanted: str | None,
        by: int,
        lang: str,
    ) -> tuple[int | None, int | None]:
        """After /close: credit or revoke so the hours match the new attendance; (credited
        entry, revoked entry)."""
        checked = line.checked_in_at is not None
        now_present = wanted == "present" or (wanted is None and checked)
        was_present = line.attendance == "present"
        if now_present == was_present:
            await repo.set_attendance(
                tx, activity.id, line.user_id, line.attendance or "no_show", line.hour_entry_id
            )
            return None, None
        if now_present:
            quarters = quarters_of(activity, line.post_no)  # a shift's own length, as /close
            entry_id = await self.hours.credit(
                tx,
                user_id=line.user_id,
                org_id=line.org_id or activity.org_id,
                hours=quarters / 4,
                served_on=self.served_on(activity),
                description=" · ".join(
                    x for x in (activity.title, post_name(activity, line.post_no)) if x
                ),
                source=f"activity:{activity.id}",
                by=by,
                evidence="checkin" if checked else "marked",
            )
            await repo.set_attendance(tx, activity.id, line.user_id, "present", entry_id)
            # the volunteer learns of hours credited after the close (in this transaction)
            await self.tell(
                tx,
                line.user_id,
                self.lang_of(line.lang, line.tg_lang),
                activity,
                "att_told_credited",
                {"hours": fmt_hours(quarters), "id": entry_id},
                once=f"credited:{entry_id}",
            )
            return entry_id, None
        revoked = line.hour_entry_id
        if revoked is not None:
            reason = t(lang, "att_revoke_reason", title=activity.title)
            entry = await hour_repo.get(tx, revoked)
            if entry is not None and entry.status == "approved":
                await self.hours.revoke_in(tx, revoked, by=by, reason=reason)
            elif entry is not None and entry.status == "pending":  # the organiser's own credit
                after_commit(self.db, "hours")
                await hour_repo.decide(
                    tx, revoked, status="rejected", by=by, now=self.clock.time(), reason=reason
                )
        await repo.set_attendance(tx, activity.id, line.user_id, "no_show", None)
        return None, revoked

    def served_on(self, activity: Activity) -> str:
        """The local day an activity's hours are credited on."""
        return local(activity.starts_at, self.settings.tz).date().isoformat()
