"""The /hours parser: only Refusal ever escapes, and exactly the valid inputs are accepted."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from bot.domain.errors import Refusal
from bot.domain.hours import parse_hours, stars_for
from bot.domain.when import leading_day
from bot.texts import t

TODAY = date(2026, 3, 15)


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def desc_ok(text: str) -> bool:
    d = norm(text)
    return 1 <= len(d) <= 500 and not any(
        unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in d
    )


def starts_date_like(text: str) -> bool:
    """The first word is shaped like a date, written in any kind of digits (refused unless 0-9)."""
    words = text.split(maxsplit=1)
    if not words:
        return False
    shape = "".join(
        "9" if c.isnumeric() or unicodedata.category(c)[0] == "N" else c for c in words[0]
    )
    if re.match(r"^9{1,4}[-/.－／．]9{1,2}[-/.－／．]9{1,2}$", shape):
        return True
    try:  # a leading date word ("昨天", "12月8日", "sat") is the date, never the description
        return leading_day(text, TODAY, want="past").end > 0
    except Refusal:
        return True


# descriptions: mostly printable, sometimes with control characters, sometimes too long
printable = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40)
descriptions = st.one_of(
    printable,
    st.text(st.sampled_from("七彩四点半 homework club ★&<>"), min_size=1, max_size=30),
    st.integers(495, 510).map(lambda n: "字" * n),
    st.builds(lambda a, b: a + "\x07" + b, printable, printable),
)
quarters = st.one_of(st.integers(1, 96), st.integers(-8, 0), st.integers(97, 400))
offsets = st.one_of(st.integers(0, 365), st.integers(-400, -1), st.integers(366, 1000))


def fmt_hours(q: int, style: int) -> str:
    value = Decimal(q) / 4
    if style == 0:
        return format(value.normalize(), "f")
    if style == 1:
        return f"{value:.2f}"
    return f"{value:.2f}".replace(".", ",")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
@example("")
@example("2.5 2026-02-30 x")
@example("1e3 x")
@example("nan x")
@example("２.５ 服务")
@example("24.000001 x")
def test_never_raises_anything_but_refusal(text: str) -> None:
    try:
        parsed = parse_hours(text, TODAY)
    except Refusal as exc:
        t("zh", exc.key, **exc.values)  # every refusal renders in both languages
        t("en", exc.key, **exc.values)
        return
    assert 0 < parsed.hours <= 24
    assert TODAY - timedelta(days=365) <= parsed.served_on <= TODAY
    assert 1 <= len(parsed.description) <= 500


@settings(max_examples=600, deadline=None)
@given(
    quarters=quarters,
    offset=offsets,
    with_date=st.booleans(),
    description=descriptions,
    style=st.integers(0, 2),
)
def test_accepts_exactly_the_valid_inputs(
    quarters: int, offset: int, with_date: bool, description: str, style: int
) -> None:
    served = TODAY - timedelta(days=offset)
    if quarters <= 0:
        hours_text = fmt_hours(-quarters, style) if quarters else "0"
        hours_text = hours_text if quarters == 0 else "-" + hours_text
    else:
        hours_text = fmt_hours(quarters, style)
    if not with_date:
        assume(not starts_date_like(description))
    text = (
        f"{hours_text} {served.isoformat()} {description}"
        if with_date
        else f"{hours_text} {description}"
    )
    valid = 1 <= quarters <= 96 and desc_ok(description) and (not with_date or 0 <= offset <= 365)
    try:
        parsed = parse_hours(text, TODAY)
    except Refusal:
        assert not valid, text
        return
    assert valid, text
    assert parsed.quarters == quarters
    assert parsed.served_on == (served if with_date else TODAY)
    assert parsed.description == norm(description)


@settings(max_examples=200, deadline=None)
@given(whole=st.integers(0, 23), frac=st.integers(1, 99))
def test_hours_off_the_quarter_grid_are_refused(whole: int, frac: int) -> None:
    value = Decimal(f"{whole}.{frac:02d}")
    on_grid = (value * 4) == (value * 4).to_integral_value()
    try:
        parse_hours(f"{value} 服务", TODAY)
    except Refusal as exc:
        assert not on_grid
        assert exc.key == "err_hours_step"
        return
    assert on_grid


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "usage_hours"),
        ("abc 服务", "err_hours_number"),
        ("-1 服务", "err_hours_number"),
        ("0 服务", "err_hours_range"),
        ("24.25 服务", "err_hours_range"),
        ("2.1 服务", "err_hours_step"),
        ("2 2026-02-30 服务", "err_hours_date_invalid"),
        ("2 2026-13-01 服务", "err_hours_date_invalid"),
        ("2 2026-03-16 服务", "err_hours_date_future"),
        ("2 2025-03-14 服务", "err_hours_date_old"),
        ("2", "err_hours_desc_empty"),
        ("2 2026-03-01", "err_hours_desc_empty"),
        ("2 " + "x" * 501, "err_hours_desc_long"),
        ("2 a\x00b", "err_hours_desc_control"),
    ],
)
def test_each_wrong_input_gets_its_own_message(text: str, key: str) -> None:
    with pytest.raises(Refusal) as caught:
        parse_hours(text, TODAY)
    assert caught.value.key == key
    for lang in ("zh", "en"):
        rendered = t(lang, key, **caught.value.values)
        assert "/hours 2.5" in rendered  # a correct example comes with every complaint


@pytest.mark.parametrize(
    ("text", "hours", "served", "description"),
    [
        ("2.5 七彩四点半 homework club", 2.5, TODAY, "七彩四点半 homework club"),
        ("2.5 2026-03-01 七彩四点半", 2.5, date(2026, 3, 1), "七彩四点半"),
        ("2,75 2026/3/1  line\nbreak ", 2.75, date(2026, 3, 1), "line break"),
        ("２.５ 全角数字", 2.5, TODAY, "全角数字"),
        ("24 2025-03-15 全天", 24, date(2025, 3, 15), "全天"),
        ("0.25 x", 0.25, TODAY, "x"),
        ("2 昨天 七彩四点半", 2, TODAY - timedelta(days=1), "七彩四点半"),
        ("2 昨天七彩四点半", 2, TODAY - timedelta(days=1), "七彩四点半"),
        ("2 前天 x", 2, TODAY - timedelta(days=2), "x"),
        ("2 3月1日 x", 2, date(2026, 3, 1), "x"),
        ("2 3/1 x", 2, date(2026, 3, 1), "x"),
        ("2 上周六 x", 2, date(2026, 3, 7), "x"),
        ("2 周六 x", 2, date(2026, 3, 14), "x"),
        ("2 yesterday homework club", 2, TODAY - timedelta(days=1), "homework club"),
        ("2 Mar 1 x", 2, date(2026, 3, 1), "x"),
    ],
)
def test_valid_examples(text: str, hours: float, served: date, description: str) -> None:
    parsed = parse_hours(text, TODAY)
    assert float(parsed.hours) == hours
    assert parsed.served_on == served
    assert parsed.description == description


@pytest.mark.parametrize(
    ("text", "choices"),
    [
        ("2 3-20 x", (date(2025, 3, 20),)),  # this year's 20 March is still to come
        ("2 周日 x", (date(2026, 3, 15), date(2026, 3, 8))),  # today is a Sunday: today first
    ],
)
def test_an_uncertain_date_comes_back_as_choices(text: str, choices: tuple[date, ...]) -> None:
    parsed = parse_hours(text, TODAY)
    assert parsed.choices == choices
    assert parsed.description == "x"


@pytest.mark.parametrize(
    ("approved", "level", "to_next"),
    [
        (0, 0, 100),
        (99.75, 0, 0.25),
        (100, 1, 200),
        (599, 2, 1),
        (1000, 4, 500),
        (1500, 5, None),
        (9999, 5, None),
    ],
)
def test_star_levels(approved: float, level: int, to_next: float | None) -> None:
    stars = stars_for(approved, [100, 300, 600, 1000, 1500])
    assert stars.level == level
    assert stars.to_next == to_next


def test_star_levels_follow_the_configured_thresholds() -> None:
    assert stars_for(250, [100, 200, 500, 800, 1000]).level == 2
