"""Cadre posts and terms (团干部 选、育、管、用): each org declares its posts (书记, 副书记, 委员),
staff appoint holders with a mode (专职 / 挂职 / 兼职) and a term, and vacate them.

- An org that declared nothing has one implicit 书记 post, held by its secretaries: the
  roster and 配备率 read exactly as "orgs with a secretary" did. The first change to an org's
  posts makes that post real (one per secretary, at least one).
- Holding a 书记 post and the 'secretary' role at its org go together: an appointment grants
  the role (unless the person is staff there), a handover or vacating takes it from the
  predecessor (unless they hold another 书记 post there, or are staff). What is addressed by
  org + role — hours waiting in /pending, report-backs owed and their reminders — therefore
  follows the post to the successor, with no item to move.
- Terms end on a local date; the holder and the staff of the nearest org above with staff are
  told privately (outbox) `warn_days` before it, by fire-once reminders keyed by the holding
  and the end date (a changed term schedules anew, a handover cancels the old ones).
- 在岗率: holders who acted in TowerBot in the last 30 days (decided hours, organised an
  activity, submitted a report-back, acknowledged an announcement) ÷ holders.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import cast

from bot.domain import cache
from bot.domain.access import RANK
from bot.domain.cadre_sheet import CadreSheet, holder_cells
from bot.domain.cadres_input import Appointment, PostRef, Term
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_cadres import Holding, Post, RosterLine, Training
from bot.domain.models_reminders import Reminder
from bot.domain.service import Core, ServiceBase
from bot.domain.xlsx import Sheet, book, day_words, save
from bot.texts import t
from storage import cadres as repo
from storage import orgs as org_repo
from storage import privacy as privacy_repo
from storage import users as user_repo
from storage.db import Conn

log = logging.getLogger(__name__)

KIND = "cadre_term"
#: the days before a term's end when its holder and the staff above are told
WARN_DAYS = (30, 7)
#: a term reminder goes at this local hour
WARN_AT = time(9, 0)
ACTIVE_DAYS = 30


@dataclass(frozen=True)
class CadreRoster:
    """The roster of a subtree: its posts with holders, figures and training records."""

    org: Org
    lines: list[RosterLine]
    figures: dict[str, int]
    trainings: dict[int, list[Training]] = field(default_factory=dict)


@dataclass(frozen=True)
class Changed:
    """The post a command changed, its org, and the holder before and after."""

    org: Org
    post: Post
    before: Holding | None
    after: Holding | None


class Cadres(ServiceBase):
    """Services behind /cadres, the training record, and the term reminders."""

    def __init__(self, core: Core, lang_of: Callable[[int], Awaitable[str]]) -> None:
        super().__init__(core)
        self.lang_of = lang_of
        self.warn_days: tuple[int, ...] = WARN_DAYS
        self.reminders.on(KIND, self._term_due)
        #: the annual cadre sheet (/export cadres [year])
        self.sheet = CadreSheet(core)

    # --- reading ---------------------------------------------------------------------------

    async def staff_org(self, user_id: int, chat_id: int) -> Org:
        """This chat's org, once the person is shown to be staff there."""
        org = await self.access.org_of_chat(chat_id)
        await self.access.require(user_id, org, "staff")
        return org

    async def roster(self, user_id: int, chat_id: int) -> CadreRoster:
        """/cadres: the posts of this chat's org and below (staff)."""
        org = await self.staff_org(user_id, chat_id)
        r = self.db.reader
        lines = await repo.roster(r, org.path)
        held = sorted({line.user_id for line in lines if line.user_id is not None})
        trainings: dict[int, list[Training]] = {}
        for item in await repo.trainings(r, held):
            trainings.setdefault(item.user_id, []).append(item)
        return CadreRoster(
            org=org, lines=lines, figures=await self.figures(org), trainings=trainings
        )

    async def figures(self, org: Org) -> dict[str, int]:
        """posts, posts_filled (配备率) and holders, holders_active (在岗率) of the subtree."""
        since = self.clock.time() - ACTIVE_DAYS * 86400
        return await repo.figures(self.db.reader, org.path, since)

    async def record(self, user_id: int) -> tuple[list[RosterLine], list[Training]]:
        """The person's posts now and the trainings they attended (for /me); cached until a
        post changes hands or a training closes."""
        store = cache.cache_of(self.db)
        found = store.get("cadres", user_id)
        if found is not cache.MISSING:
            return cast(tuple[list[RosterLine], list[Training]], found)
        stamp = store.stamp("cadres")
        fresh = await repo.record_of(self.db.reader, user_id)
        store.put("cadres", user_id, fresh, stamp)
        return fresh

    # --- changing --------------------------------------------------------------------------

    async def add_posts(self, user_id: int, chat_id: int, position: str, n: int) -> list[int]:
        """Declare `n` more posts of `position` at this chat's org (staff)."""
        org = await self.staff_org(user_id, chat_id)
        now = self.clock.time()
        async with self.db.transaction() as tx:
            cache.after_commit(self.db, "cadres")
            await self._declared(tx, org, now)
            return [await repo.add_post(tx, org.id, position, now) for _ in range(n)]

    async def remove_post(self, user_id: int, chat_id: int, ref: PostRef) -> Changed:
        """Remove a vacant post (an org keeps at least one)."""
        chat_org = await self.staff_org(user_id, chat_id)
        async with self.db.transaction() as tx:
            cache.after_commit(self.db, "cadres")
            org, post = await self._resolve(tx, user_id, chat_org, ref, vacant_first=True)
            if await repo.current(tx, post.id) is not None:
                raise Refusal("err_cadre_remove_held", post=post.id)
            if len(await repo.posts_of(tx, org.id)) <= 1:
                raise Refusal("err_cadre_last_post", org=org.name)
            await repo.remove_post(tx, post.id, self.clock.time())
        return Changed(org=org, post=post, before=None, after=None)

    async def appoint(
        self, user_id: int, chat_id: int, ref: PostRef, target_id: int, what: Appointment
    ) -> Changed:
        """Appoint a registered person to a post; a held post is handed over to them."""
        chat_org = await self.staff_org(user_id, chat_id)
        if target_id == user_id:
            raise Refusal("err_cadre_self")
        now = self.clock.time()
        async with self.db.transaction() as tx:
            cache.after_commit(self.db, "cadres")  # on the /me of both holders
            if await user_repo.get_person(tx, target_id) is None:
                raise Refusal("err_target_not_registered")
            org, post = await self._resolve(tx, user_id, chat_org, ref, vacant_first=True)
            before = await repo.current(tx, post.id)
            if before is not None and before.user_id == target_id:
                raise Refusal("err_cadre_already", post=post.id)
            if before is not None:
                await self._end(tx, org, post, before, user_id, now)
            holding_id = await repo.add_holding(
                tx,
                post_id=post.id,
                user_id=target_id,
                mode=what.mode,
                term_start=what.term.start if what.term else None,
                term_end=what.term.end if what.term else None,
                by=user_id,
                now=now,
            )
            after = await repo.get_holding(tx, holding_id)
            assert after is not None
            if post.position == "secretary":
                await self._grant(tx, org, target_id, user_id, now)
            await self._schedule(tx, after, now)
            await self._tell(tx, target_id, "cadre_told_appointed", org, post, after)
            if before is not None:
                await self._tell(tx, before.user_id, "cadre_told_handed_over", org, post, before)
        return Changed(org=org, post=post, before=before, after=after)

    async def set_mode(self, user_id: int, chat_id: int, ref: PostRef, mode: str) -> Changed:
        """The holder's mode (专职 / 挂职 / 兼职)."""
        return await self._update(user_id, chat_id, ref, mode=mode)

    async def set_term(self, user_id: int, chat_id: int, ref: PostRef, term: Term) -> Changed:
        """The holder's term; its end reminders are scheduled anew."""
        return await self._update(user_id, chat_id, ref, term=term)

    async def vacate(self, user_id: int, chat_id: int, ref: PostRef) -> Changed:
        """The post becomes vacant (its 书记 role goes with it)."""
        chat_org = await self.staff_org(user_id, chat_id)
        now = self.clock.time()
        async with self.db.transaction() as tx:
            cache.after_commit(self.db, "cadres")
            org, post, before = await self._held(tx, user_id, chat_org, ref)
            await self._end(tx, org, post, before, user_id, now)
            await self._tell(tx, before.user_id, "cadre_told_vacated", org, post, before)
        return Changed(org=org, post=post, before=before, after=None)

    async def forget(self, user_id: int) -> None:
        """/forgetme: the person's holdings go (their posts become vacant), reminders too."""
        async with self.db.transaction() as tx:
            cache.after_commit(self.db, "cadres")
            for holding_id in await repo.forget(tx, user_id):
                await self.reminders.cancel(tx, KIND, holding_id)

    async def _update(
        self,
        user_id: int,
        chat_id: int,
        ref: PostRef,
        *,
        mode: str | None = None,
        term: Term | None = None,
    ) -> Changed:
        chat_org = await self.staff_org(user_id, chat_id)
        async with self.db.transaction() as tx:
            cache.after_commit(self.db, "cadres")
            org, post, before = await self._held(tx, user_id, chat_org, ref)
            if mode is not None:
                await repo.set_mode(tx, before.id, mode)
            if term is not None:
                await self.reminders.cancel(tx, KIND, before.id)
                await repo.set_term(tx, before.id, term.start, term.end)
            after = await repo.get_holding(tx, before.id)
            assert after is not None
            if term is not None:
                await self._schedule(tx, after, self.clock.time())
        return Changed(org=org, post=post, before=before, after=after)

    # --- posts, holders and roles ----------------------------------------------------------

    async def _declared(self, tx: Conn, org: Org, now: float) -> list[Post]:
        """The org's posts, making its implicit 书记 post real first (one per secretary)."""
        posts = await repo.posts_of(tx, org.id)
        if posts:
            return posts
        holders: list[int | None] = [
            g.user_id for g in await user_repo.holders(tx, [org.id], "secretary")
        ]
        for holder in holders or [None]:
            post_id = await repo.add_post(tx, org.id, "secretary", now)
            if holder is not None:
                await repo.add_holding(
                    tx,
                    post_id=post_id,
                    user_id=holder,
                    mode=None,
                    term_start=None,
                    term_end=None,
                    by=None,
                    now=now,
                )
        return await repo.posts_of(tx, org.id)

    async def _resolve(
        self, tx: Conn, user_id: int, chat_org: Org, ref: PostRef, *, vacant_first: bool
    ) -> tuple[Org, Post]:
        """The post `ref` names: by number (of this chat's org or below), or the chat org's
        post of a position (a vacant one first when appointing; the only one otherwise)."""
        if ref.post_id is not None:
            post = await repo.get_post(tx, ref.post_id)
            org = await org_repo.get(tx, post.org_id) if post else None
            if post is None or org is None or not org.path.startswith(chat_org.path):
                raise Refusal("err_cadre_post_unknown", post=ref.post_id)
            await self.access.require(user_id, org, "staff")
            return org, post
        assert ref.position is not None
        posts = [
            p
            for p in await self._declared(tx, chat_org, self.clock.time())
            if p.position == ref.position
        ]
        if vacant_first:
            for post in posts:
                if await repo.current(tx, post.id) is None:
                    return chat_org, post
        if len(posts) == 1:
            return chat_org, posts[0]
        if not posts:
            raise Refusal("err_cadre_no_position", org=chat_org.name)
        raise Refusal("err_cadre_which", ids=" ".join(f"#{p.id}" for p in posts))

    async def _held(
        self, tx: Conn, user_id: int, chat_org: Org, ref: PostRef
    ) -> tuple[Org, Post, Holding]:
        """The post `ref` names and its holder now (refused if vacant)."""
        org, post = await self._resolve(tx, user_id, chat_org, ref, vacant_first=False)
        holding = await repo.current(tx, post.id)
        if holding is None:
            raise Refusal("err_cadre_vacant", post=post.id)
        return org, post, holding

    async def _end(
        self, tx: Conn, org: Org, post: Post, holding: Holding, by: int, now: float
    ) -> None:
        """End a holding: its term reminders stop, and a 书记 gives up the secretary role."""
        await repo.end_holding(tx, holding.id, now)
        await self.reminders.cancel(tx, KIND, holding.id)
        if post.position != "secretary":
            return
        if await repo.holds_secretary_post(tx, org.id, holding.user_id, but=post.id):
            return
        if await self._role_here(tx, org, holding.user_id) == "secretary":
            cache.user_after_commit(self.db, holding.user_id)  # authorization changes at once
            await user_repo.remove_role(tx, org_id=org.id, user_id=holding.user_id)
            await self._log_role(tx, org, holding.user_id, by, "member", now)

    async def _grant(self, tx: Conn, org: Org, user_id: int, by: int, now: float) -> None:
        """A new 书记 holds the secretary role at the org (staff there keep their role)."""
        if RANK[await self._role_here(tx, org, user_id)] >= RANK["secretary"]:
            return
        cache.user_after_commit(self.db, user_id)  # authorization changes at once
        await user_repo.set_role(
            tx, org_id=org.id, user_id=user_id, role="secretary", by=by, now=now
        )
        await self._log_role(tx, org, user_id, by, "secretary", now)

    async def _role_here(self, tx: Conn, org: Org, user_id: int) -> str | None:
        grants = await user_repo.roles_of(tx, user_id)
        return next((g.role for g in grants if g.org_id == org.id), None)

    async def _log_role(
        self, tx: Conn, org: Org, user_id: int, by: int, role: str, now: float
    ) -> None:
        await privacy_repo.log(
            tx,
            at=now,
            actor_id=by,
            action="role",
            detail=f"{role} (cadres)",
            org_id=org.id,
            target_id=user_id,
        )

    # --- telling people --------------------------------------------------------------------

    def term_text(self, lang: str, holding: Holding | RosterLine) -> str:
        """'兼职，任期 2026-01-01 至 2028-12-31' (what is known of it)."""
        mode = t(lang, "cadre_mode_" + (holding.mode or "none"))
        if holding.term_start and holding.term_end:
            return t(
                lang, "cadre_with_term", mode=mode, start=holding.term_start, end=holding.term_end
            )
        return t(lang, "cadre_without_term", mode=mode)

    async def _tell(
        self, tx: Conn, user_id: int, key: str, org: Org, post: Post, holding: Holding
    ) -> None:
        """A private note to a holder about their post (through the outbox)."""
        lang = await self.lang_of(user_id)
        await self.outbox.add(
            tx,
            user_id,
            t(
                lang,
                key,
                org=org.name,
                post=t(lang, "cadre_pos_" + post.position),
                id=post.id,
                term=self.term_text(lang, holding),
            ),
            user_id=user_id,
            ref=f"cadre:{post.id}",
            dedupe_key=f"cadre:{key}:{holding.id}",
        )

    # --- term reminders --------------------------------------------------------------------

    def _due(self, end: str, days: int) -> float:
        day = date.fromisoformat(end) - timedelta(days=days)
        return datetime.combine(day, WARN_AT, tzinfo=self.settings.tz).timestamp()

    async def _schedule(self, tx: Conn, holding: Holding, now: float) -> None:
        if not holding.term_end:
            return
        for days in self.warn_days:
            due = self._due(holding.term_end, days)
            if due > now:
                await self.reminders.add(tx, KIND, holding.id, f"{days}d:{holding.term_end}", due)

    async def _term_due(self, tx: Conn, row: Reminder) -> None:
        """A term ends in N days: its holder and the staff above are told privately."""
        days_word, _, end = row.step.partition(":")
        holding = await repo.get_holding(tx, row.ref_id)
        if holding is None or holding.ended_at is not None or holding.term_end != end:
            return  # handed over, vacated or re-termed since: nothing to say
        post = await repo.get_post(tx, holding.post_id)
        org = await org_repo.get(tx, post.org_id) if post else None
        if post is None or org is None:
            return
        days = int(days_word.rstrip("d"))
        lang = await self.lang_of(holding.user_id)
        values = {"org": org.name, "end": end, "days": days, "id": post.id}
        await self.outbox.add(
            tx,
            holding.user_id,
            t(lang, "cadre_term_holder", post=t(lang, "cadre_pos_" + post.position), **values),
            user_id=holding.user_id,
            ref=f"cadre:{post.id}",
            dedupe_key=f"{KIND}:{holding.id}:{row.step}:{holding.user_id}",
        )
        person = await user_repo.get_person(tx, holding.user_id)
        user = await user_repo.get_user(tx, holding.user_id)
        for staff_id in await self._staff_above(tx, org):
            staff_lang = await self.lang_of(staff_id)
            await self.outbox.add(
                tx,
                staff_id,
                t(
                    staff_lang,
                    "cadre_term_staff",
                    post=t(staff_lang, "cadre_pos_" + post.position),
                    name=person.real_name if person else "—",
                    first_name=user.first_name if user else "",
                    **values,
                ),
                user_id=staff_id,
                ref=f"cadre:{post.id}",
                dedupe_key=f"{KIND}:{holding.id}:{row.step}:{staff_id}",
            )

    async def _staff_above(self, tx: Conn, org: Org) -> list[int]:
        """Staff of the nearest org above this one that has staff (none at the root)."""
        for org_id in reversed(org_repo.ancestor_ids(org)[:-1]):
            grants = await user_repo.holders(tx, [org_id], "staff")
            if grants:
                return [g.user_id for g in grants]
        return []

    # --- the training export ---------------------------------------------------------------

    async def training_workbook(self, org: Org, lang: str) -> bytes:
        """Each post-holder of the subtree with their trainings: count, hours and courses."""
        r = self.db.reader
        lines = [line for line in await repo.roster(r, org.path) if line.user_id is not None]
        held = sorted({line.user_id for line in lines if line.user_id is not None})
        trainings: dict[int, list[Training]] = {}
        for item in await repo.trainings(r, held):
            trainings.setdefault(item.user_id, []).append(item)

        def plain(key: str, **values: object) -> str:
            return html.unescape(str(t(lang, key, **values)))

        today = datetime.fromtimestamp(self.clock.time(), self.settings.tz).date()
        title = plain(
            "xl_title", org=org.name, what=plain("xl_training_what"), date=day_words(lang, today)
        )
        wb = book(title)
        ws = Sheet(
            wb,
            plain("xl_training_sheet"),
            title=title,
            header=plain("xl_training_head").split("|"),
        )
        for line in lines:
            assert line.user_id is not None
            items = trainings.get(line.user_id, [])
            ws.add(
                [
                    *holder_cells(line, plain),
                    len(items),
                    sum(i.quarters for i in items) / 4,
                    "；".join(i.title for i in items),
                ]
            )
        ws.close()
        return save(wb)
