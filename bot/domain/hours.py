"""Volunteer service hours: the /hours parser, logging, the one-shot approval, stars, digests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, Literal, NamedTuple, cast

from pydantic import BaseModel

from bot.domain import cache as flows
from bot.domain.cache import MISSING, after_commit, cache_of
from bot.domain.clock import fmt_day, fmt_local, local
from bot.domain.errors import Refusal
from bot.domain.hours_input import (  # noqa: F401 - the parser's names stay importable here
    MAX_DAYS_BACK,
    MAX_DESCRIPTION,
    HoursInput,
    normalise_description,
    parse_hours,
)
from bot.domain.hours_revoke import RevokeSteps
from bot.domain.models import Org
from bot.domain.models_hours import Draft, EntryRow, HourEntry, OrgSums, PersonSums
from bot.domain.service import Core
from bot.texts import Raw, t
from storage import hours as repo
from storage import orgs as org_repo
from storage import users as user_repo
from storage.db import Conn

DUPLICATE_WINDOW = 86400.0
PAGE = 8
PENDING_PAGE = 10

# --- stars -----------------------------------------------------------------------------------


class Stars(BaseModel):
    level: int
    to_next: float | None  # None at the top level
    next_level: int | None


def stars_for(approved_hours: float, thresholds: list[float]) -> Stars:
    """National volunteer star rating from approved hours and the configured thresholds."""
    level = sum(1 for limit in thresholds if approved_hours >= limit)
    if level >= len(thresholds):
        return Stars(level=level, to_next=None, next_level=None)
    return Stars(level=level, to_next=thresholds[level] - approved_hours, next_level=level + 1)


def fmt_hours(quarters: float) -> str:
    """Quarter-hours as hours: 10 → '2.5', 8 → '2'."""
    value = quarters / 4
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --- results ---------------------------------------------------------------------------------


class Logged(BaseModel):
    entry: HourEntry | None = None
    draft: Draft | None = None
    duplicate_of: HourEntry | None = None


class Summary(BaseModel):
    approved: int
    approved_year: int
    pending: int
    stars: Stars


class Decision(BaseModel):
    entry: HourEntry
    decided: bool  # False: someone decided it before this press
    guard_id: int | None = None  # begin_reject: the reason question's outbox stand-in


class PendingList(BaseModel):
    entries: list[HourEntry]
    total: int
    scope: list[Org]


class OrgTotals(BaseModel):
    """Approved quarter-hours of one org: its own and its whole subtree."""

    org: Org
    own: int = 0
    own_year: int = 0
    subtree: int = 0
    subtree_year: int = 0
    entries: int = 0
    subtree_entries: int = 0


def roll_up(orgs: list[Org], sums: list[OrgSums]) -> list[OrgTotals]:
    """Each org's own sums plus everything below it; `orgs` is a subtree, parents first."""
    by_id = {o.id: OrgTotals(org=o) for o in orgs}
    for s in sums:
        row = by_id.get(s.org_id)
        if row is not None:
            row.own, row.own_year, row.entries = s.quarters, s.year_quarters, s.entries
            row.subtree, row.subtree_year = s.quarters, s.year_quarters
            row.subtree_entries = s.entries
    for org in sorted(orgs, key=lambda o: -o.depth):
        parent = by_id.get(org.parent_id) if org.parent_id else None
        if parent is not None:
            row = by_id[org.id]
            parent.subtree += row.subtree
            parent.subtree_year += row.subtree_year
            parent.subtree_entries += row.subtree_entries
    return [by_id[o.id] for o in orgs]


REJECT_FLOW = "hours_reason"


# --- callback data: the hours buttons ------------------------------------------------------

HoursVerb = Literal["dup", "my", "ok", "no", "nr", "ev"]
# ids are ASCII digits, at most 12 of them; `\Z` (not `$`) so that no trailing newline passes
_ID = "([0-9]{1,12})"
_HOURS_DATA: dict[str, re.Pattern[str]] = {
    "dup": re.compile(rf"^hrs:(dup):{_ID}:([yn])\Z"),  # keep a same-day duplicate? (draft id)
    "my": re.compile(rf"^hrs:(my):{_ID}\Z"),  # /myhours page
    "ok": re.compile(rf"^hrs:(ok):{_ID}:{_ID}\Z"),  # approve (entry id, listing scope)
    "no": re.compile(rf"^hrs:(no):{_ID}:{_ID}\Z"),  # reject (entry id, listing scope)
    "nr": re.compile(rf"^hrs:(nr):{_ID}\Z"),  # reject with no reason (entry id)
    "ev": re.compile(rf"^hrs:(ev):{_ID}\Z"),  # send me the entry's photo (entry id)
}


