"""A recurring activity's rule as the organiser types it, and the days it gives.

`| 每个工作日 至 2027-01-31` / `| weekdays until 2027-01-31`, `| 每周六 至 …` / `| weekly sat
until …`, `| 日期 12-05,12-12,12-19` / `| dates …`. The first line's date is where the series
begins and its time is every occurrence's time: the occurrences are the days from that date on
that the rule names. Pure: no storage, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot.domain import validate
from bot.domain.errors import Refusal

MAX_OCCURRENCES = 60
MAX_SPAN_DAYS = 366
#: the words a rule starts with (what tells a rule from the line's other options)
RULE_HEADS: tuple[str, ...] = ("每个工作日", "每工作日", "工作日", "weekdays", "every weekday")
RULE_HEADS += ("每周", "每星期", "weekly", "日期", "dates")
_UNTIL = r"\s*(?:至|到|until|till|through)\s*"
_WEEKDAYS_RE = re.compile(
    r"^(?:每个工作日|每工作日|工作日|weekdays|every weekday)" + _UNTIL + r"(.+)$"
)
_WEEKLY_RE = re.compile(
    r"^(?:每周|每星期|weekly\s+(?:on\s+)?)\s*([a-z]+|[一二三四五六日天])" + _UNTIL + r"(.+)$"
)
_DATES_RE = re.compile(r"^(?:日期|dates)\s*[:：]?\s*(.+)$")
_DATE_RE = re.compile(r"^(?:([0-9]{4})[-/.])?([0-9]{1,2})[-/.]([0-9]{1,2})$")
DAYS = {
    "一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "tues": 1, "thur": 3, "thurs": 3,
}  # fmt: skip


class SeriesRule(BaseModel):
    """A rule read: its stored form ('weekdays', 'weekly:<0-6>', 'dates') and the text given."""

    rule: str
    text: str
    until: date | None = None  # weekdays / weekly: the last day it may fall on
    dates: list[date] = []  # dates: the days listed, in order


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).lower()


def is_rule(text: str | None) -> bool:
    """Does this `| …` field look like a series rule (to be read, or refused, as one)?"""
    value = _norm(text)
    return any(value.startswith(head) for head in RULE_HEADS)


def _day(text: str, first: date, got: str) -> date:
    """'2027-01-31' or '01-31' (the first such day on or after `first`)."""
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise Refusal("err_series_date", got=validate.excerpt(got))
    year = int(match.group(1)) if match.group(1) else first.year
    try:
        day = date(year, int(match.group(2)), int(match.group(3)))
        if match.group(1) is None and day < first:
            day = date(year + 1, day.month, day.day)
    except ValueError:
        raise Refusal("err_series_date", got=validate.excerpt(got)) from None
    return day


def parse_rule(text: str | None, first: date) -> SeriesRule:
    """Read a rule for a series beginning on `first`; a Refusal says what is wrong in a line."""
    value = _norm(text)
    got = validate.excerpt(text)
    if match := _WEEKDAYS_RE.match(value):
        return SeriesRule(rule="weekdays", text=got, until=_day(match.group(1), first, got))
    if match := _WEEKLY_RE.match(value):
        word = match.group(1)
        if word not in DAYS:
            raise Refusal("err_series_rule", got=got)
        until = _day(match.group(2), first, got)
        return SeriesRule(rule=f"weekly:{DAYS[word]}", text=got, until=until)
    if match := _DATES_RE.match(value):
        parts = [p for p in re.split(r"[,，、;；\s]+", match.group(1)) if p]
        if not parts:
            raise Refusal("err_series_rule", got=got)
        days = sorted({_day(p, first, got) for p in parts})
        return SeriesRule(rule="dates", text=got, dates=days)
    raise Refusal("err_series_rule", got=got)


def occurrence_days(rule: SeriesRule, first: date) -> list[date]:
    """The days of the occurrences, first to last, within the caps (else a Refusal)."""
    last_allowed = first + timedelta(days=MAX_SPAN_DAYS)
    if rule.rule == "dates":
        days = rule.dates
        if days and days[0] < first:
            raise Refusal("err_series_before", got=days[0].isoformat())
    else:
        assert rule.until is not None
        if rule.until < first:
            raise Refusal("err_series_before", got=rule.until.isoformat())
        if rule.until > last_allowed:
            raise Refusal("err_series_far", got=rule.until.isoformat(), days=MAX_SPAN_DAYS)
        wanted = range(5) if rule.rule == "weekdays" else [int(rule.rule.split(":")[1])]
        days = []
        day = first
        while day <= rule.until and len(days) <= MAX_OCCURRENCES:
            if day.weekday() in wanted:
                days.append(day)
            day += timedelta(days=1)
    if days and days[-1] > last_allowed:
        raise Refusal("err_series_far", got=days[-1].isoformat(), days=MAX_SPAN_DAYS)
    if not days:
        raise Refusal("err_series_empty", got=rule.text)
    if len(days) > MAX_OCCURRENCES:
        raise Refusal("err_series_many", max=MAX_OCCURRENCES, got=rule.text)
    return days


def at_day(ts: float, day: date, tz: ZoneInfo) -> float:
    """The moment on `day` at the local time of day of `ts`."""
    clock = datetime.fromtimestamp(ts, tz)
    return datetime.combine(day, clock.timetz().replace(tzinfo=None), tz).timestamp()


_BARE_TIME_RE = re.compile(
    r"^((?:时间|开始|time|when|start)\s+)([0-9]{1,2}[:：][0-9]{2})$", re.IGNORECASE
)


def pin_time_of_day(fields: str, day: date) -> str:
    """An "all future" edit's `| 时间 17:00` is a time of day: read it on `day` (the named
    occurrence's date), so it reads one way; each occurrence then keeps its own date."""
    parts = []
    for part in fields.split("|"):
        match = _BARE_TIME_RE.match(part.strip())
        parts.append(f" {match.group(1)}{day.isoformat()} {match.group(2)} " if match else part)
    return "|".join(parts)
