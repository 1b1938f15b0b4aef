"""Time: stored as UTC Unix seconds, shown in the configured zone. Injectable for tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


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
