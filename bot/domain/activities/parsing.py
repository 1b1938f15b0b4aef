"""Activities as the organiser types them: one line or the guided form's answers, validated;
and the small formats (hours, spans, reminder steps, distances) the messages use."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel

from bot.domain import validate
from bot.domain.activities.posts import PostInput, is_posts_field, on_day, parse_posts
from bot.domain.activities.recurrence import SeriesRule, is_rule, occurrence_days, parse_rule
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.when import Choose, Reading, future_moment, local_ts
from bot.settings import Settings
from bot.texts import t

MAX_TITLE = 100
MAX_PLACE = 200
MAX_CAPACITY = 100_000
MAX_DAYS_AHEAD = 366
CASCADE_WORDS = ("cascade", "级联", "全塔")
#: an extra field that makes the activity a training (培训班, 团课): attendance forms the
#: training record of each cadre (bot/domain/cadres.py)
KIND_WORDS = {
    "培训班": "training",
    "培训": "training",
    "training": "training",
    "团课": "lesson",
    "lesson": "lesson",
    "league class": "lesson",
}
SKIP_WORDS = ("skip", "跳过", "-", "无")
#: `| 截止 <time>`: sign-up closes then instead of at the start
DEADLINE_WORDS = ("截止", "报名截止", "deadline")
#: `| 说明 <text>`: a description shown on the card
NOTE_WORDS = ("说明", "备注", "note", "description")
MAX_NOTE = 500

_HOURS_RE = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,4})?$")
_COORDS_RE = re.compile(r"^(-?[0-9]{1,3}(?:\.[0-9]+)?)\s*[,，]\s*(-?[0-9]{1,3}(?:\.[0-9]+)?)$")


class ActivityInput(BaseModel):
    """One activity as the organiser typed it, validated."""

    title: str
    starts_at: float
    quarters: int
    capacity: int
    place: str
    lat: float | None = None
    lon: float | None = None
    cascade: bool = False
    kind: str | None = None  # 'training' (培训班) or 'lesson' (团课); None: an ordinary one
    signup_deadline: float | None = None  # None: sign-up closes at the start
    note: str | None = None
    posts: list[PostInput] = []  # 岗位: each with its own capacity (theirs sum to `capacity`)
    series: SeriesRule | None = None  # `| 每个工作日 至 …`: one activity per day of the rule


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def _nfc(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def is_skip(text: str | None) -> bool:
    """The guided form's answer for "no coordinates"."""
    return _norm(text).lower() in SKIP_WORDS


def example_values(now: float, settings: Settings) -> dict[str, str]:
    """Values for the examples in the usage texts (a date a week ahead, a series' end a month
    after it)."""
    day = local(now, settings.tz) + timedelta(days=7)
    until = (day + timedelta(days=30)).strftime("%Y-%m-%d")
    return {"example_when": f"{day:%Y-%m-%d} 09:00", "example_until": until}


def parse_title(text: str | None, ex: dict[str, str]) -> str:
    """A title: non-empty, printable, at most MAX_TITLE characters."""
    value = validate.no_invisible(_nfc(text), field="title")
    if not value:
        raise Refusal("err_act_title_empty", **ex)
    if len(value) > MAX_TITLE:
        raise Refusal("err_act_title_long", max=MAX_TITLE, got=len(value), **ex)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") for ch in value):
        raise Refusal("err_act_title_empty", **ex)
    return value


def parse_place(text: str | None, ex: dict[str, str]) -> str:
    """A place: non-empty, printable, at most MAX_PLACE characters."""
    value = validate.no_invisible(_nfc(text), field="place")
    if not value:
        raise Refusal("err_act_place_empty", **ex)
    if len(value) > MAX_PLACE:
        raise Refusal("err_act_place_long", max=MAX_PLACE, got=len(value), **ex)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") for ch in value):
        raise Refusal("err_act_place_empty", **ex)
    return value


