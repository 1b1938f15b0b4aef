"""What every part of `Activities` stands on: lookups, permissions, cards, creating an
activity and telling a person about one.

`ActivityBase` holds each of these once; the step mixins (`form`, `checkin`, `ending`) and the
service (`service.py`) all derive from it, so the mixins call them without restating them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Literal

from bot.domain.activities import cards as card_view
from bot.domain.activities.copies import CardCopies
from bot.domain.activities.parsing import ActivityInput, example_values, step_name
from bot.domain.activities.posts import post_name, shift_of, starts_of
from bot.domain.activities.results import Created
from bot.domain.errors import Refusal
from bot.domain.hours import Hours
from bot.domain.models import Org
from bot.domain.models_activities import Activity
from bot.domain.service import ServiceBase
from bot.texts import normalise_lang, t
from storage import activities as repo
from storage import activity_posts as post_repo
from storage import orgs as org_repo
from storage.db import Conn

#: work a caller adds to a write's transaction (it commits or rolls back with it)
InTransaction = Callable[[Conn], Awaitable[None]]

KIND = "activity"  # reminders kind: scheduled by `create`, cancelled by cancel and close
RADIUS_M = 300
CHECKIN_BEFORE = 3600.0  # the check-in window: 2 h around the start
CHECKIN_AFTER = 3600.0


class ActivityBase(ServiceBase):
    """The helpers every step uses; `Activities` (service.py) sets `hours` and `cards`."""

    hours: Hours  # /close credits attendance through it
    cards: CardCopies  # the gateway's card editor listens here

    # --- small helpers -----------------------------------------------------------------------
    def lang_of(self, lang: str | None, tg_lang: str | None) -> str:
        """The person's language: chosen, else Telegram's, else the bot's default."""
        return lang or normalise_lang(tg_lang) or self.settings.language

    def when(self, ts: float, lang: str | None = None) -> str:
        """A time as people read it ('12月8日（周二）18:00' / 'Tue 8 Dec, 18:00')."""
        return self.fmt(ts, lang)

    def examples(self) -> dict[str, str]:
        """Values for the examples in usage texts."""
        return example_values(self.clock.time(), self.settings)

    async def get(self, activity_id: int) -> Activity:
        """The activity, or a refusal if there is none with that id."""
        activity = await repo.get(self.db.reader, activity_id)
        if activity is None:
            raise Refusal("err_act_unknown", id=activity_id)
        return activity

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

    def post_lines(self, a: Activity, lang: str) -> list[str]:
        """One line per post with its fill (none without posts)."""
        return card_view.post_lines(a, lang, self.settings.tz)

    @staticmethod
    def post_name(a: Activity, post_no: int | None) -> str:
        """The post's name ('' without one)."""
        return post_name(a, post_no)

    def card_markup(self, a: Activity, lang: str | None = None) -> dict[str, Any] | None:
        """Bot API reply_markup of a card: Sign up / Cancel while sign-up is open."""
        return card_view.card_markup(a, lang or a.lang, self.clock.time())

    def checkin_markup(self, a: Activity, lang: str) -> dict[str, Any]:
        """Bot API reply_markup of the check-in message."""
        return card_view.checkin_markup(a, lang)

    async def verify_button(
        self, activity_id: int, chat_id: int, message_id: int | None, kind: str
    ) -> None:
        """In a group, a button counts only on a message recorded for that very activity.

        Private copies (deep links) carry only the card's buttons, and the handler has made
        sure the private chat is the presser's own: they can only affect themselves.
        """
        if chat_id >= 0:
            if kind != "card":
                raise Refusal("err_act_bad_button")  # check-in is never offered privately
            return
        card = await repo.card_at(self.db.reader, chat_id, message_id or 0)
        if card is None:
            await self.cards.resolve([activity_id])
            card = await repo.card_at(self.db.reader, chat_id, message_id or 0)
        if card is None or card.activity_id != activity_id or card.kind != kind:
            raise Refusal("err_act_bad_button")

    # --- creating ----------------------------------------------------------------------------
    async def create(
        self,
        user_id: int,
        chat_id: int,
        data: ActivityInput,
        lang: str,
        *,
        origin_by_outbox: bool = False,
        then: InTransaction | None = None,
    ) -> Created:
        """Store the activity, schedule its reminders, queue cascade copies (and, for the guided
        form, the origin chat's card) through the outbox; `then` runs in the same transaction
        (the guided form ends there, so a crash cannot leave it to create the activity twice)."""
        org = await self.require_organiser(user_id, chat_id)
        now = self.clock.time()
        if data.starts_at <= now:
            raise Refusal("err_act_past", got=self.when(data.starts_at), **self.examples())
        async with self.db.transaction() as tx:
            activity = await self._store(tx, org, data, lang, user_id, now)
            created = await self._post_cards(
                tx, activity, org, chat_id, data.cascade, origin_by_outbox
            )
            if then is not None:
                await then(tx)
            return created

    async def _store(
        self, tx: Conn, org: Org, data: ActivityInput, lang: str, user_id: int, now: float
    ) -> Activity:
        """Insert one activity and schedule its reminders (a series calls it per occurrence)."""
        activity_id = await repo.insert(
            tx,
            **data.model_dump(exclude={"cascade", "series", "posts"}),  # the typed fields: columns
            org_id=org.id,
            radius_m=RADIUS_M,
            lang=lang,
            created_by=user_id,
            now=now,
        )
        if data.posts:
            await post_repo.insert(tx, activity_id, [p.model_dump() for p in data.posts])
        activity = await repo.get(tx, activity_id)
        assert activity is not None
        await self.schedule_nudges(tx, activity, now)
        await self.reminders.add(tx, KIND, activity_id, "start", data.starts_at)
        if data.signup_deadline is not None and data.signup_deadline < data.starts_at:
            await self.reminders.add(tx, KIND, activity_id, "deadline", data.signup_deadline)
        return activity

    async def schedule_nudges(self, tx: Conn, a: Activity, now: float, suffix: str = "") -> None:
        """The reminders people get: `settings.activity_reminders` before the start ('24h'),
        and the same before each post's own shift ('24h.p2': its people are reminded of their
        shift instead, `Activities.on_reminder`); `suffix`, an edit's ('.e3')."""
        for span in self.settings.activity_reminders:
            name, before = step_name(span), span.total_seconds()
            if a.starts_at - before > now:
                await self.reminders.add(tx, KIND, a.id, name + suffix, a.starts_at - before)
            for p in a.posts:
                if p.shift_start is not None and p.shift_start - before > now:
                    step = f"{name}.p{p.post_no}{suffix}"
                    await self.reminders.add(tx, KIND, a.id, step, p.shift_start - before)

    async def _post_cards(
        self,
        tx: Conn,
        activity: Activity,
        org: Org,
        chat_id: int,
        cascade: bool,
        origin_by_outbox: bool,
    ) -> Created:
        """Queue the cascade copies (and, for the guided form, the origin chat's card)."""
        targets = [chat_id] if origin_by_outbox else []
        if cascade:
            targets += [c for c in await repo.active_chats_in(tx, org.path) if c != chat_id]
        for target in targets:
            await self._queue_card(tx, activity, target)
        # the card the handler replies with: a crash or a 429 before it goes loses nothing
        guard_id = (
            None if origin_by_outbox else await self._queue_card(tx, activity, chat_id, guard=True)
        )
        return Created(
            activity=activity, copies=len(targets) - int(origin_by_outbox), guard_id=guard_id
        )

    async def _queue_card(
        self,
        tx: Conn,
        activity: Activity,
        chat_id: int,
        *,
        kind: str = "card",
        text: str | None = None,
        markup: dict[str, Any] | None = None,
        guard: bool = False,
    ) -> int | None:
        """Queue a card (or check-in) copy and record it, linked to its outbox row."""
        # a card is a live control with buttons: folding it into a digest would break it
        queue = self.outbox.guard if guard else partial(self.outbox.add, urgent=True)
        outbox_id = await queue(
            tx,
            chat_id,
            text or self.card_text(activity),
            reply_markup=markup or self.card_markup(activity),
            ref=f"act:{activity.id}",
            dedupe_key=None if guard else f"act:{activity.id}:{kind}:{chat_id}",
        )
        if outbox_id is not None:
            await repo.add_card(
                tx,
                activity_id=activity.id,
                chat_id=chat_id,
                kind=kind,
                outbox_id=outbox_id,
                shown_version=activity.version,
            )
        return outbox_id

    async def after_cancel(self, tx: Conn, activity: Activity) -> None:
        """What else cancelling one activity does in its transaction (the mixins add theirs:
        calendar files, a series' next card); `activity` is already cancelled."""

    def _require_open(self, activity: Activity, now: float) -> None:
        if activity.status == "cancelled":
            raise Refusal("err_act_cancelled", title=activity.title)
        if activity.status != "open":
            raise Refusal("err_act_closed", title=activity.title)
        if now >= activity.deadline:
            if activity.signup_deadline is None or now >= activity.starts_at:
                raise Refusal("err_act_signup_closed", title=activity.title)
            raise Refusal(
                "err_act_deadline_passed",
                title=activity.title,
                when=self.when(activity.signup_deadline),
            )

    async def tell(
        self,
        tx: Conn,
        user_id: int,
        lang: str,
        activity: Activity,
        key: str,
        fields: dict[str, object] | None = None,
        *,
        once: str | None = None,
        fallback: str | None = None,
    ) -> None:
        """Queue a private message about `activity`, filed under it: every such text names its
        title and start in the person's language (`fields`: the text's other values). `once`
        names the notice so a repeat queues nothing; `fallback`, the key of the mention in the
        org chat for a person the bot cannot write to. Cancel, promotion, overlap and reminders
        all tell this way."""
        text = t(
            lang,
            key,
            title=activity.title,
            when=self.when(activity.starts_at, lang),
            **(fields or {}),
        )
        extra = None
        if fallback is not None:
            extra = {"fallback": True, "fallback_text": t(lang, fallback, title=activity.title)}
        await self.outbox.add(
            tx,
            user_id,
            text,
            ref=f"act:{activity.id}",
            dedupe_key=None if once is None else f"act:{activity.id}:{once}:{user_id}",
            extra=extra,
        )

    async def tell_roster(
        self,
        tx: Conn,
        activity: Activity,
        statuses: tuple[str, ...],
        key: str,
        fields: Callable[[str], dict[str, object]] | None = None,
        *,
        once: str,
        fallback: str | None = None,
        post_no: int | Literal["unshifted"] | None = None,
    ) -> int:
        """`tell` everyone of the activity in `statuses`, each in their language (`fields`:
        the text's other values in that language); how many were told. `post_no`: only the
        people of that post; "unshifted": only those whose post has no shift of its own."""
        if isinstance(post_no, int):
            people = await repo.roster(tx, activity.id, statuses, post_no)
        else:
            people = await repo.roster(tx, activity.id, statuses)
        if post_no == "unshifted":
            people = [s for s in people if shift_of(activity, s.post_no) is None]
        for s in people:
            lang = self.lang_of(s.lang, s.tg_lang)
            values = fields(lang) if fields else None
            await self.tell(
                tx, s.user_id, lang, activity, key, values, once=once, fallback=fallback
            )
        return len(people)

    def checkin_window(self, a: Activity, post_no: int | None = None) -> tuple[float, float]:
        """When check-in opens and closes: an hour either side of the start (of the post's
        shift, for a post with one; it opens no later than for the activity)."""
        starts = starts_of(a, post_no)
        return min(a.starts_at, starts) - CHECKIN_BEFORE, starts + CHECKIN_AFTER