class HoursButton(NamedTuple):
    """A press on an hours button: `verb` on `id` (a draft, a page or an entry)."""

    verb: HoursVerb
    id: int
    yes: bool = False  # dup: keep the duplicate
    scope: int = 0  # ok / no: the org the /pending listing shows (0: the approver's own)


def hours_data(button: HoursButton) -> str:
    """The callback data of an hours button."""
    verb, id_ = button.verb, button.id
    if verb == "dup":
        return f"hrs:dup:{id_}:{'y' if button.yes else 'n'}"
    if verb in ("ok", "no"):
        return f"hrs:{verb}:{id_}:{button.scope}"
    return f"hrs:{verb}:{id_}"


def hours_pattern(*verbs: HoursVerb) -> re.Pattern[str]:
    """What a handler of these verbs is registered on."""
    return re.compile("|".join(_HOURS_DATA[v].pattern for v in verbs))


def parse_hours_data(data: str | None) -> HoursButton:
    """The button behind callback data; a stale or forged one is refused."""
    for pattern in _HOURS_DATA.values():
        match = pattern.match(data or "")
        if match is None:
            continue
        verb, id_ = match.group(1), int(match.group(2))
        if verb == "dup":
            return HoursButton("dup", id_, yes=match.group(3) == "y")
        if verb in ("ok", "no"):
            return HoursButton(verb, id_, scope=int(match.group(3)))  # type: ignore[arg-type]
        return HoursButton(verb, id_)  # type: ignore[arg-type]
    raise Refusal("err_stale_button")


class RejectWhere(BaseModel):
    """The /pending listing a Reject was pressed on (to refresh it after the decision)."""

    chat_id: int | None = None
    message_id: int | None = None
    scope: int = 0


class RejectState(RejectWhere):
    entry_id: int


LangOf = Callable[[int], Awaitable[str]]


