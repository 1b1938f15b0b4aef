"""Dates and times as people write them, in one parser for every command and guided step.

`read_when(text, today, want=...)` reads a whole answer (`明天 9点`, `下周六 下午3点`, `Dec 20`,
`2026-12-20 09:00`); `leading_day(text, today, want=...)` takes a date off the front of a line
(`昨天 七彩四点半` → yesterday, "七彩四点半"). Both return a `When`: either one certain `value`,
or the `choices` to offer as buttons when a reading is ambiguous (`12-08` past or next year,
`9点` morning or evening, `周六` when today is Saturday) or lies on the wrong side of today.
Only `Refusal` ever escapes. Digits follow `validate`: full-width ones are read, others refused.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal, NamedTuple

from bot.domain import validate
from bot.domain.errors import Refusal

Want = Literal["past", "future"] | None

#: full-width separators people type with a Chinese IME, one character each (spans survive)
_SEP = str.maketrans({"－": "-", "／": "/", "，": ",", "（": "(", "）": ")", "　": " ", "．": "."})
_WEEKDAY_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY_EN = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_WORDS = {
    "今天": 0,
    "今日": 0,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "後天": 2,
    "昨天": -1,
    "昨日": -1,
    "前天": -2,
    "大后天": 3,
    "today": 0,
    "tomorrow": 1,
    "yesterday": -1,
}

_EN_DAY = (
    r"(?P<ewd>monday|mon|tuesday|tues|tue|wednesday|wed|thursday|thurs|thur|thu|friday"
    r"|fri|saturday|sat|sunday|sun)\.?(?![a-z])"
)
_EN_MONTH = (
    r"(?P<{0}>january|jan|february|feb|march|mar|april|apr|may|june|jun|july|jul"
    r"|august|aug|september|sept|sep|october|oct|november|nov|december|dec)\.?(?![a-z])"
)
_ZH_WD = r"(?:周|星期|礼拜|禮拜)(?P<{0}>[一二三四五六日天])"
_DATE = re.compile(
    "|".join(
        [
            r"(?P<y>[0-9]{4})[-/.](?P<m>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})(?![0-9])",
            r"(?P<y2>[0-9]{4})年(?P<m2>[0-9]{1,2})月(?P<d2>[0-9]{1,2})[日号號]",
            r"(?P<m3>[0-9]{1,2})[-/](?P<d3>[0-9]{1,2})(?![0-9/.-])",
            r"(?P<m4>[0-9]{1,2})月(?P<d4>[0-9]{1,2})[日号號]?",
            r"(?P<d5>[0-9]{1,2})[日号號]",
            "(?P<word>" + "|".join(sorted(_DAY_WORDS, key=len, reverse=True)) + r")(?![a-z])",
            r"(?P<zrel>下下|下个|下個|下|上个|上個|上|本|这|這|这个|這個)?" + _ZH_WD.format("zwd"),
            r"(?:(?P<erel>next|last|this)\s+)?" + _EN_DAY,
            r"(?P<d6>[0-9]{1,2})(?:st|nd|rd|th)?\s+"
            + _EN_MONTH.format("mon6")
            + r"(?:,?\s+(?P<y6>[0-9]{4}))?",
            _EN_MONTH.format("mon7")
            + r"\s+(?P<d7>[0-9]{1,2})(?:st|nd|rd|th)?(?![0-9])"
            + r"(?:,?\s+(?P<y7>[0-9]{4})(?![0-9:]))?",
        ]
    )
)
#: the weekday we print after a date ("（周二）", "Tue ...") is read and checked, not needed
_ZH_NOTE = re.compile(r"\s*\(?\s*" + _ZH_WD.format("nwd") + r"\s*\)?")
_EN_NOTE = re.compile(_EN_DAY + r",?\s+")
_PERIODS = {
    "凌晨": "am",
    "早上": "am",
    "早晨": "am",
    "上午": "am",
    "中午": "noon",
    "下午": "pm",
    "傍晚": "pm",
    "晚上": "pm",
    "夜里": "pm",
    "夜裡": "pm",
    "今晚": "pm",
}
_TIME = re.compile(
    r"(?:(?P<per>" + "|".join(_PERIODS) + r")\s*)?(?P<h>[0-9]{1,2})(?:"
    r":(?P<mi>[0-9]{2})\s*(?P<ap>am|pm|a\.m\.|p\.m\.)?"
    r"|\s*(?P<ap2>am|pm|a\.m\.|p\.m\.)"
    r"|\s*[点點时時](?:\s*(?P<half>半)|\s*(?P<mi2>[0-9]{1,2})\s*分?|钟|鐘)?)(?![0-9a-z])"
)


class Reading(NamedTuple):
    """One reading of a date (and, when asked for, a time: minutes after midnight)."""

    day: date
    minute: int | None = None

    def at(self, tz: tzinfo) -> float:
        """UTC seconds of this local date and time (midnight when no time was given)."""
        minute = self.minute or 0
        return datetime(
            self.day.year, self.day.month, self.day.day, minute // 60, minute % 60, tzinfo=tz
        ).timestamp()


class When(NamedTuple):
    """A certain `value`, or the readings to offer as buttons; `end`: characters consumed."""

    value: Reading | None
    choices: tuple[Reading, ...] = ()
    end: int = 0


class _Read(NamedTuple):
    days: tuple[date, ...]  # the readings; more than one: ambiguous
    alt: int = 0  # steps to the next / previous reading of the same words (0: none)
    months: bool = False  # `alt` counts months ("20日": 1, "12-08": 12), else days
    bare_time: bool = False  # no date was written: a time alone, today or tomorrow


def _shape(text: str) -> str:
    """`_norm` with every decimal digit of any script as "9", so a date in foreign digits is
    found (and then refused by `validate.ascii_digits`) rather than read as a description."""
    return "".join("9" if unicodedata.category(ch) == "Nd" else ch for ch in _norm(text))


def _ascii(span: str) -> str:
    """A matched span in ASCII digits; a digit of another script is refused (as `validate`)."""
    if any(unicodedata.category(ch) == "Nd" and not "0" <= ch <= "9" for ch in span):
        validate.ascii_digits(span)
    return span


def _no_foreign_digits(text: str) -> None:
    """Refuse a digit that is not 0-9 (², ½, ٣, ①, Ⅻ ...) as `validate` does; a Chinese numeral
    is a word (周六) unless it stands inside a number ("2027-0三-01")."""
    value = validate.narrow(text)

    def digit_at(i: int) -> bool:
        return 0 <= i < len(value) and (
            "0" <= value[i] <= "9"
            or (validate.is_foreign_digit(value[i]) and unicodedata.category(value[i]) != "Lo")
        )

    bad = next(
        (
            ch
            for i, ch in enumerate(value)
            if validate.is_foreign_digit(ch)
            and (unicodedata.category(ch) != "Lo" or digit_at(i - 1) or digit_at(i + 1))
        ),
        None,
    )
    if bad is not None:
        raise Refusal(
            "err_foreign_digits", got=validate.excerpt(text), char=bad, code=f"U+{ord(bad):04X}"
        )


def _norm(text: str) -> str:
    """Full-width digits and separators as ASCII, lower case; one character stays one."""
    value = validate.narrow(text).translate(_SEP)
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in value)


def _valid(y: int, m: int, d: int, text: str) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise Refusal("err_when_invalid", got=validate.excerpt(text, 20)) from None


def _shift(day: date, months: int) -> date | None:
    y, m = divmod(day.month - 1 + months, 12)
    try:
        return day.replace(year=day.year + y, month=m + 1)
    except ValueError:
        return None


def _month(name: str) -> int:
    return _MONTHS.index(name[:3]) + 1


def _day_of(match: re.Match[str], today: date, source: str, want: Want) -> _Read:
    g = match.groupdict()
    if g["y"] or g["y2"]:
        y, m, d = (int(g[k]) for k in (("y", "m", "d") if g["y"] else ("y2", "m2", "d2")))
        return _Read((_valid(y, m, d, source),), 0, False)
    for mk, dk, yk in (
        ("m3", "d3", ""),
        ("m4", "d4", ""),
        ("mon6", "d6", "y6"),
        ("mon7", "d7", "y7"),
    ):
        if g[mk]:
            m = int(g[mk]) if g[mk].isdigit() else _month(g[mk])
            if yk and g[yk]:
                return _Read((_valid(int(g[yk]), m, int(g[dk]), source),), 0, False)
            if m == 2 and int(g[dk]) == 29 and today.year % 4:
                return _Read((_valid(today.year + 4 - today.year % 4, 2, 29, source),), 0, False)
            return _Read((_valid(today.year, m, int(g[dk]), source),), 12, True)
    if g["d5"]:
        return _Read((_valid(today.year, today.month, int(g["d5"]), source),), 1, True)
    if g["word"]:
        return _Read((today + timedelta(days=_DAY_WORDS[g["word"]]),), 0, False)
    if g["zwd"]:
        rel = (g["zrel"] or "").rstrip("个個")
        target = _WEEKDAY_ZH[g["zwd"]]
        monday = today - timedelta(days=today.weekday())
        if rel in ("本", "这", "這"):
            return _Read((monday + timedelta(days=target),), 0, False)
        weeks = {"下": 1, "下下": 2, "上": -1}.get(rel)
        if weeks is not None:
            return _Read((monday + timedelta(days=7 * weeks + target),), 0, False)
        return _weekday(today, target, want)
    target = _WEEKDAY_EN[g["ewd"][:3]]
    monday = today - timedelta(days=today.weekday())
    if g["erel"] == "this":
        return _Read((monday + timedelta(days=target),), 0, False)
    if g["erel"] == "last":
        return _Read((monday + timedelta(days=target - 7),), 0, False)
    if g["erel"] == "next":
        following = monday + timedelta(days=7 + target)
        coming = today + timedelta(days=(target - today.weekday()) % 7 or 7)
        return _Read(tuple(sorted({coming, following})), 0, False)
    return _weekday(today, target, want)


def _weekday(today: date, target: int, want: Want) -> _Read:
    """A bare weekday: the last one when the past is wanted, else the coming one."""
    if want == "past":
        return _Read((today - timedelta(days=(today.weekday() - target) % 7),), 7)
    return _Read((today + timedelta(days=(target - today.weekday()) % 7),), 7)


def _minutes(match: re.Match[str], source: str) -> tuple[int, ...]:
    """The readings of a time of day, in minutes after midnight."""
    g = match.groupdict()
    h = int(g["h"])
    mi = int(g["mi"] or g["mi2"] or 0) + (30 if g["half"] else 0)
    ap = g["ap"] or g["ap2"]
    period = _PERIODS.get(g["per"] or "") or (
        "pm" if ap and ap.startswith("p") else "am" if ap else None
    )
    if mi > 59 or h > 23:
        raise Refusal("err_when_time", got=validate.excerpt(source, 20))
    if period == "am":
        if h > 12:
            raise Refusal("err_when_time", got=validate.excerpt(source, 20))
        return ((h % 12 if ap or h < 12 else 12) * 60 + mi,)
    if period is not None:  # afternoon, evening, noon: 3 → 15:00, 15 → 15:00, 12 → 12:00
        if h >= 24 or (ap and not 1 <= h <= 12):
            raise Refusal("err_when_time", got=validate.excerpt(source, 20))
        keep = h >= 12 or (period == "noon" and h == 11)
        return ((h if keep else h + 12) * 60 + mi,)
    if g["mi"] is None and 1 <= h <= 11:  # "9点": morning or evening
        return (h * 60 + mi, (h + 12) * 60 + mi)
    return (h * 60 + mi,)


def _date_at(
    shape: str, norm: str, pos: int, today: date, source: str, want: Want
) -> tuple[_Read | None, int]:
    """The date starting at `pos` (after an optional English weekday) and where it ends."""
    english = _EN_NOTE.match(shape, pos)
    stated = None
    if english is not None and _DATE.match(shape, english.end()):
        stated, pos = _WEEKDAY_EN[english.group("ewd")[:3]], english.end()
    found = _DATE.match(shape, pos)
    if found is None:
        return None, pos
    # the date again in ASCII digits (other kinds of digit refused), on the same span
    exact = _DATE.fullmatch(_ascii(norm[found.start() : found.end()]))
    if exact is None:
        raise Refusal("err_when_unknown", got=validate.excerpt(source, 30))
    read = _day_of(exact, today, source[found.start() : found.end()], want)
    end = found.end()
    note = _ZH_NOTE.match(shape, end)
    if note is not None:
        stated, end = _WEEKDAY_ZH[note.group("nwd")], note.end()
    if stated is not None and len(read.days) == 1 and read.days[0].weekday() != stated:
        raise Refusal("err_when_weekday", got=validate.excerpt(source, 30))
    return read, end


def _scan(text: str, today: date, want: Want) -> tuple[_Read | None, re.Match[str] | None, int]:
    """The date and time at the start of `text` (either may be missing); characters used."""
    shape = _shape(text)
    norm = _norm(text)
    pos = len(shape) - len(shape.lstrip())
    read, pos = _date_at(shape, norm, pos, today, text, want)
    sep = re.compile(r"\s*,?\s*").match(shape, pos)
    after = sep.end() if sep else pos
    timed = _TIME.match(shape, after)
    if timed is None:
        return read, None, pos
    exact = _TIME.fullmatch(_ascii(norm[timed.start() : timed.end()]))
    if exact is None:
        raise Refusal("err_when_time", got=validate.excerpt(text, 30))
    return read, exact, timed.end()


def _settle(
    read: _Read, minutes: tuple[int | None, ...], today: date, now_minute: int, want: Want
) -> When:
    """One certain reading, or the readings that fit `want` (stepping past ones forward)."""
    readings = [Reading(d, m) for d in read.days for m in minutes]
    if want is None and len(readings) == 1:
        return When(readings[0])

    def fits(r: Reading) -> bool:
        if want is None:
            return True
        key = (r.day, -1 if r.minute is None else r.minute)
        here = (today, now_minute if r.minute is not None else 0)
        if want == "future":
            return key > here if r.minute is not None else r.day >= today
        return key <= here if r.minute is not None else r.day <= today

    good = [r for r in readings if fits(r)]
    if len(readings) == 1 and good:
        only = good[0]
        if read.alt == 7 and only.day == today:  # "周六" on a Saturday: today or a week on?
            step = 7 if want == "future" else -7
            return When(None, (only, Reading(only.day + timedelta(days=step), only.minute)))
        return When(only)
    if read.alt:
        step = 1 if want != "past" else -1
        for r in readings:
            if not fits(r):
                moved = (
                    _shift(r.day, step * read.alt)
                    if read.months
                    else r.day + timedelta(days=step * read.alt)
                )
                if moved is not None and fits(Reading(moved, r.minute)):
                    good.append(Reading(moved, r.minute))
    elif read.bare_time and want == "future":  # a time alone, already past today
        good += [
            Reading(today + timedelta(days=1), m)
            for m in minutes
            if not fits(Reading(today, m)) and m is not None
        ]
    good = sorted(set(good))
    if not good:
        return When(readings[0])  # on the wrong side of today: the caller says so
    return When(None, tuple(good))


def read_when(
    text: str | None,
    today: date,
    *,
    now_minute: int = 0,
    want: Want = None,
    need_time: bool = False,
) -> When:
    """A whole answer: a date, a date and a time, or (with `need_time`) a time alone."""
    source = text or ""
    _no_foreign_digits(source)
    read, timed, end = _scan(source, today, want)
    if source[end:].strip(" ,，") or (read is None and timed is None):
        raise Refusal("err_when_unknown", got=validate.excerpt(source, 30))
    if need_time and timed is None:
        raise Refusal("err_when_no_time", got=validate.excerpt(source, 30))
    if read is None:
        if not need_time:
            raise Refusal("err_when_unknown", got=validate.excerpt(source, 30))
        read = _Read((today,), bare_time=True)
    minutes: tuple[int | None, ...] = _minutes(timed, source) if timed else (None,)
    if not need_time:
        minutes = (None,)
    return _settle(read, minutes, today, now_minute, want)._replace(end=len(source))


def leading_day(text: str | None, today: date, *, want: Want = None) -> When:
    """A date at the start of a line (no time read): `end` is where the rest begins.

    No date there: `When(None)` with `end` 0. A date word is always taken as the date."""
    source = text or ""
    shape = _shape(source)
    read, end = _date_at(
        shape, _norm(source), len(shape) - len(shape.lstrip()), today, source, want
    )
    if read is None:
        return When(None)
    # a date glued to Latin letters or digits is not a date ("12-01x", "sat3")
    if (
        end < len(source)
        and shape[end - 1].isascii()
        and shape[end].isascii()
        and shape[end].isalnum()
    ):
        return When(None)
    return _settle(read, (None,), today, 0, want)._replace(end=end)


def now_parts(ts: float, tz: tzinfo) -> tuple[date, int]:
    """Today's local date and the minute of the day at `ts`."""
    here = datetime.fromtimestamp(ts, tz=tz)
    return here.date(), here.hour * 60 + here.minute


