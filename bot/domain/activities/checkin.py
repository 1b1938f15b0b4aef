"""Check-in: the organiser opens it, people press the button (and, where the activity has
coordinates, send a live location inside the radius) within an hour either side of the start.

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

from bot.domain import cache as flows
from bot.domain.activities.base import CHECKIN_AFTER, ActivityBase
from bot.domain.activities.parsing import distance_m
from bot.domain.activities.results import CheckinResult
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity, Signup
from bot.texts import Raw, t
from storage import activities as repo
from storage import users as user_repo

CHECKIN_FLOW = "activity_checkin"  # the guided flow waiting for a live location


class CheckinSteps(ActivityBase):
    """The check-in steps."""

    async def open_checkin(
        self, user_id: int, chat_id: int, activity_id: int, lang: str = "zh"
    ) -> tuple[Activity, int | None]:
        """Allow check-in (organiser, until an hour after the start); the activity and the
        outbox stand-in of the check-in message the handler replies with."""
        activity = await self.organised(user_id, chat_id, activity_id)
        if activity.status != "open":
            self._require_open(activity, 0)
        now = self.clock.time()
        last = max([activity.starts_at] + [p.shift_start or 0 for p in activity.posts])
        if now > last + CHECKIN_AFTER:
            raise Refusal("err_act_checkin_over", title=activity.title)
        async with self.db.transaction() as tx:
            await repo.open_checkin(tx, activity_id)
            guard_id = await self._queue_card(
                tx,
                activity,
                chat_id,
                kind="checkin",
                text=self.checkin_text(activity, lang),
                markup=self.checkin_markup(activity, lang),
                guard=True,
            )
        return activity, guard_id

    def checkin_text(self, a: Activity, lang: str) -> str:
        """The check-in message: the window, and the radius if a location is required."""
        opens, closes = self.checkin_window(a)
        geo = t(lang, "act_checkin_geo", radius=a.radius_m) if a.lat is not None else ""
        return t(
            lang,
            "act_checkin_open",
            title=a.title,
            opens=self.when(opens),
            closes=self.when(closes),
            geo=Raw(geo),
        )

    def _require_checkin(self, a: Activity, s: Signup | None, now: float) -> None:
        if a.status != "open":
            self._require_open(a, 0)
        opens, closes = self.checkin_window(a, s.post_no if s is not None else None)
        if not a.checkin_open or not opens <= now <= closes:
            raise Refusal(
                "err_act_checkin_window",
                title=a.title,
                opens=self.when(opens),
                closes=self.when(closes),
            )
        if s is None or s.status != "confirmed":
            raise Refusal("err_act_checkin_not_signed", title=a.title)

    async def checkin_press(
        self, user_id: int, activity_id: int, chat_id: int, message_id: int | None
    ) -> CheckinResult:
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
                await flows.set_flow(
                    self.db, tx, user_id, CHECKIN_FLOW, {"activity_id": activity.id}, now
                )
            return CheckinResult(kind="need_location", activity=activity)
        async with self.db.transaction() as tx:
            done = await repo.check_in(tx, activity.id, user_id, now)
        return CheckinResult(kind="done" if done else "already", activity=activity)

    async def checkin_link(self, user_id: int, activity_id: int) -> CheckinResult:
        """`/start actin_<id>`: the private side of a check-in that needs a location."""
        return await self._checkin_start(user_id, await self.get(activity_id))

    async def checkin_location(
        self, user_id: int, lat: float, lon: float, live_period: int | None
    ) -> tuple[CheckinResult, int]:
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
            await flows.clear_flow(self.db, tx, user_id)
        return CheckinResult(kind="done" if done else "already", activity=activity), metres
