"""The catalogues read right in each language: no Chinese punctuation in English, English
plurals from Babel's rules, dates in the form people read them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.clock import fmt_day, fmt_when
from bot.texts import CATALOGUES, tn

CJK_PUNCTUATION = "，。：；！？（）【】、“”"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_no_chinese_punctuation_in_english_texts() -> None:
    bad = {
        key: sorted({ch for ch in text if ch in CJK_PUNCTUATION})
        for key, text in CATALOGUES["en"].items()
    }
    assert {key: chars for key, chars in bad.items() if chars} == {}


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1 no-show"),
        (2, "2 no-shows"),
        (0, "0 no-shows"),
        (1, "1 hour"),
        (2.5, "2.5 hours"),
    ],
)
def test_english_plurals(n: float, text: str) -> None:
    key = "act_no_shows" if "no-show" in text else "act_hours_n"
    assert tn("en", key, n) == text


def test_chinese_has_one_form() -> None:
    assert tn("zh", "act_no_shows", 1) == "未到 1 人"
    assert tn("zh", "act_hours_n", 2.5) == "2.5 小时"


@pytest.mark.parametrize(
    ("lang", "day", "today", "shown"),
    [
        ("zh", date(2026, 12, 8), date(2026, 12, 1), "12月8日（周二）"),
        ("en", date(2026, 12, 8), date(2026, 12, 1), "Tue 8 Dec"),
        ("zh", date(2027, 1, 3), date(2026, 12, 1), "2027年1月3日（周日）"),
        ("en", date(2025, 12, 8), date(2026, 12, 1), "Mon 8 Dec 2025"),
    ],
)
def test_days_as_people_read_them(lang: str, day: date, today: date, shown: str) -> None:
    assert fmt_day(day, lang, today) == shown


def test_times_name_the_zone_only_away_from_home() -> None:
    ts = datetime(2026, 12, 8, 18, 0, tzinfo=SHANGHAI).timestamp()
    assert fmt_when(ts, SHANGHAI, "zh", home=SHANGHAI) == "12月8日（周二）18:00"
    assert fmt_when(ts, SHANGHAI, "en", home=SHANGHAI) == "Tue 8 Dec, 18:00"
    london = ZoneInfo("Europe/London")
    assert fmt_when(ts, london, "en", home=SHANGHAI) == "Tue 8 Dec, 10:00 (Europe/London)"
