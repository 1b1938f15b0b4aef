"""The 述职评议 workbook for filing upward (报备): every score, then the results.

Streamed with bot/domain/xlsx.py, which keeps typed text (org names, grades, comments) as text
and quote-prefixes anything formula-like."""

from __future__ import annotations

import html
from typing import Any

from bot.domain import review_calc as calc
from bot.domain.clock import local
from bot.domain.models import Org
from bot.domain.models_campaigns import Campaign
from bot.domain.xlsx import Sheet, book
from bot.texts import t
from storage.review import Result, Score

SCORES_HEAD = "rv_xl_scores_head"
RESULTS_HEAD = "rv_xl_results_head"


def plain(lang: str, key: str, **values: object) -> str:
    """A text for a cell: no HTML escapes."""
    return html.unescape(str(t(lang, key, **values)))


def _heads(lang: str, key: str) -> list[str]:
    return plain(lang, key).split("|")


def workbook(
    campaign: Campaign,
    owner: Org,
    orgs: list[Org],
    scores: list[Score],
    results: list[Result],
    lang: str,
    tz: Any,
) -> bytes:
    """Sheet 1: one row per (org, reviewer) score; sheet 2: one row per org's result."""
    title = plain(lang, "rv_xl_title", id=campaign.id, title=campaign.title, org=owner.name)
    wb = book(title)
    names = {o.id: o.name for o in orgs}
    ws = Sheet(wb, plain(lang, "rv_xl_scores"), title=title, header=_heads(lang, SCORES_HEAD))
    for s in scores:
        ws.add(
            [
                names.get(s.org_id, str(s.org_id)),
                s.first_name or str(s.reviewer_id),
                calc.grade_name(campaign, s.grade, lang) if s.grade is not None else "",
                len(calc.grades(campaign, lang)) - s.grade if s.grade is not None else None,
                s.comment or "",
                local(s.scored_at, tz).replace(tzinfo=None),
            ]
        )
    ws.close()
    by_org = {r.org_id: r for r in results}
    rs = Sheet(wb, plain(lang, "rv_xl_results"), title=title, header=_heads(lang, RESULTS_HEAD))
    for org in orgs:
        r = by_org.get(org.id)
        rs.add(
            [
                org.name,
                calc.grade_name(campaign, r.grade, lang) if r else "",
                round(r.points, 2) if r and r.points is not None else None,
                r.scored if r else None,
                plain(lang, "rv_xl_tie") if r and r.tie else "",
            ]
        )
    rs.close()
    return wb.save()
