"""述职评议, pure: the callback data of its buttons, the rubric and how results are worked out.

Grade points: with n grades, the best is worth n points, the worst 1. `average` takes the mean
of the points and the nearest grade; a mean exactly between two grades goes to the lower one.
`majority` takes the grade chosen most often; a tie between grades goes to the lowest of them.
Either way a tie is recorded as such. A report nobody graded has no result ("无评分").
"""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel

from bot.domain.errors import Refusal
from bot.domain.models_campaigns import Campaign
from bot.texts import t

DEFAULT_GRADES = 4  # 好 / 较好 / 一般 / 差, from the texts (rv_grade_0..3)
COMMENT_MAX = 500

# --- callback data: one place builds, one parses --------------------------------------------

#: every review button (the handler is registered on it; each kind is parsed below)
REVIEW_DATA = re.compile(r"^rv:")
_DATA = re.compile(r"rv:([mgn]):([0-9]{1,12}):([0-9]{1,12})(?::([0-9]))?")


class Pressed(BaseModel):
    kind: str  # m: 查看材料, g: a grade, n: 加评语
    campaign_id: int
    org_id: int
    grade: int | None = None


def material_data(campaign_id: int, org_id: int) -> str:
    return f"rv:m:{campaign_id}:{org_id}"


def grade_data(campaign_id: int, org_id: int, grade: int) -> str:
    return f"rv:g:{campaign_id}:{org_id}:{grade}"


def comment_data(campaign_id: int, org_id: int) -> str:
    return f"rv:n:{campaign_id}:{org_id}"


def parse_data(data: str | None) -> Pressed:
    match = _DATA.fullmatch(data or "")
    if match is None or (match.group(1) == "g") != (match.group(4) is not None):
        raise Refusal("err_stale_button")
    grade = int(match.group(4)) if match.group(4) is not None else None
    return Pressed(
        kind=match.group(1),
        campaign_id=int(match.group(2)),
        org_id=int(match.group(3)),
        grade=grade,
    )


# --- the rubric and results -------------------------------------------------------------------


def grades(campaign: Campaign, lang: str) -> list[str]:
    """The campaign's grades, best first."""
    if campaign.rubric:
        return campaign.rubric.split("|")
    return [t(lang, f"rv_grade_{i}") for i in range(DEFAULT_GRADES)]


def grade_name(campaign: Campaign, grade: int | None, lang: str) -> str:
    names = grades(campaign, lang)
    if grade is None or not 0 <= grade < len(names):
        return t(lang, "rv_no_grade")
    return names[grade]


class Outcome(BaseModel):
    grade: int | None  # index into the rubric; None: nobody graded
    points: float | None  # the mean of the grade points
    scored: int
    tie: bool = False


def outcome(given: list[int], n_grades: int, method: str) -> Outcome:
    """The result of one report from the grades its reviewers gave (indexes, 0 = best)."""
    if not given:
        return Outcome(grade=None, points=None, scored=0)
    points = [n_grades - g for g in given]
    mean = sum(points) / len(points)
    if method == "majority":
        counts = Counter(given)
        top = max(counts.values())
        tied = sorted(g for g, c in counts.items() if c == top)
        return Outcome(grade=tied[-1], points=mean, scored=len(given), tie=len(tied) > 1)
    below = int(mean)  # the points of the grade at or below the mean
    frac = mean - below
    tie = abs(frac - 0.5) < 1e-9
    nearest = below + 1 if frac > 0.5 + 1e-9 else below
    nearest = max(1, min(n_grades, nearest))
    return Outcome(grade=n_grades - nearest, points=mean, scored=len(given), tie=tie)
