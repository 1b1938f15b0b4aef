"""The staff dashboard (Telegram Mini App): the tower as a tree coloured by health, the
figures of a chosen subtree (the same as /stats), hours per child org over the months, the
open report-back campaigns and what waits for action.

Scope: the subtrees where the person is secretary or staff (superusers: the whole tower);
every read checks the role again, so a role taken away closes the dashboard at once. Nothing
here names a person: no member names, no phone numbers.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from bot.domain.access import Access
from bot.domain.charts import health
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.service import Core, ServiceBase
from bot.domain.stats import Figures, Stats
from bot.texts import t
from storage import campaigns as campaign_repo
from storage import dashboard as repo
from storage import hours as hours_repo
from storage import orgs as org_repo

MONTHS = 6
CAMPAIGNS = 8
#: announcements older than this no longer count as waiting for a "received"
UNACKED_WINDOW = 14 * 86400
ExportKind = Literal["members", "activities"]


class TreeRow(BaseModel):
    """One org of the tower as the page draws it (its own values, not rolled up)."""

    id: int
    code: str
    name: str
    parent_id: int | None
    depth: int
    health: str
    has_chat: bool
    staffed: bool
    members: int
    members_in_chat: int
    campaigns_missing: int
    campaigns_due: int


class OrgFigures(BaseModel):
    id: int
    code: str
    name: str
    numbers: dict[str, int | float]
    checked: bool


class CampaignLine(BaseModel):
    id: int
    title: str
    due_at: float
    status: str
    on_time: int = 0
    late: int = 0
    missing: int = 0
    not_due: int = 0


class OpenItems(BaseModel):
    pending_hours: int
    unacked: int
    overdue: int


class Detail(BaseModel):
    org: OrgFigures
    role: str
    children: list[OrgFigures]
    months: list[str]
    #: approved hours per child (or the org itself when it has none), one value per month
    hours_by_month: list[list[float]]
    campaigns: list[CampaignLine]
    open: OpenItems


def last_months(today: date, n: int = MONTHS) -> list[str]:
    """['YYYY-MM', ...]: the `n` months up to and including today's, oldest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(n):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


async def staff_scope(access: Access, user_id: int) -> list[tuple[Org, str]]:
    """The highest orgs where the person is secretary or staff; refuses everyone else."""
    tops = [
        (org, role)
        for org, role in await access.top_orgs(user_id)
        if role in ("secretary", "staff")
    ]
    if not tops:
        raise Refusal("err_dash_no_role")
    return tops


def _org_figures(f: Figures) -> OrgFigures:
    return OrgFigures(
        id=f.org.id,
        code=f.org.code,
        name=f.org.name,
        numbers=f.numbers(),
        checked=bool(f.members_checked),
    )


class Dashboard(ServiceBase):
    """The data behind the Mini App's API (bot/web/dashboard.py)."""

    def __init__(self, core: Core, stats: Stats) -> None:
        super().__init__(core)
        self.stats = stats

    async def scope(self, user_id: int) -> list[tuple[Org, str]]:
        """The highest orgs where the person is secretary or staff; refuses everyone else."""
        return await staff_scope(self.access, user_id)

    async def tree(self, user_id: int) -> list[TreeRow]:
        """Every org of the person's subtrees, tree order, each with its health colour."""
        rows: list[TreeRow] = []
        for top, _ in await self.scope(user_id):
            for r in await self.stats.tower(top):
                parent = None if r["id"] == top.id else r["parent_id"]
                rows.append(TreeRow(**{**r, "parent_id": parent, "health": health(r)}))
        return rows

    async def _org(self, user_id: int, org_id: int) -> tuple[Org, str]:
        org = await org_repo.get(self.db.reader, org_id)
        if org is None:
            raise Refusal("err_dash_no_org")
        role = await self.access.require(user_id, org, "secretary")
        return org, role

    async def detail(self, user_id: int, org_id: int) -> Detail:
        """The figures of the subtree at `org_id` and of each direct child, the hours per child
        and month, its campaigns and open items (secretary or staff there)."""
        org, role = await self._org(user_id, org_id)
        view = await self.stats.view(org)
        groups = view.children or [view.total]
        months = last_months(self.stats.today())
        per_path: dict[str, dict[str, int]] = {}
        for path, month, quarters in await repo.monthly_quarters(
            self.db.reader, org.path, since=months[0] + "-01"
        ):
            per_path.setdefault(path, {})[month] = quarters
        hours_by_month = []
        for g in groups:
            sums = dict.fromkeys(months, 0)
            for path, by_month in per_path.items():
                if path.startswith(g.org.path):
                    for month, quarters in by_month.items():
                        sums[month] = sums.get(month, 0) + quarters
            hours_by_month.append([sums[m] / 4 for m in months])
        now = self.clock.time()
        return Detail(
            org=_org_figures(view.total),
            role=role,
            children=[_org_figures(kid) for kid in view.children],
            months=months,
            hours_by_month=hours_by_month,
            campaigns=await self._campaigns(org, now),
            open=OpenItems(
                pending_hours=(
                    await hours_repo.pending_in(
                        self.db.reader, [org.path], exclude_user=user_id, limit=0
                    )
                )[1],
                unacked=await repo.unacked_copies(
                    self.db.reader, org.path, since=now - UNACKED_WINDOW
                ),
                overdue=view.total.missing,
            ),
        )

    async def _campaigns(self, org: Org, now: float) -> list[CampaignLine]:
        lines = []
        for c in await campaign_repo.visible_from(self.db.reader, org.path, CAMPAIGNS):
            line = CampaignLine(id=c.id, title=c.title, due_at=c.due_at, status=c.status)
            for owing in await campaign_repo.owing(self.db.reader, c.id, org.path):
                sub = owing.submission
                if sub is None:
                    line.missing += c.due_at <= now
                    line.not_due += c.due_at > now
                elif sub.late:
                    line.late += 1
                else:
                    line.on_time += 1
            lines.append(line)
        return lines

    async def export(
        self, user_id: int, org_id: int, kind: ExportKind, lang: str
    ) -> tuple[bytes, str, str]:
        """(xlsx, file name, caption) of the members or activities of the subtree at `org_id`,
        for the person's private chat (secretary or staff there)."""
        org, _ = await self._org(user_id, org_id)
        build = {
            "members": self.stats.members_workbook,
            "activities": self.stats.activities_workbook,
        }
        data = await build[kind](org, lang)
        name = f"{kind}-{org.code}-{self.stats.today().isoformat()}.xlsx"
        return data, name, t(lang, f"export_caption_{kind}", org=org.name)

    async def send_export(self, user_id: int, org_id: int, kind: ExportKind, lang: str) -> None:
        """The workbook, queued for the person's private chat through the outbox."""
        data, name, caption = await self.export(user_id, org_id, kind, lang)
        await self.outbox.send_workbook(user_id, data, filename=name, caption=caption)
