"""Time: stored as UTC Unix seconds, shown in the configured zone. Injectable for tests."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date


class Clock:
    """Real time; tests pass a FakeClock with the same two methods."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)


class FakeClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def local(ts: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz=tz)


def fmt_local(ts: float, tz: ZoneInfo) -> str:
    """'YYYY-MM-DD HH:MM' in the configured zone."""
    return local(ts, tz).strftime("%Y-%m-%d %H:%M")


# --- dates as people read them (Babel) ---------------------------------------------------------

_DAY_PATTERN = {"zh": ("M月d日（EEE）", "y年M月d日（EEE）"), "en": ("EEE d MMM", "EEE d MMM y")}


def fmt_day(day: date, lang: str, today: date | None = None) -> str:
    """'12月8日（周二）' / 'Tue 8 Dec'; the year is added when it is not `today`'s."""
    patterns = _DAY_PATTERN.get(lang, _DAY_PATTERN["zh"])
    pattern = patterns[0] if today is not None and day.year == today.year else patterns[1]
    return format_date(day, pattern, locale="zh_CN" if lang != "en" else "en_GB")


def fmt_when(
    ts: float, tz: ZoneInfo, lang: str, *, home: ZoneInfo | None = None, today: date | None = None
) -> str:
    """'12月8日（周二）18:00' / 'Tue 8 Dec, 18:00' in `tz`; the zone named when it is not `home`.

    `today` defaults to the day of `ts` itself (no year shown); pass the clock's to show the year
    of a date in another year."""
    here = local(ts, tz)
    day = fmt_day(here.date(), lang, today or here.date())
    text = f"{day}, {here:%H:%M}" if lang == "en" else f"{day}{here:%H:%M}"
    if home is not None and tz.key != home.key:
        text += f" ({tz.key})"
    return text


# Babel reads its locale data on first use (~0.3 s): at import, not inside the first reminder
for _lang in _DAY_PATTERN:
    fmt_day(date(2000, 1, 1), _lang)
