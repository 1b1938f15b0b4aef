"""Campaign input, pure: `/deadline` text, due times, the /submit callback data and deep link,
the reminder ladder and the small formatters used in replies and reminders."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel

from bot.domain import validate
from bot.domain.clock import fmt_local
from bot.domain.errors import Refusal
from bot.domain.when import Choose, Reading, future_moment, local_ts
from bot.texts import t

TITLE_MAX = 100
MAX_AHEAD = 400 * 86400  # a due time more than ~13 months ahead is a typo

# --- parsing (pure) -------------------------------------------------------------------------


class NewCampaign(BaseModel):
    title: str
    due_at: float
    scope: Literal["children", "all"] = "children"
    parts: int = 1
    rubric: str = ""
    method: Literal["average", "majority"] = "average"
    #: usernames (no @) of the review panel, not a column: written to campaign_reviewers
    panel: list[str] = []
    #: a panel segment was given (possibly only by replying to someone)
    panel_named: bool = False

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude={"panel", "panel_named"})


RUBRIC_MAX = 6
GRADE_MAX = 10
_PANEL_WORDS = ("评审", "reviewers", "reviewer")
_RUBRIC_WORDS = ("评分", "rubric")
_USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})")


def _option(new: dict[str, Any], part: str) -> None:
    """One `| option` of /deadline new, into `new`; anything else is refused."""
    low = part.lower()
    word = re.split(r"[\s:：]+", low, maxsplit=1)[0]
    rest = re.split(r"[\s:：]+", part, maxsplit=1)[1] if re.search(r"[\s:：]", part) else ""
    if low in ("all", "全部"):
        new["scope"] = "all"
    elif low in ("两部分", "two-part", "two", "2"):
        new["parts"] = 2
    elif low in ("多数", "majority"):
        new["method"] = "majority"
    elif low in ("平均", "average"):
        new["method"] = "average"
    elif word in _PANEL_WORDS:
        names = []
        for token in rest.split():
            match = _USERNAME.fullmatch(token)
            if match is None:
                raise Refusal("err_deadline_panel", got=validate.excerpt(token, 40))
            names.append(match.group(1))
        new["panel"] = list(dict.fromkeys(names))
        new["panel_named"] = True
    elif word in _RUBRIC_WORDS:
        grades = rest.split()
        if not 2 <= len(grades) <= RUBRIC_MAX or len(set(grades)) != len(grades):
            raise Refusal("err_deadline_rubric", max=RUBRIC_MAX)
        for g in grades:
            if len(g) > GRADE_MAX or any(unicodedata.category(ch) == "Cc" for ch in g):
                raise Refusal("err_deadline_rubric", max=RUBRIC_MAX)
            validate.no_invisible(g, field="rubric")
        new["rubric"] = "|".join(grades)
    else:
        raise Refusal("err_deadline_scope", got=validate.excerpt(part, 20))


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
    """`<title> | <YYYY-MM-DD HH:MM> [| all] [| 两部分] [| 评审 @a @b] [| 评分 好 中 差]
    [| 多数]` → a validated new campaign."""
    parts = [p.strip() for p in (text or "").split("|")]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise Refusal("err_deadline_parts")
    if len(parts) > 7 or not all(parts[2:]):
        raise Refusal("err_deadline_parts")
    title = unicodedata.normalize("NFC", parts[0])
    if len(title) > TITLE_MAX:
        raise Refusal("err_deadline_title_long", max=TITLE_MAX, got=len(title))
    if any(unicodedata.category(ch) == "Cc" for ch in title):
        raise Refusal("err_deadline_title_chars")
    validate.no_invisible(title, field="title")
    options: dict[str, Any] = {}
    for part in parts[2:]:
        _option(options, part)
    return NewCampaign(title=title, due_at=parse_due(parts[1], tz, now, chosen), **options)


# --- callback data and deep link: choosing what to submit ------------------------------------

#: a /submit choice button (the handler is registered on it; a stale one is refused there)
SUBMIT_DATA = re.compile(r"^sub:")
_SUBMIT = re.compile(r"sub:([0-9]{1,12}):([0-9]{1,12})(?::([sp]))?")  # the whole data
#: the parts of a two-part report, as callback data writes them
PART_CODES = {"s": "summary", "p": "plan"}
#: the deep-link prefix of `/start sub_<campaign id>`, sent in reminders
SUBMIT_LINK = "sub"


def submit_data(campaign_id: int, org_id: int, part: str | None = None) -> str:
    """The button that chooses to submit for `org_id` to campaign `campaign_id` (and which
    part of a two-part report)."""
    return f"sub:{campaign_id}:{org_id}" + (f":{part[0]}" if part else "")


def parse_submit_data(data: str | None) -> tuple[int, int, str | None]:
    """(campaign id, org id, part) of a /submit choice; a stale or forged one is refused."""
    match = _SUBMIT.fullmatch(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    part = PART_CODES[match.group(3)] if match.group(3) else None
    return int(match.group(1)), int(match.group(2)), part


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
