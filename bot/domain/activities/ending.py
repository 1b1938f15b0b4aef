"""Ending an activity: the organiser cancels it (everyone is told) or closes it (the
checked-in are credited their hours, the rest recorded as no-shows).

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

from bot.domain.activities.base import KIND, ActivityBase
from bot.domain.activities.posts import post_name, quarters_of
from bot.domain.activities.results import CloseResult
from bot.domain.cache import after_commit
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity
from storage import activities as repo
from storage import attendance as att_repo


class EndingSteps(ActivityBase):
    """Cancel, close and the hours they credit."""

    async def cancel(self, user_id: int, chat_id: int, activity_id: int) -> tuple[Activity, int]:
        """The organiser calls it off: everyone signed up or waiting is told privately."""
        await self.organised(user_id, chat_id, activity_id)
        async with self.db.transaction() as tx:
            activity = await repo.get(tx, activity_id)
            assert activity is not None
            after_commit(self.db, "upcoming")  # off everyone's /me
            if not await repo.set_status(tx, activity_id, "cancelled", self.clock.time()):
                self._require_open(activity, 0)
            await self.reminders.cancel(tx, KIND, activity_id)
            told = await self.tell_roster(
                tx,
                activity,
                ("confirmed", "waiting"),
                "act_cancelled_notice",
                once="cancel",
                fallback="act_cancelled_fallback",
            )
            activity = await repo.get(tx, activity_id)
            assert activity is not None
            await self.after_cancel(tx, activity)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        return activity, told

    async def close(self, user_id: int, chat_id: int, activity_id: int) -> CloseResult:
        """Credit every checked-in person the activity's hours (approved); record no-shows.
        The organiser's marks (attendance.py) win over the check-in."""
        await self.organised(user_id, chat_id, activity_id)
        now = self.clock.time()
        async with self.db.transaction() as tx:
            activity = await repo.get(tx, activity_id)
            assert activity is not None
            if activity.status != "open":
                self._require_open(activity, 0)
            opens, _ = self.checkin_window(activity)
            if now < opens:  # nobody could have checked in yet
                raise Refusal(
                    "err_act_close_early",
                    title=activity.title,
                    when=self.when(activity.starts_at),
                    opens=self.when(opens),
                )
            await repo.set_status(tx, activity_id, "closed", now)
            after_commit(self.db, "upcoming")
            if activity.kind:  # attendance of a training: on the cadres' training record
                after_commit(self.db, "cadres")
            await self.reminders.cancel(tx, KIND, activity_id)
            served_on = local(activity.starts_at, self.settings.tz).date().isoformat()
            present = no_show = credited = 0
            own = False
            marks = await att_repo.marks_of(tx, activity_id)  # the organiser's, over check-in
            for s in await repo.roster(tx, activity_id, ("confirmed",)):
                mark = marks.get(s.user_id)
                if mark == "no_show" or (mark is None and s.checked_in_at is None):
                    await repo.set_attendance(tx, activity_id, s.user_id, "no_show", None)
                    no_show += 1
                    continue
                quarters = quarters_of(activity, s.post_no)  # a shift's own length
                entry_id = await self.hours.credit(
                    tx,
                    user_id=s.user_id,
                    org_id=s.org_id or activity.org_id,
                    hours=quarters / 4,
                    served_on=served_on,
                    description=" · ".join(
                        x for x in (activity.title, post_name(activity, s.post_no)) if x
                    ),
                    source=f"activity:{activity_id}",
                    by=user_id,
                    evidence="checkin" if s.checked_in_at is not None else "marked",
                )
                await repo.set_attendance(tx, activity_id, s.user_id, "present", entry_id)
                present += 1
                credited += quarters
                own = own or s.user_id == user_id
            activity = await repo.get(tx, activity_id)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        assert activity is not None
        return CloseResult(
            activity=activity,
            present=present,
            no_show=no_show,
            credited_quarters=credited,
            own_pending=own,
        )
