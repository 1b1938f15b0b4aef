"""What every part of the campaign service shares: its collaborators, how a campaign is
named and timed in texts, which campaigns a chat sees, and the board (built and rendered)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain.campaigns_board import Board, BoardRow, State
from bot.domain.campaigns_input import submit_payload
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_campaigns import Campaign
from bot.domain.review import Review
from bot.domain.service import Core, ServiceBase
from bot.texts import Raw, t
from storage import campaigns as repo
from storage import orgs as org_repo
from storage import users as user_repo
from storage.db import Conn

BOARD_LINES = 60
DAY = 86400.0

LangOf = Callable[[int], Awaitable[str]]


class CampaignsBase(ServiceBase):
    """The campaign service's shared state and helpers (bot/domain/campaigns.py builds on it)."""

    def __init__(
        self,
        core: Core,
        lang_of: LangOf,
        overdue_interval: float = DAY,
    ) -> None:
        super().__init__(core)
        self.lang_of = lang_of
        #: seconds between overdue reminders (a day; tests use seconds); read at creation
        self.overdue_interval = overdue_interval
        #: set at start-up from getMe, for `sub_<id>` deep links in reminders
        self.bot_username = ""
        #: reading and reviewing what was submitted (述职评议)
        self.review = Review(core, lang_of)

    # --- helpers -----------------------------------------------------------------------------
    @property
    def tz(self) -> Any:
        return self.settings.tz

    def about(self, c: Campaign, lang: str) -> dict[str, object]:
        """How every campaign text names one: id, title, due time and the zone it is in."""
        return {
            "id": c.id,
            "title": c.title,
            "due": self.fmt(c.due_at, lang),
            "tz": self.settings.timezone,
        }

    def link(self, campaign_id: int) -> str:
        if not self.bot_username:
            return f"/submit {campaign_id}"
        return f"https://t.me/{self.bot_username}?start={submit_payload(campaign_id)}"

    async def org_of_chat(self, chat_id: int) -> Org:
        return await self.access.org_of_chat(chat_id)

    async def visible_in(self, chat_id: int, campaign_id: int) -> Campaign:
        """The campaign, if the chat's org created it, is above it, or owes part of it."""
        campaign, _ = await self._visible(await self.org_of_chat(chat_id), campaign_id)
        return campaign

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

    async def _board(self, conn: Conn, campaign: Campaign, within: Org | None = None) -> Board:
        org = await org_repo.get(conn, campaign.org_id)
        assert org is not None
        owing = await repo.owing(conn, campaign.id, within.path if within else None)
        staffed = {
            g.org_id for g in await user_repo.holders(conn, [o.org_id for o in owing], "secretary")
        }
        parts: dict[int, list[str]] = {}
        if campaign.parts == 2:
            for p in await repo.parts(conn, campaign.id):
                parts.setdefault(p.org_id, []).append(p.part)
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
                    parts_in=parts.get(o.org_id, []),
                )
            )
        ref = f"campaign:{campaign.id}"
        undelivered = (await self.outbox.failed_counts([ref])).get(ref, 0)
        return Board(campaign=campaign, org=org, rows=rows, undelivered=undelivered)

    # --- rendering (shared by replies and reminders) ------------------------------------------
    def board_text(self, board: Board, lang: str, limit: int = BOARD_LINES) -> str:
        c = board.campaign
        head = t(
            lang,
            "camp_board_head",
            **self.about(c, lang),
            org=board.org.name,
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
        if c.parts == 2:
            lines = [
                line + self.parts_mark(row, lang)
                for line, row in zip(lines, board.rows[:limit], strict=True)
            ]
        if len(board.rows) > limit:
            lines.append(t(lang, "camp_board_more", n=len(board.rows) - limit))
        if board.undelivered:
            lines.append(t(lang, "board_undelivered", n=board.undelivered))
        return Raw("\n".join([head, counts, *lines]))

    @staticmethod
    def parts_mark(row: BoardRow, lang: str) -> str:
        """' · 总结✅ 计划❌': which parts of a two-part report are in."""
        marks = [
            t(lang, f"camp_part_mark_{p}", mark="✅" if p in row.parts_in else "❌")
            for p in ("summary", "plan")
        ]
        return " · " + " ".join(marks)

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