class Hours(RevokeSteps):
    """Services behind /hours, /myhours, /pending, the decision buttons, stars and exports
    (revocation and photo evidence: `RevokeSteps`, hours_revoke.py)."""

    def __init__(self, core: Core, lang_of: LangOf) -> None:
        super().__init__(core)
        self.lang_of = lang_of

    # --- time ------------------------------------------------------------------------------
    def today(self) -> date:
        return local(self.clock.time(), self.settings.tz).date()

    def year_start(self) -> str:
        return f"{self.today().year:04d}-01-01"

    def fmt_time(self, ts: float) -> str:
        return fmt_local(ts, self.settings.tz)

    # --- logging ---------------------------------------------------------------------------
    async def log(
        self,
        user_id: int,
        text: str | None,
        *,
        confirm_duplicate: bool = False,
        photo: str | None = None,
    ) -> Logged:
        """Validate and record a pending entry; a same-day duplicate becomes a draft to confirm."""
        return await self.record(
            user_id,
            parse_hours(text, self.today()),
            confirm_duplicate=confirm_duplicate,
            photo=photo,
        )

    async def record(
        self,
        user_id: int,
        parsed: HoursInput,
        *,
        confirm_duplicate: bool = False,
        photo: str | None = None,
    ) -> Logged:
        """Record a validated entry (one line or the guided form); duplicates become drafts.
        `photo`: the Telegram file_id of a photo sent with it (its evidence)."""
        person = await user_repo.get_person(self.db.reader, user_id)
        if person is None:
            raise Refusal("err_not_registered")
        now = self.clock.time()
        # the entry as stored: the duplicate check, a draft and the entry all take these
        typed: dict[str, Any] = {
            "user_id": user_id,
            "served_on": parsed.served_on.isoformat(),
            "quarters": parsed.quarters,
            "description": parsed.description,
        }
        async with self.db.transaction() as tx:
            if not confirm_duplicate:
                dup = await repo.find_duplicate(tx, **typed, since=now - DUPLICATE_WINDOW)
                if dup is not None:
                    draft_id = await repo.insert_draft(tx, **typed, now=now, photo_file_id=photo)
                    draft = Draft(id=draft_id, **typed, created_at=now, photo_file_id=photo)
                    return Logged(duplicate_of=dup, draft=draft)
            entry_id = await repo.insert(
                tx,
                **typed,
                org_id=person.org_id,
                now=now,
                evidence="photo" if photo else None,
                photo_file_id=photo,
            )
            after_commit(self.db, "hours")
            entry = await repo.get(tx, entry_id)
        return Logged(entry=entry)

    async def confirm_draft(self, user_id: int, draft_id: int, keep: bool) -> HourEntry | None:
        """The duplicate question answered: log the draft (keep) or drop it."""
        person = await user_repo.get_person(self.db.reader, user_id)
        async with self.db.transaction() as tx:
            draft = await repo.take_draft(tx, draft_id, user_id)
            if draft is None:
                raise Refusal("err_stale_button")
            if not keep:
                return None
            if person is None:
                raise Refusal("err_not_registered")
            entry_id = await repo.insert(
                tx,
                user_id=user_id,
                org_id=person.org_id,
                served_on=draft.served_on,
                quarters=draft.quarters,
                description=draft.description,
                now=self.clock.time(),
                evidence="photo" if draft.photo_file_id else None,
                photo_file_id=draft.photo_file_id,
            )
            after_commit(self.db, "hours")
            return await repo.get(tx, entry_id)

    async def credit(
        self,
        conn: Conn,
        *,
        user_id: int,
        org_id: int,
        hours: float,
        served_on: str,
        description: str,
        source: str,
        by: int,
        evidence: str | None = None,
    ) -> int:
        """An approved entry inside the caller's transaction (e.g. attendance at /close);
        `evidence`: 'checkin' or 'marked' (by the organiser).

        Nobody credits themselves: when `by` is the person credited, the entry is pending and
        waits for another approver, as one logged with /hours does.
        """
        quarters = round(hours * 4)
        if not 1 <= quarters <= 96:
            raise Refusal("err_hours_range")
        own = user_id == by
        after_commit(self.db, "hours")
        return await repo.insert(
            conn,
            user_id=user_id,
            org_id=org_id,
            served_on=served_on,
            quarters=quarters,
            description=normalise_description(description)[:MAX_DESCRIPTION] or source,
            now=self.clock.time(),
            status="pending" if own else "approved",
            source=source,
            decided_by=None if own else by,
            evidence=evidence,
        )

    # --- one person ------------------------------------------------------------------------
    async def summary(self, user_id: int) -> Summary:
        """Hour sums and stars (/me); cached, read again when the year turns."""
        cache, start = cache_of(self.db), self.year_start()
        found = cache.get("hours", user_id)
        if found is not MISSING and found[0] == start:
            return cast(Summary, found[1])
        stamp = cache.stamp("hours")
        approved, year, pending = await repo.person_sums(self.db.reader, user_id, start)
        summary = Summary(
            approved=approved,
            approved_year=year,
            pending=pending,
            stars=stars_for(approved / 4, self.settings.star_thresholds),
        )
        cache.put("hours", user_id, (start, summary), stamp)
        return summary

    async def history(self, user_id: int, page: int) -> tuple[list[HourEntry], int, int, int]:
        """(entries of the page, page, pages, entries in all), newest first; pages >= 1."""
        total = await repo.count_of(self.db.reader, user_id)
        pages = max(1, -(-total // PAGE))
        page = min(max(page, 0), pages - 1)
        entries = await repo.history(self.db.reader, user_id, limit=PAGE, offset=page * PAGE)
        return entries, page, pages, total

    async def require_page(self, user_id: int, page: int) -> None:
        """Refuse a /myhours page that does not exist (a forged or stale Prev / Next)."""
        total = await repo.count_of(self.db.reader, user_id)
        if not 0 <= page < max(1, -(-total // PAGE)):
            raise Refusal("err_stale_button")

    async def forget(self, user_id: int) -> None:
        """/forgetme: drop pending and rejected entries; approved ones stay, anonymised."""
        async with self.db.transaction() as tx:
            await repo.delete_undecided_of(tx, user_id)
            after_commit(self.db, "hours")

    # --- approval --------------------------------------------------------------------------
    async def scope_of(self, user_id: int, org_id: int | None) -> list[Org]:
        """The orgs whose subtrees an approver lists: the given one (role required) or all of
        their top orgs (private chat)."""
        if org_id:
            org = await org_repo.get(self.db.reader, org_id)
            if org is None:
                raise Refusal("err_chat_not_bound")
            await self.access.require(user_id, org, "secretary")
            return [org]
        tops = [
            org
            for org, role in await self.access.top_orgs(user_id)
            if role in ("secretary", "staff")
        ]
        if not tops:
            raise Refusal("err_hours_not_approver")
        return tops

    async def pending(self, user_id: int, org_id: int | None) -> PendingList:
        scope = await self.scope_of(user_id, org_id)
        entries, total = await repo.pending_in(
            self.db.reader, [o.path for o in scope], exclude_user=user_id, limit=PENDING_PAGE
        )
        return PendingList(entries=entries, total=total, scope=scope)

    async def check_decider(
        self, user_id: int, entry_id: int, scope: int | None = None
    ) -> HourEntry:
        """Refuse unless this person may decide this entry (not theirs; when `scope` is given,
        the entry lies in what that /pending listing showed: 0 the person's own top orgs)."""
        entry = await repo.get(self.db.reader, entry_id)
        if entry is None:
            raise Refusal("err_stale_button")
        if entry.user_id == user_id:
            raise Refusal("err_hours_self")
        org = await org_repo.get(self.db.reader, entry.org_id)
        assert org is not None
        await self.access.require(user_id, org, "secretary")
        if scope is not None:
            shown = await self.scope_of(user_id, scope or None)
            if not any(org.path.startswith(o.path) for o in shown):
                raise Refusal("err_button_elsewhere")
        return entry

    async def decide(
        self,
        user_id: int,
        entry_id: int,
        approve: bool,
        reason: str | None = None,
        scope: int | None = None,
    ) -> Decision:
        """Approve or reject once; the loser of a race learns who decided and when."""
        entry: HourEntry | None  # re-read in the transaction below
        entry = await self.check_decider(user_id, entry_id, scope)
        if reason is not None:
            reason = normalise_description(reason)[:MAX_DESCRIPTION] or None
        status = "approved" if approve else "rejected"
        lang = await self.lang_of(entry.user_id)
        async with self.db.transaction() as tx:
            after_commit(self.db, "hours")
            won = await repo.decide(
                tx, entry_id, status=status, by=user_id, now=self.clock.time(), reason=reason
            )
            entry = await repo.get(tx, entry_id)
            assert entry is not None
            if won:
                await self.outbox.add(
                    tx,
                    entry.user_id,
                    self.decision_text(entry, lang),
                    user_id=entry.user_id,
                    ref=f"hours:{entry.id}",
                    dedupe_key=f"hours:decided:{entry.id}",
                )
        return Decision(entry=entry, decided=won)

    async def begin_reject(
        self, user_id: int, entry_id: int, where: RejectWhere, lang: str
    ) -> Decision:
        """Reject pressed: the approver's next private text is the reason (a guided flow).

        The reason question is queued with the flow (`Outbox.guard`): sent directly, it is
        settled; lost to a crash, the outbox asks it. Returns decided=False with the entry if
        it was decided meanwhile (nothing started).
        """
        entry = await self.check_decider(user_id, entry_id, where.scope)
        if entry.status != "pending":
            return Decision(entry=entry, decided=False)
        state = RejectState(entry_id=entry_id, **where.model_dump())
        text, markup = self.reason_prompt(entry, lang)
        async with self.db.transaction() as tx:
            await flows.set_flow(
                self.db, tx, user_id, REJECT_FLOW, state.model_dump(), self.clock.time()
            )
            guard_id = await self.outbox.guard(
                tx, user_id, text, reply_markup=markup, ref=f"hours:{entry_id}"
            )
        return Decision(entry=entry, decided=True, guard_id=guard_id)

    @staticmethod
    def reason_prompt(entry: HourEntry, lang: str) -> tuple[str, dict[str, Any]]:
        """The question asking an approver why, with its "No reason" button (Bot API markup)."""
        text = t(
            lang,
            "hours_reason_ask",
            id=entry.id,
            date=entry.served_on,
            who=entry.real_name or t(lang, "hours_deleted_person"),
            hours=fmt_hours(entry.quarters),
            description=entry.description[:150],
        )
        button = {
            "text": t(lang, "hours_btn_no_reason"),
            "callback_data": hours_data(HoursButton("nr", entry.id)),
        }
        return text, {"inline_keyboard": [[button]]}

    async def reject_state(self, user_id: int) -> RejectState | None:
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != REJECT_FLOW:
            return None
        return RejectState.model_validate(flow.state)

    async def finish_reject(self, user_id: int, entry_id: int, reason: str | None) -> Decision:
        """The reason arrived (or "no reason" was pressed): decide, and leave the flow."""
        if reason is not None:
            reason = normalise_description(reason)[:MAX_DESCRIPTION] or None
        state = await self.reject_state(user_id)
        if state is not None and state.entry_id == entry_id:
            async with self.db.transaction() as tx:
                await flows.clear_flow(self.db, tx, user_id)
        return await self.decide(user_id, entry_id, approve=False, reason=reason)

    def decision_text(self, entry: HourEntry, lang: str) -> str:
        key = "hours_told_approved" if entry.status == "approved" else "hours_told_rejected"
        reason = t(lang, "hours_reason_line", reason=entry.reason) if entry.reason else ""
        day = fmt_day(date.fromisoformat(entry.served_on), lang, self.today())
        return t(
            lang,
            key,
            id=entry.id,
            date=day,
            hours=fmt_hours(entry.quarters),
            description=entry.description[:200],
            reason=Raw(reason),
        )

    # --- weekly digest ---------------------------------------------------------------------
    async def weekly_digest(self) -> int:
        """Queue one private digest per approver with pending entries, once per ISO week."""
        now = self.clock.time()
        year, week, _ = local(now, self.settings.tz).isocalendar()
        approvers = set(await repo.approver_ids(self.db.reader)) | set(self.access.superusers)
        queued = 0
        for uid in sorted(approvers):
            tops = [
                org
                for org, role in await self.access.top_orgs(uid)
                if role in ("secretary", "staff")
            ]
            if not tops:
                continue
            _, count = await repo.pending_in(
                self.db.reader, [o.path for o in tops], exclude_user=uid, limit=1
            )
            if not count:
                continue
            lang = await self.lang_of(uid)
            text = t(
                lang,
                "hours_digest",
                count=count,
                orgs="、".join(o.name for o in tops)
                if lang == "zh"
                else ", ".join(o.name for o in tops),
            )
            added = await self.outbox.send(
                uid,
                text,
                user_id=uid,
                ref="hours:digest",
                dedupe_key=f"hours:digest:{uid}:{year}-W{week:02d}",
            )
            queued += added is not None
        return queued

    def digest_due(self) -> datetime:
        """This ISO week's digest time: Monday 09:00 local."""
        today = self.today()
        monday = today - timedelta(days=today.weekday())
        return datetime(monday.year, monday.month, monday.day, 9, 0, tzinfo=self.settings.tz)

    # --- figures and exports ---------------------------------------------------------------
    async def rollup(self, org: Org, year: int | None = None) -> list[OrgTotals]:
        """Approved hours per org of the subtree, own and rolled up (parents first)."""
        r = self.db.reader
        orgs = await org_repo.subtree(r, org)
        sums = await repo.totals_by_org(r, org.path, year=year or self.today().year)
        return roll_up(orgs, sums)

    async def volunteers(self, org: Org, since: str | None = None) -> int:
        return await repo.volunteers_in(self.db.reader, org.path, since=since)

    async def person_totals(self, org: Org, year: int | None) -> list[PersonSums]:
        since, until = _year_bounds(year)
        return await repo.person_totals_in(self.db.reader, org.path, since=since, until=until)

    def entries_in(self, org: Org, year: int | None) -> AsyncIterator[EntryRow]:
        since, until = _year_bounds(year)
        return repo.iter_entries_in(self.db.reader, org.path, since=since, until=until)

    async def approved_of(self, user_id: int) -> list[HourEntry]:
        return await repo.approved_of(self.db.reader, user_id)

    async def export_scope(self, user_id: int, org_id: int | None) -> list[Org]:
        return await self.scope_of(user_id, org_id)


def _year_bounds(year: int | None) -> tuple[str, str]:
    if year is None:
        return "", "9999"
    return f"{year:04d}-01-01", f"{year + 1:04d}-01-01"
