"""Ending an activity: the organiser cancels it (everyone is told) or closes it (the
checked-in are credited their hours, the rest recorded as no-shows).

A mixin of `Activities` (service.py), kept apart so each file holds one concern.
"""

from __future__ import annotations

from bot.domain.activities.copies import CardCopies
from bot.domain.activities.results import CloseResult, Credit
from bot.domain.cache import after_commit
from bot.domain.clock import Clock, local
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity
from bot.domain.outbox import Outbox
from bot.domain.reminders import Reminders
from bot.settings import Settings
from bot.texts import t
from storage import activities as repo
from storage import hours as hours_repo
from storage.db import Conn, Database

KIND = "activity"  # reminders kind: scheduled in service.py, cancelled here


class EndingSteps:
    """Cancel, close and the hours they credit; `Activities` provides the rest.

    `checkin_window` comes from `CheckinSteps`, which must precede this class in the bases.
    """

    db: Database
    clock: Clock
    outbox: Outbox
    reminders: Reminders
    settings: Settings
    hours: Credit | None
    cards: CardCopies

    def lang_of(self, lang: str | None, tg_lang: str | None) -> str:
        raise NotImplementedError

    def when(self, ts: float, lang: str | None = None) -> str:
        raise NotImplementedError

    async def organised(self, user_id: int, chat_id: int, activity_id: int) -> Activity:
        raise NotImplementedError

    def _require_open(self, activity: Activity, now: float) -> None:
        raise NotImplementedError

    def checkin_window(self, a: Activity) -> tuple[float, float]:
        raise NotImplementedError

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
            people = await repo.roster(tx, activity_id, ("confirmed", "waiting"))
            for s in people:
                lang = self.lang_of(s.lang, s.tg_lang)
                await self.outbox.add(
                    tx,
                    s.user_id,
                    t(
                        lang,
                        "act_cancelled_notice",
                        title=activity.title,
                        when=self.when(activity.starts_at, lang),
                    ),
                    ref=f"act:{activity_id}",
                    dedupe_key=f"act:{activity_id}:cancel:{s.user_id}",
                    extra={
                        "fallback": True,
                        "fallback_text": t(lang, "act_cancelled_fallback", title=activity.title),
                    },
                )
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
                raise Refusal(
                    "err_act_close_early",
                    title=activity.title,
                    when=self.when(activity.starts_at),
                    opens=self.when(opens),
                )
            await repo.set_status(tx, activity_id, "closed", now)
            after_commit(self.db, "upcoming")
            await self.reminders.cancel(tx, KIND, activity_id)
            served_on = local(activity.starts_at, self.settings.tz).date().isoformat()
            present = no_show = 0
            own = False
            for s in await repo.roster(tx, activity_id, ("confirmed",)):
                if s.checked_in_at is None:
                    await repo.set_attendance(tx, activity_id, s.user_id, "no_show", None)
                    no_show += 1
                    continue
                entry_id = await self._credit(
                    tx,
                    user_id=s.user_id,
                    org_id=s.org_id or activity.org_id,
                    quarters=activity.quarters,
                    served_on=served_on,
                    description=activity.title,
                    source=f"activity:{activity_id}",
                    by=user_id,
                )
                await repo.set_attendance(tx, activity_id, s.user_id, "present", entry_id)
                present += 1
                own = own or s.user_id == user_id
            activity = await repo.get(tx, activity_id)
            self.db.on_commit(lambda: self.cards.mark(activity_id))
        assert activity is not None
        return CloseResult(
            activity=activity,
            present=present,
            no_show=no_show,
            credited_quarters=present * activity.quarters,
            own_pending=own,
        )

    async def _credit(
        self,
        tx: Conn,
        *,
        user_id: int,
        org_id: int,
        quarters: int,
        served_on: str,
        description: str,
        source: str,
        by: int,
    ) -> int:
        if self.hours is not None:
            return await self.hours.credit(
                tx,
                user_id=user_id,
                org_id=org_id,
                hours=quarters / 4,
                served_on=served_on,
                description=description,
                source=source,
                by=by,
            )
        own = user_id == by  # nobody credits themselves: their entry waits for another approver
        after_commit(self.db, "hours")
        return await hours_repo.insert(
            tx,
            user_id=user_id,
            org_id=org_id,
            served_on=served_on,
            quarters=quarters,
            description=description,
            now=self.clock.time(),
            status="pending" if own else "approved",
            source=source,
            decided_by=None if own else by,
        )
