"""Report-back (述职) campaigns: deadlines owed by the orgs below, the reminder ladder,
submissions and the board.

What is scheduled for a campaign is a set of rows in the Reminders engine (kind 'campaign'),
written in the transaction that creates the campaign:

- ``before:<seconds>`` for each rung of ``settings.campaign_reminders`` still ahead;
- ``due`` at the due time: the board goes to the campaign org's chat;
- ``overdue:<k>`` for k = 1..``overdue_days``, every ``overdue_interval`` after the due time;
- ``escalate`` after the last overdue reminder: the campaign org's chat is told who is missing.

Each reminder runs inside the transaction that claims it and only queues outbox messages with
that connection, so it is sent once, across restarts. Reminders go privately to the secretaries
of orgs that have not submitted; one who never started the bot or blocked it is mentioned in a
group chat by Telegram display name instead; an org without a secretary is reported once to the
staff above.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel

from bot.domain import validate
from bot.domain.access import RANK, Access
from bot.domain.clock import Clock, fmt_local, fmt_when, local
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_campaigns import Campaign, Submission
from bot.domain.models_reminders import Reminder
from bot.domain.outbox import Outbox
from bot.domain.reminders import Reminders
from bot.domain.service import ServiceBase
from bot.domain.when import Choose, Reading, future_moment, local_ts
from bot.settings import Settings
from bot.texts import Raw, mention, t
from storage import campaigns as repo
from storage import chats as chat_repo
from storage import orgs as org_repo
from storage import users as user_repo
from storage.db import Conn, Database

log = logging.getLogger(__name__)

KIND = "campaign"
SUBMIT_FLOW = "campaign_submit"
TITLE_MAX = 100
REPORT_MAX = 4000
MAX_AHEAD = 400 * 86400  # a due time more than ~13 months ahead is a typo
BOARD_LINES = 60
DAY = 86400.0

LangOf = Callable[[int], Awaitable[str]]
State = Literal["on_time", "late", "missing"]


# --- parsing (pure) -------------------------------------------------------------------------


class NewCampaign(BaseModel):
    title: str
    due_at: float
    scope: Literal["children", "all"] = "children"


def parse_due(text: str, tz: Any, now: float, chosen: Reading | None = None) -> float:
    """A due time as people write it, in `tz` → UTC seconds; refuse malformed or past times,
    `Choose` when it reads several ways (`chosen`: the reading pressed since)."""
    value = " ".join(text.split())
    try:
        ts = local_ts(future_moment(value, now, tz, chosen), tz, value)
    except Refusal as exc:
        if isinstance(exc, Choose) or exc.key in ("err_foreign_digits", "err_stale_button"):
            raise
        raise Refusal("err_deadline_date", got=validate.excerpt(value)) from None
    if ts <= now:
        raise Refusal("err_deadline_past", due=value, now=fmt_local(now, tz))
    if ts - now > MAX_AHEAD:
        raise Refusal("err_deadline_far", due=value)
    return ts


def parse_new(text: str | None, tz: Any, now: float, chosen: Reading | None = None) -> NewCampaign:
    """`<title> | <YYYY-MM-DD HH:MM> [| all]` → a validated new campaign."""
    parts = [p.strip() for p in (text or "").split("|")]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise Refusal("err_deadline_parts")
    if len(parts) > 3:
        raise Refusal("err_deadline_parts")
    title = unicodedata.normalize("NFC", parts[0])
    if len(title) > TITLE_MAX:
        raise Refusal("err_deadline_title_long", max=TITLE_MAX, got=len(title))
    if any(unicodedata.category(ch) == "Cc" for ch in title):
        raise Refusal("err_deadline_title_chars")
    validate.no_invisible(title, field="title")
    scope: Literal["children", "all"] = "children"
    if len(parts) == 3:
        if parts[2].lower() not in ("all", "全部"):
            raise Refusal("err_deadline_scope", got=validate.excerpt(parts[2], 20))
        scope = "all"
    return NewCampaign(title=title, due_at=parse_due(parts[1], tz, now, chosen), scope=scope)


# --- callback data and deep link: choosing what to submit ------------------------------------

#: a /submit choice button (the handler is registered on it; a stale one is refused there)
SUBMIT_DATA = re.compile(r"^sub:")
_SUBMIT = re.compile(r"sub:([0-9]{1,12}):([0-9]{1,12})")  # the whole data, ASCII digits
#: the deep-link prefix of `/start sub_<campaign id>`, sent in reminders
SUBMIT_LINK = "sub"


def submit_data(campaign_id: int, org_id: int) -> str:
    """The button that chooses to submit for `org_id` to campaign `campaign_id`."""
    return f"sub:{campaign_id}:{org_id}"


def parse_submit_data(data: str | None) -> tuple[int, int]:
    """(campaign id, org id) of a /submit choice; a stale or forged one is refused."""
    match = _SUBMIT.fullmatch(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    return int(match.group(1)), int(match.group(2))


def submit_payload(campaign_id: int) -> str:
    """The `/start` payload that opens /submit for one campaign (parsed by `parse_id`)."""
    return f"{SUBMIT_LINK}_{campaign_id}"


def parse_id(text: str | None) -> int:
    """A campaign id ('3' or '#3') in ASCII (or full-width) digits."""
    return validate.ascii_int(text, key="err_camp_bad_id")


def ladder(
    due_at: float, now: float, rungs: list[float], overdue_days: int, interval: float
) -> list[tuple[str, float]]:
    """(step, due time) of every reminder of a campaign; rungs already past are skipped."""
    steps = [
        (f"before:{int(r)}", due_at - r)
        for r in sorted(set(rungs), reverse=True)
        if r > 0 and due_at - r > now
    ]
    steps.append(("due", due_at))
    for k in range(1, overdue_days + 1):
        steps.append((f"overdue:{k}", due_at + k * interval))
    if overdue_days > 0:
        steps.append(("escalate", due_at + overdue_days * interval))
    return steps


def fmt_span(seconds: float, lang: str) -> str:
    """A rough duration: '3 天 4 小时', '2 h 5 min', '30 s'."""
    s = max(0, round(seconds))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts = []
    for name, size in units:
        if s >= size:
            parts.append(t(lang, "camp_unit_" + name, n=s // size))
            s %= size
        if len(parts) == 2:
            break
    return " ".join(parts) or t(lang, "camp_unit_s", n=0)


def fmt_size(size: int | None) -> str:
    if size is None:
        return "?"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


# --- results ---------------------------------------------------------------------------------


class BoardRow(BaseModel):
    org_id: int
    code: str
    name: str
    state: State
    has_secretary: bool
    submitter: str | None = None
    submitted_at: float | None = None


class Board(BaseModel):
    campaign: Campaign
    org: Org
    rows: list[BoardRow]
    undelivered: int = 0  # the campaign's messages Telegram refused for good

    def count(self, state: State) -> int:
        return sum(1 for r in self.rows if r.state == state)

    @property
    def missing(self) -> list[BoardRow]:
        return [r for r in self.rows if r.state == "missing"]


class Created(BaseModel):
    campaign: Campaign
    owing: int
    no_secretary: list[str]
    reminders: list[float]


class Option(BaseModel):
    campaign: Campaign
    org: Org
    submitted: bool = False


class Received(BaseModel):
    campaign: Campaign
    org: Org
    submission: Submission
    replaced: bool


# --- the service -----------------------------------------------------------------------------


class Campaigns(ServiceBase):
    """Services behind /deadline, /submit, the `sub_` deep link and the campaign reminders."""

    def __init__(
        self,
        db: Database,
        access: Access,
        outbox: Outbox,
        reminders: Reminders,
        clock: Clock,
        settings: Settings,
        lang_of: LangOf,
        overdue_interval: float = DAY,
    ) -> None:
        super().__init__(db, access, outbox, reminders, clock, settings)
        self.lang_of = lang_of
        #: seconds between overdue reminders (a day; tests use seconds); read at creation
        self.overdue_interval = overdue_interval
        #: set at start-up from getMe, for `sub_<id>` deep links in reminders
        self.bot_username = ""
        reminders.on(KIND, self.on_reminder)

    # --- helpers -----------------------------------------------------------------------------
    @property
    def tz(self) -> Any:
        return self.settings.tz

    def fmt(self, ts: float, lang: str) -> str:
        """A time as people read it ('12月1日（周二）18:00' / 'Tue 1 Dec, 18:00')."""
        return fmt_when(ts, self.tz, lang, today=local(self.clock.time(), self.tz).date())

    def link(self, campaign_id: int) -> str:
        if not self.bot_username:
            return f"/submit {campaign_id}"
        return f"https://t.me/{self.bot_username}?start={submit_payload(campaign_id)}"

    async def org_of_chat(self, chat_id: int) -> Org:
        return await self.access.org_of_chat(chat_id)

    async def _visible(self, chat_org: Org, campaign_id: int) -> tuple[Campaign, Org]:
        """The campaign, if this chat's org created it, is above it, or owes part of it."""
        r = self.db.reader
        campaign = await repo.get(r, campaign_id)
        if campaign is None:
            raise Refusal("err_camp_unknown", id=campaign_id)
        org = await org_repo.get(r, campaign.org_id)
        assert org is not None
        if not org.path.startswith(chat_org.path) and not await repo.owing(
            r, campaign.id, chat_org.path
        ):
            raise Refusal("err_camp_unknown", id=campaign_id)
        return campaign, org

    # --- /deadline new | cancel --------------------------------------------------------------
    async def create(
        self, user_id: int, chat_id: int, text: str | None, chosen: Reading | None = None
    ) -> Created:
        """A campaign owed by the orgs directly below this chat's org (or its whole subtree)."""
        org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, org, "staff")
        now = self.clock.time()
        new = parse_new(text, self.tz, now, chosen)
        rungs = [d.total_seconds() for d in self.settings.campaign_reminders]
        steps = ladder(new.due_at, now, rungs, self.settings.overdue_days, self.overdue_interval)
        async with self.db.transaction() as tx:
            if new.scope == "all":
                owing = [o for o in await org_repo.subtree(tx, org) if o.id != org.id]
            else:
                owing = await org_repo.children(tx, org.id)
            if not owing:
                raise Refusal("err_deadline_no_orgs", org=org.name)
            campaign = await repo.insert(
                tx,
                org_id=org.id,
                title=new.title,
                due_at=new.due_at,
                scope=new.scope,
                created_by=user_id,
                now=now,
                owing=[o.id for o in owing],
            )
            for step, at in steps:
                await self.reminders.add(tx, KIND, campaign.id, step, at)
            staffed = {
                g.org_id for g in await user_repo.holders(tx, [o.id for o in owing], "secretary")
            }
        return Created(
            campaign=campaign,
            owing=len(owing),
            no_secretary=[o.name for o in owing if o.id not in staffed],
            reminders=[at for step, at in steps if step.startswith("before:")],
        )

    async def cancel(self, user_id: int, chat_id: int, campaign_id: int) -> tuple[Campaign, int]:
        """Cancel an open campaign and every reminder still pending for it."""
        chat_org = await self.org_of_chat(chat_id)
        campaign, org = await self._visible(chat_org, campaign_id)
        await self.access.require(user_id, org, "staff")
        async with self.db.transaction() as tx:
            if not await repo.cancel(tx, campaign.id, user_id, self.clock.time()):
                raise Refusal("err_camp_cancelled", id=campaign.id, title=campaign.title)
            dropped = await self.reminders.cancel(tx, KIND, campaign.id)
        return campaign, dropped

    # --- /deadline status | list ---------------------------------------------------------------
    async def board(self, user_id: int, chat_id: int, campaign_id: int | None) -> Board:
        """Per org owing the campaign (within this chat's subtree): on time, late or missing."""
        chat_org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, chat_org, "secretary")
        if campaign_id is None:
            found = await repo.visible_from(self.db.reader, chat_org.path, 1)
            if not found:
                raise Refusal("err_camp_none", org=chat_org.name)
            campaign_id = found[0].id
        campaign, _ = await self._visible(chat_org, campaign_id)
        return await self._board(self.db.reader, campaign, chat_org)

    async def _board(self, conn: Conn, campaign: Campaign, within: Org | None = None) -> Board:
        org = await org_repo.get(conn, campaign.org_id)
        assert org is not None
        owing = await repo.owing(conn, campaign.id, within.path if within else None)
        staffed = {
            g.org_id for g in await user_repo.holders(conn, [o.org_id for o in owing], "secretary")
        }
        rows = []
        for o in owing:
            sub = o.submission
            state: State = "missing" if sub is None else ("late" if sub.late else "on_time")
            rows.append(
                BoardRow(
                    org_id=o.org_id,
                    code=o.code,
                    name=o.name,
                    state=state,
                    has_secretary=o.org_id in staffed,
                    submitter=sub.first_name if sub else None,
                    submitted_at=sub.submitted_at if sub else None,
                )
            )
        ref = f"campaign:{campaign.id}"
        undelivered = (await self.outbox.failed_counts([ref])).get(ref, 0)
        return Board(campaign=campaign, org=org, rows=rows, undelivered=undelivered)

    async def recent(self, user_id: int, chat_id: int, limit: int = 15) -> list[Board]:
        """The newest campaigns visible from this chat, open ones first."""
        chat_org = await self.org_of_chat(chat_id)
        await self.access.require(user_id, chat_org, "secretary")
        found = await repo.visible_from(self.db.reader, chat_org.path, limit)
        return [await self._board(self.db.reader, c, chat_org) for c in found]

    # --- rendering (shared by replies and reminders) ------------------------------------------
    def board_text(self, board: Board, lang: str, limit: int = BOARD_LINES) -> str:
        c = board.campaign
        head = t(
            lang,
            "camp_board_head",
            id=c.id,
            title=c.title,
            org=board.org.name,
            due=self.fmt(c.due_at, lang),
            tz=self.settings.timezone,
            state=t(lang, self._state_key(c)),
        )
        counts = t(
            lang,
            "camp_board_counts",
            on_time=board.count("on_time"),
            late=board.count("late"),
            missing=board.count("missing"),
            total=len(board.rows),
        )
        lines = [self.board_line(row, lang) for row in board.rows[:limit]]
        if len(board.rows) > limit:
            lines.append(t(lang, "camp_board_more", n=len(board.rows) - limit))
        if board.undelivered:
            lines.append(t(lang, "board_undelivered", n=board.undelivered))
        return Raw("\n".join([head, counts, *lines]))

    def _state_key(self, c: Campaign) -> str:
        if c.status == "cancelled":
            return "camp_state_cancelled"
        return "camp_state_open" if self.clock.time() < c.due_at else "camp_state_overdue"

    def board_line(self, row: BoardRow, lang: str) -> str:
        if row.state == "missing":
            key = "camp_row_missing" if row.has_secretary else "camp_row_no_secretary"
            return t(lang, key, org=row.name)
        key = "camp_row_on_time" if row.state == "on_time" else "camp_row_late"
        return t(
            lang,
            key,
            org=row.name,
            who=row.submitter or "?",
            at=self.fmt(row.submitted_at or 0, lang),
        )

    # --- /submit -----------------------------------------------------------------------------
    async def options(self, user_id: int, campaign_id: int | None = None) -> list[Option]:
        """(campaign, org) pairs this person may submit for, open campaigns only."""
        r = self.db.reader
        if campaign_id is not None:
            campaign = await self._open(r, campaign_id)
        grants = await user_repo.roles_of(r, user_id)
        pairs = await repo.open_owed_by(r, [g.org_id for g in grants])
        if campaign_id is not None:
            pairs = [(c, o) for c, o in pairs if c.id == campaign_id]
            if not pairs:  # staff (or a superuser) above may submit on an org's behalf
                owing = await repo.owing(r, campaign_id)
                candidates = await org_repo.many(r, [o.org_id for o in owing])
                for org in sorted(candidates, key=lambda o: o.path):
                    if RANK[await self.access.role_at(user_id, org)] >= RANK["secretary"]:
                        pairs.append((campaign, org.id))
        if not pairs:
            if campaign_id is not None:
                camp = await repo.get(r, campaign_id)
                raise Refusal("err_sub_not_owed", id=campaign_id, title=camp.title if camp else "")
            raise Refusal("err_sub_nothing")
        orgs = {o.id: o for o in await org_repo.many(r, [o for _, o in pairs])}
        result = []
        for campaign, org_id in pairs:
            sub = await repo.submission(r, campaign.id, org_id)
            result.append(Option(campaign=campaign, org=orgs[org_id], submitted=sub is not None))
        return result

    async def begin(self, user_id: int, campaign_id: int, org_id: int) -> Option:
        """The next text or document this person sends is the report for (campaign, org)."""
        campaign, org = await self._check_submitter(user_id, campaign_id, org_id)
        async with self.db.transaction() as tx:
            await user_repo.set_flow(
                tx,
                user_id,
                SUBMIT_FLOW,
                {"campaign_id": campaign.id, "org_id": org.id},
                self.clock.time(),
            )
        sub = await repo.submission(self.db.reader, campaign.id, org.id)
        return Option(campaign=campaign, org=org, submitted=sub is not None)

    @staticmethod
    async def _open(conn: Conn, campaign_id: int) -> Campaign:
        """The campaign, if it is still open; an unknown or cancelled one is refused."""
        campaign = await repo.get(conn, campaign_id)
        if campaign is None:
            raise Refusal("err_camp_unknown", id=campaign_id)
        if not campaign.is_open:
            raise Refusal("err_camp_cancelled", id=campaign.id, title=campaign.title)
        return campaign

    async def _check_submitter(
        self, user_id: int, campaign_id: int, org_id: int
    ) -> tuple[Campaign, Org]:
        r = self.db.reader
        campaign = await self._open(r, campaign_id)
        org = await org_repo.get(r, org_id)
        if org is None or not await repo.is_owed_by(r, campaign.id, org.id):
            raise Refusal("err_sub_not_owed", id=campaign.id, title=campaign.title)
        if RANK[await self.access.role_at(user_id, org)] < RANK["secretary"]:
            raise Refusal("err_need_secretary", org=org.name)
        return campaign, org

    async def pending_submit(self, user_id: int) -> tuple[int, int] | None:
        flow = await user_repo.get_flow(self.db.reader, user_id)
        if flow is None or flow.name != SUBMIT_FLOW:
            return None
        return int(flow.state["campaign_id"]), int(flow.state["org_id"])

    async def submit(
        self,
        user_id: int,
        *,
        text: str | None = None,
        file_id: str | None = None,
        file_name: str | None = None,
        file_size: int | None = None,
        target: tuple[int, int] | None = None,
    ) -> Received:
        """Store the report (text or document) for the flow's (or `target`'s) campaign and org.

        Before the due time a resubmission replaces the report; after it, it is marked late.
        """
        target = target or await self.pending_submit(user_id)
        if target is None:
            raise Refusal("err_sub_no_flow")
        if file_id is None:
            text = unicodedata.normalize("NFC", text or "").strip()
            if not text:
                raise Refusal("err_sub_kind")
            if len(text) > REPORT_MAX:
                raise Refusal("err_sub_too_long", max=REPORT_MAX, got=len(text))
        else:
            text = (text or "").strip()[:1024] or None
            file_name = (file_name or "").strip()[:200] or None
        campaign, org = await self._check_submitter(user_id, *target)
        async with self.db.transaction() as tx:
            now = self.clock.time()
            await self._open(tx, campaign.id)  # again: a cancel may have come in between
            before = await repo.submission(tx, campaign.id, org.id)
            saved = await repo.save_submission(
                tx,
                campaign_id=campaign.id,
                org_id=org.id,
                user_id=user_id,
                text=text,
                file_id=file_id,
                file_name=file_name,
                file_size=file_size,
                now=now,
                late=now > campaign.due_at,
            )
            flow = await user_repo.get_flow(tx, user_id)
            if flow is not None and flow.name == SUBMIT_FLOW:
                await user_repo.clear_flow(tx, user_id)
        return Received(campaign=campaign, org=org, submission=saved, replaced=before is not None)

    # --- reminders (run inside the claiming transaction) --------------------------------------
    async def on_reminder(self, conn: Conn, reminder: Reminder) -> None:
        """Queue what one step of a campaign's ladder says; nothing else is written."""
        campaign = await repo.get(conn, reminder.ref_id)
        if campaign is None or not campaign.is_open:
            return
        step = reminder.step
        board = await self._board(conn, campaign)
        await self._tell_no_secretary(conn, campaign, board)
        if step.startswith(("before:", "overdue:")):
            await self._remind(conn, campaign, board, step)
        elif step == "due":
            await self._post(
                conn,
                campaign,
                board,
                "due",
                self.board_text(board, self.settings.language, limit=200),
            )
        elif step == "escalate":
            if board.missing:
                lang = self.settings.language
                lines = [self.board_line(r, lang) for r in board.missing[:200]]
                text = t(
                    lang,
                    "camp_escalate",
                    id=campaign.id,
                    title=campaign.title,
                    due=self.fmt(campaign.due_at, lang),
                    tz=self.settings.timezone,
                    n=len(board.missing),
                    total=len(board.rows),
                    lines=Raw("\n".join(lines)),
                )
                await self._post(conn, campaign, board, "escalate", text)
        else:
            log.warning("campaign %s: unknown reminder step %r", campaign.id, step)

    async def _post(
        self, conn: Conn, campaign: Campaign, board: Board, step: str, text: str
    ) -> None:
        chat = await chat_repo.of_org(conn, campaign.org_id)
        if chat is None or not chat.active:
            log.info(
                "campaign %s: %s not posted, %s has no active chat",
                campaign.id,
                step,
                board.org.code,
            )
            return
        # the board and the escalation are the campaign's point: never folded into a digest
        await self.outbox.add(
            conn,
            chat.id,
            text,
            ref=f"campaign:{campaign.id}",
            dedupe_key=f"campaign:{campaign.id}:{step}",
            urgent=True,
        )

    async def _remind(self, conn: Conn, campaign: Campaign, board: Board, step: str) -> None:
        missing = {r.org_id: r for r in board.missing}
        if not missing:
            return
        now = self.clock.time()
        overdue = step.startswith("overdue:")
        link = self.link(campaign.id)
        group_lang = self.settings.language
        for grant in await user_repo.holders(conn, list(missing), "secretary"):
            row = missing[grant.org_id]
            user = await user_repo.get_user(conn, grant.user_id)
            lang = await self.lang_of(grant.user_id)
            span = fmt_span(now - campaign.due_at if overdue else campaign.due_at - now, lang)
            key = "camp_remind_overdue" if overdue else "camp_remind_before"
            text = t(
                lang,
                key,
                id=campaign.id,
                title=campaign.title,
                org=row.name,
                due=self.fmt(campaign.due_at, lang),
                tz=self.settings.timezone,
                span=span,
                link=link,
            )
            group_text = t(
                group_lang,
                "camp_remind_group",
                id=campaign.id,
                title=campaign.title,
                org=row.name,
                due=self.fmt(campaign.due_at, group_lang),
                link=link,
            )
            dedupe = f"campaign:{campaign.id}:{step}:{row.org_id}:{grant.user_id}"
            if user is not None and user.started and user.reachable:
                markup = None
                if self.bot_username:
                    markup = {
                        "inline_keyboard": [[{"text": t(lang, "camp_btn_submit"), "url": link}]]
                    }
                await self.outbox.add(
                    conn,
                    grant.user_id,
                    text,
                    user_id=grant.user_id,
                    reply_markup=markup,
                    ref=f"campaign:{campaign.id}",
                    dedupe_key=dedupe,
                    extra={"fallback": True, "fallback_text": group_text},
                )
                continue
            # known not to be reachable privately: mention them in a group chat straight away
            chat = await chat_repo.of_org(conn, row.org_id)
            chat_id = chat.id if chat is not None and chat.active else None
            if chat_id is None:
                target = await user_repo.fallback_target(conn, grant.user_id)
                chat_id = target[0] if target else None
            if chat_id is None:
                log.info(
                    "campaign %s: secretary %s of %s unreachable and no chat",
                    campaign.id,
                    grant.user_id,
                    row.code,
                )
                continue
            who = mention(grant.user_id, user.first_name if user else None)
            await self.outbox.add(
                conn,
                chat_id,
                f"{who} {group_text}",
                urgent=True,
                ref=f"campaign:{campaign.id}",
                dedupe_key=dedupe,
            )

    async def _tell_no_secretary(self, conn: Conn, campaign: Campaign, board: Board) -> None:
        """Orgs still missing that have no secretary: the staff above are told, once per org."""
        owing = {o.org_id: o for o in await repo.owing(conn, campaign.id)}
        new = [
            r
            for r in board.missing
            if not r.has_secretary and owing[r.org_id].no_secretary_told_at is None
        ]
        if not new:
            return
        by_staff: dict[int, list[str]] = {}
        for row in new:
            ancestors = [int(p) for p in owing[row.org_id].path.strip("/").split("/") if p]
            staff = {g.user_id for g in await user_repo.holders(conn, ancestors, "staff")}
            for uid in staff or {campaign.created_by}:
                by_staff.setdefault(uid, []).append(row.name)
        for uid, names in by_staff.items():
            lang = await self.lang_of(uid)
            text = t(
                lang,
                "camp_no_secretary",
                id=campaign.id,
                title=campaign.title,
                due=self.fmt(campaign.due_at, lang),
                orgs="、".join(names) if lang == "zh" else ", ".join(names),
            )
            await self.outbox.add(
                conn,
                uid,
                text,
                user_id=uid,
                ref=f"campaign:{campaign.id}",
                dedupe_key=f"campaign:{campaign.id}:nosec:{uid}:{min(r.org_id for r in new)}",
                extra={"fallback": True, "fallback_text": text},
            )
        await repo.mark_no_secretary_told(
            conn, campaign.id, [r.org_id for r in new], self.clock.time()
        )