def parse_when(
    text: str | None,
    now: float,
    settings: Settings,
    ex: dict[str, str],
    chosen: Reading | None = None,
) -> float:
    """A start time as people write it (`明天 9点`, `2026-12-20 09:00`, `Sat 3pm`) in the
    configured zone, in the future and within a year; `Choose` when it reads several ways."""
    try:
        reading = future_moment(text, now, settings.tz, chosen)
        ts = local_ts(reading, settings.tz, text or "")
    except Refusal as exc:
        if isinstance(exc, Choose) or exc.key in ("err_foreign_digits", "err_stale_button"):
            raise
        raise Refusal("err_act_when", got=validate.excerpt(text), **ex) from None
    if ts <= now:
        raise Refusal("err_act_past", got=validate.excerpt(text), **ex)
    if ts > now + MAX_DAYS_AHEAD * 86400:
        raise Refusal("err_act_far", got=validate.excerpt(text), **ex)
    return ts


def parse_quarters(text: str | None, ex: dict[str, str]) -> int:
    """Hours credited: 0.25 to 24 in steps of 0.25, as quarter-hours."""
    value = _norm(validate.ascii_digits(text)).replace(",", ".")
    if not _HOURS_RE.match(value):
        raise Refusal("err_act_hours", got=validate.excerpt(value), **ex)
    try:
        hours = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex keeps these out
        raise Refusal("err_act_hours", got=validate.excerpt(value), **ex) from None
    quarters = hours * 4
    if hours <= 0 or hours > 24 or quarters != quarters.to_integral_value():
        raise Refusal("err_act_hours", got=validate.excerpt(value), **ex)
    return int(quarters)


def parse_capacity(text: str | None, ex: dict[str, str]) -> int:
    """A capacity: a whole number from 1 to MAX_CAPACITY."""
    value = validate.ascii_int(text, key="err_act_capacity", max_digits=12, max=MAX_CAPACITY, **ex)
    if not 1 <= value <= MAX_CAPACITY:
        raise Refusal("err_act_capacity", got=value, max=MAX_CAPACITY, **ex)
    return value


def parse_coords(text: str | None, ex: dict[str, str]) -> tuple[float, float]:
    """'lat,lon' in degrees, within range."""
    value = _norm(validate.ascii_digits(text))
    match = _COORDS_RE.match(value)
    if not match:
        raise Refusal("err_act_coords", got=validate.excerpt(value), **ex)
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Refusal("err_act_coords", got=validate.excerpt(value), **ex)
    return lat, lon


def option(text: str | None, words: tuple[str, ...]) -> str | None:
    """The value of a `| <word> <value>` field whose word is one of `words`, else None."""
    value = _nfc(text)
    head = _norm(value.split(" ", 1)[0]).lower() if value else ""
    if head not in words:
        return None
    return value.split(" ", 1)[1] if " " in value else ""


def parse_deadline(
    text: str | None, now: float, starts_at: float, settings: Settings, ex: dict[str, str]
) -> float:
    """A sign-up deadline: a time (read like the start, but without a question) that is still
    ahead and not after the start."""
    try:
        ts = parse_when(text, now, settings, ex)
    except Choose:  # no buttons for a deadline: written so that it reads one way
        raise Refusal("err_act_when_exact", got=validate.excerpt(text), **ex) from None
    if ts > starts_at:
        raise Refusal("err_act_deadline_late", got=validate.excerpt(text), **ex)
    return ts


def parse_note(text: str | None, ex: dict[str, str]) -> str:
    """A description: 1 to MAX_NOTE characters, no control or text-direction characters."""
    value = _nfc(text)
    odd = validate.odd_char(value)
    if odd is not None:
        raise Refusal("err_act_odd_char", code=f"U+{ord(odd):04X}")
    value = validate.no_invisible(value, field="note")
    if not value:
        raise Refusal("err_act_note_empty", **ex)
    if len(value) > MAX_NOTE:
        raise Refusal("err_act_note_long", max=MAX_NOTE, got=len(value), **ex)
    return value