def local_ts(reading: Reading, tz: tzinfo, text: str = "") -> float:
    """UTC seconds of a reading; a local time skipped by a clock change is refused."""
    ts = reading.at(tz)
    back = datetime.fromtimestamp(ts, tz=tz)
    minute = reading.minute or 0
    if (back.date(), back.hour * 60 + back.minute) != (reading.day, minute):
        raise Refusal("err_when_invalid", got=validate.excerpt(text, 20))
    return ts


# --- callback data: a reading chosen with a button ---------------------------------------------

_CHOICE = re.compile(r"^when:([a-z]{1,8}):([0-9]{8})(?:([0-9]{4}))?$")


def choice_data(kind: str, reading: Reading) -> str:
    """The button that picks `reading` for the flow or command `kind` (e.g. "hrs", "act")."""
    text = f"when:{kind}:{reading.day.strftime('%Y%m%d')}"
    if reading.minute is not None:
        text += f"{reading.minute // 60:02d}{reading.minute % 60:02d}"
    return text


def choice_pattern(kind: str) -> re.Pattern[str]:
    """What the handler of `kind`'s choice buttons is registered on."""
    return re.compile(rf"^when:{kind}:")


def parse_choice_data(data: str | None) -> tuple[str, Reading]:
    """(kind, reading) of a choice button; a stale or forged one is refused."""
    match = _CHOICE.match(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    raw, hm = match.group(2), match.group(3)
    try:
        day = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise Refusal("err_stale_button") from None
    minute = None
    if hm is not None:
        h, mi = int(hm[:2]), int(hm[2:])
        if h > 23 or mi > 59:
            raise Refusal("err_stale_button")
        minute = h * 60 + mi
    return match.group(1), Reading(day, minute)


# --- a moment in the future (activities, deadlines, announcements) ----------------------------


class Choose(Refusal):
    """The answer reads more than one way (or only as a past time): offer `choices` as buttons.

    A `Refusal`, so a caller that offers no buttons still answers with the question's text."""

    def __init__(self, got: str, choices: tuple[Reading, ...]) -> None:
        super().__init__("when_pick", got=validate.excerpt(got, 30))
        self.choices = choices


def future_moment(
    text: str | None, now: float, tz: tzinfo, chosen: Reading | None = None
) -> Reading:
    """A date and time ahead of `now`, or `Choose`; `chosen` (a pressed button) must be one of
    the readings `text` offers now (with no text: any reading, checked by the caller)."""
    today, minute = now_parts(now, tz)
    if chosen is not None and text is None:
        return chosen
    found = read_when(text, today, now_minute=minute, want="future", need_time=True)
    if chosen is not None:
        if chosen not in found.choices and chosen != found.value:
            raise Refusal("err_stale_button")
        return chosen
    if found.value is None:
        raise Choose(text or "", found.choices)
    return found.value
