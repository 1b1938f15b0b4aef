"""The annual cadre sheet (评先评优参考): `/export cadres [year]`.

One row per post-holder of the subtree (the roster's current holders): their report-backs owed
that year and how many came on time, the latest review result (述职评议) of their org, the
activities they organised, their training hours, and the approved volunteer hours of the
members of their org and below — the figures the report says results feed into when cadres
are chosen for awards and appointments. Real names: the workbook goes privately to staff.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime

from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_cadres import RosterLine
from bot.domain.models_campaigns import Campaign
from bot.domain.review_calc import grade_name
from bot.domain.service import ServiceBase
from bot.domain.validate import ascii_int, excerpt
from bot.domain.xlsx import Scalar, Sheet, book, day_words, save
from bot.texts import t
from storage import cadre_sheet as repo
from storage import cadres as cadre_repo
from storage import campaigns as campaign_repo

#: the years a sheet may be asked for
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_year(args: list[str], this_year: int) -> int:
    """`[year]` of /export cadres: four digits (ASCII or full-width), default this year; any
    other kind of digit is refused as everywhere (bot/domain/validate.py)."""
    if not args:
        return this_year
    raw = args[0] if len(args) == 1 else " ".join(args)
    year = ascii_int(raw, key="err_cadre_sheet_year", max_digits=4)
    if len(args) > 1 or not FIRST_YEAR <= year <= LAST_YEAR:
        raise Refusal("err_cadre_sheet_year", got=excerpt(raw, 20))
    return year


def holder_cells(line: RosterLine, plain: Callable[[str], str]) -> list[Scalar]:
    """The first cells of a post-holder's row in the cadre workbooks: org, post, real name,
    mode, term from, term to."""
    return [
        line.org_name,
        plain("cadre_pos_" + line.position),
        line.real_name or plain("cadre_forgotten"),
        plain("cadre_mode_" + (line.mode or "none")),
        line.term_start or "",
        line.term_end or "",
    ]


class CadreSheet(ServiceBase):
    """Builds the annual sheet from the roster, campaigns, reviews, activities and hours."""

    def year_bounds(self, year: int) -> tuple[float, float]:
        """[January 1st, next January 1st) of `year` in the bot's time zone, as timestamps."""
        tz = self.settings.tz
        lo = datetime(year, 1, 1, tzinfo=tz).timestamp()
        return lo, datetime(year + 1, 1, 1, tzinfo=tz).timestamp()

    def this_year(self) -> int:
        return datetime.fromtimestamp(self.clock.time(), self.settings.tz).year

    async def workbook(self, org: Org, year: int, lang: str) -> bytes:
        r = self.db.reader
        lo, hi = self.year_bounds(year)
        lines = [line for line in await cadre_repo.roster(r, org.path) if line.user_id]
        people = sorted({int(line.user_id) for line in lines if line.user_id})
        orgs = sorted({line.org_id for line in lines})
        backs = await repo.report_backs(r, orgs, lo, hi)
        reviews = await repo.review_results(r, orgs, lo, hi)
        organised = await repo.activities_organised(r, people, lo, hi)
        training: dict[int, int] = {}
        for item in await cadre_repo.trainings(r, people):
            if lo <= item.starts_at < hi:
                training[item.user_id] = training.get(item.user_id, 0) + item.quarters
        members = {
            line.org_id: await repo.subtree_quarters(r, line.org_path, year) for line in lines
        }
        campaigns: dict[int, Campaign | None] = {}
        for campaign_id, _, _ in reviews.values():
            if campaign_id not in campaigns:
                campaigns[campaign_id] = await campaign_repo.get(r, campaign_id)

        def plain(key: str, **values: object) -> str:
            return html.unescape(str(t(lang, key, **values)))

        def result(org_id: int) -> str:
            found = reviews.get(org_id)
            if found is None:
                return ""
            campaign_id, grade, points = found
            campaign = campaigns.get(campaign_id)
            name = grade_name(campaign, grade, lang) if campaign else ""
            return name if points is None else f"{name} ({points:.2f})"

        today = datetime.fromtimestamp(self.clock.time(), self.settings.tz).date()
        what = plain("xl_cadre_sheet_what", year=year)
        title = plain("xl_title", org=org.name, what=what, date=day_words(lang, today))
        wb = book(title)
        ws = Sheet(
            wb,
            plain("xl_cadre_sheet_sheet", year=year),
            title=title,
            header=plain("xl_cadre_sheet_head").split("|"),
        )
        for line in lines:
            uid = int(line.user_id or 0)
            on_time, owed = backs.get(line.org_id, (0, 0))
            ws.add(
                [
                    *holder_cells(line, plain),
                    on_time,
                    owed,
                    result(line.org_id),
                    organised.get(uid, 0),
                    training.get(uid, 0) / 4,
                    members.get(line.org_id, 0) / 4,
                ]
            )
        ws.close()
        return save(wb)