def parse_activity(
    text: str | None, now: float, settings: Settings, chosen: Reading | None = None
) -> ActivityInput:
    """'<title> | <when> | <hours> | <capacity> | <place> [| lat,lon] [| cascade] [| 培训班|团课]
    [| 截止 <when>] [| 说明 <text>] [| 岗位 <name> <capacity> [HH:MM-HH:MM], ...]
    [| <series rule>]' (with posts, <capacity> may be '-': their sum; rules: recurrence.py).

    The other fields are checked before a `Choose` about the time is raised, so the question
    comes only for a line that is otherwise right; `chosen`: the reading pressed since."""
    ex = example_values(now, settings)
    fields = [part.strip() for part in (text or "").split("|")]
    if not 5 <= len(fields) <= 12:
        raise Refusal("usage_activity", got=len(fields) if (text or "").strip() else 0, **ex)
    title = parse_title(fields[0], ex)
    ask: Choose | None = None
    try:
        starts_at = parse_when(fields[1], now, settings, ex, chosen)
    except Choose as exc:
        ask, starts_at = exc, 0.0
    quarters = parse_quarters(fields[2], ex)
    by_posts = _norm(fields[3]) in ("-", "—", "*")  # the posts' sum
    capacity = 0 if by_posts else parse_capacity(fields[3], ex)
    place = parse_place(fields[4], ex)
    lat = lon = None
    cascade = False
    kind: str | None = None
    deadline: str | None = None
    note: str | None = None
    posts: list[PostInput] | None = None
    rule: str | None = None
    for extra in fields[5:]:
        if is_posts_field(extra) and posts is None:
            posts = parse_posts(extra, MAX_CAPACITY, ex)
        elif rule is None and is_rule(extra):
            rule = extra
        elif deadline is None and (found := option(extra, DEADLINE_WORDS)) is not None:
            deadline = found
        elif note is None and (found := option(extra, NOTE_WORDS)) is not None:
            note = parse_note(found, ex)
        elif _norm(extra).lower() in CASCADE_WORDS and not cascade:
            cascade = True
        elif _norm(extra).lower() in KIND_WORDS and kind is None:
            kind = KIND_WORDS[_norm(extra).lower()]
        elif lat is None and _COORDS_RE.match(" ".join(validate.digit_shape(extra).split())):
            lat, lon = parse_coords(extra, ex)
        else:
            raise Refusal("err_act_extra", got=validate.excerpt(extra), **ex)
    total = sum(p.capacity for p in posts or [])
    if posts is None and by_posts:
        parse_capacity(fields[3], ex)  # '-' without posts: the usual answer
    elif posts is not None and total > MAX_CAPACITY:
        raise Refusal("err_post_total_max", total=total, max=MAX_CAPACITY, **ex)
    elif posts is not None and not by_posts and capacity != total:
        raise Refusal("err_post_total", total=total, got=capacity, **ex)
    if ask is not None:
        raise ask
    signup_deadline = (
        None if deadline is None else parse_deadline(deadline, now, starts_at, settings, ex)
    )
    series = None
    if rule is not None:
        series = parse_rule(rule, local(starts_at, settings.tz).date())
        occurrence_days(series, local(starts_at, settings.tz).date())  # within the caps
    return ActivityInput(
        title=title,
        starts_at=starts_at,
        quarters=quarters,
        capacity=total if posts else capacity,
        place=place,
        lat=lat,
        lon=lon,
        cascade=cascade,
        kind=kind,
        signup_deadline=signup_deadline,
        note=note,
        posts=on_day(posts or [], starts_at, settings),
        series=series,
    )


def parse_id(text: str | None) -> int:
    """An activity id as typed ('12' or '#12')."""
    return validate.ascii_int(text, key="err_act_id")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def fmt_hours(quarters: int) -> str:
    """Quarter-hours as hours without trailing zeros ('1.5')."""
    return f"{quarters / 4:.2f}".rstrip("0").rstrip(".")


def step_name(span: timedelta) -> str:
    """A reminder offset as a stable step name: '24h', '1h', '90m', '2d', '45s'."""
    seconds = int(span.total_seconds())
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def fmt_span(seconds: float, lang: str) -> str:
    """A time span in words, in the largest whole unit."""
    seconds = max(0, round(seconds))
    if seconds >= 86400 and seconds % 86400 == 0:
        return t(lang, "act_span_d", n=seconds // 86400)
    if seconds >= 3600 and seconds % 3600 == 0:
        return t(lang, "act_span_h", n=seconds // 3600)
    if seconds >= 60:
        return t(lang, "act_span_m", n=round(seconds / 60))
    return t(lang, "act_span_s", n=seconds)
