"""The one date and time parser: the forms people write, the questions it asks, and that only a
`Refusal` ever escapes; every date we display reads back as the same date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.clock import fmt_day
from bot.domain.errors import Refusal
from bot.domain.when import (
    Reading,
    choice_data,
    leading_day,
    parse_choice_data,
    read_when,
)
from bot.texts import t

TODAY = date(2026, 12, 1)  # a Tuesday
NOW = 10 * 60  # 10:00


@pytest.mark.parametrize(
    ("text", "day", "minute"),
    [
        ("2026-12-20", date(2026, 12, 20), None),
        ("2026/12/20", date(2026, 12, 20), None),
        ("２０２６－１２－２０", date(2026, 12, 20), None),
        ("2026年12月20日", date(2026, 12, 20), None),
        ("12-20", date(2026, 12, 20), None),
        ("12月20日", date(2026, 12, 20), None),
        ("20日", date(2026, 12, 20), None),
        ("今天", TODAY, None),
        ("明天", date(2026, 12, 2), None),
        ("后天", date(2026, 12, 3), None),
        ("周六", date(2026, 12, 5), None),
        ("星期六", date(2026, 12, 5), None),
        ("礼拜六", date(2026, 12, 5), None),
        ("下周六", date(2026, 12, 12), None),
        ("本周五", date(2026, 12, 4), None),
        ("这周五", date(2026, 12, 4), None),
        ("today", TODAY, None),
        ("tomorrow", date(2026, 12, 2), None),
        ("Sat", date(2026, 12, 5), None),
        ("Dec 20", date(2026, 12, 20), None),
        ("20 Dec", date(2026, 12, 20), None),
        ("December 20", date(2026, 12, 20), None),
        ("12月8日（周二）", date(2026, 12, 8), None),
        ("Tue 8 Dec", date(2026, 12, 8), None),
    ],
)
def test_dates_people_write(text: str, day: date, minute: int | None) -> None:
    assert read_when(text, TODAY, want="future").value == Reading(day, minute)


@pytest.mark.parametrize(
    ("text", "day", "minute"),
    [
        ("明天 09:00", date(2026, 12, 2), 9 * 60),
        ("明天９：３０", date(2026, 12, 2), 9 * 60 + 30),
        ("下周六 下午3点", date(2026, 12, 12), 15 * 60),
        ("晚上7点", TODAY, 19 * 60),
        ("明天 上午10点15分", date(2026, 12, 2), 10 * 60 + 15),
        ("3pm", TODAY, 15 * 60),
        ("tomorrow 3:30pm", date(2026, 12, 2), 15 * 60 + 30),
        ("2026-12-20 09:00", date(2026, 12, 20), 9 * 60),
        ("12月8日（周二）18:00", date(2026, 12, 8), 18 * 60),
        ("Tue 8 Dec, 18:00", date(2026, 12, 8), 18 * 60),
        ("Dec 20 9am", date(2026, 12, 20), 9 * 60),
    ],
)
def test_times_people_write(text: str, day: date, minute: int) -> None:
    found = read_when(text, TODAY, now_minute=NOW, want="future", need_time=True)
    assert found.value == Reading(day, minute)


@pytest.mark.parametrize(
    ("text", "want", "choices"),
    [
        # 9点: morning or evening
        ("明天 9点", "future", [Reading(date(2026, 12, 2), 540), Reading(date(2026, 12, 2), 1260)]),
        (
            "明天 9点半",
            "future",
            [Reading(date(2026, 12, 2), 570), Reading(date(2026, 12, 2), 1290)],
        ),
        # a weekday that is today
        ("周二 18:00", "future", [Reading(TODAY, 1080), Reading(date(2026, 12, 8), 1080)]),
        # already past this year: next year?
        ("11-08 09:00", "future", [Reading(date(2027, 11, 8), 540)]),
        # a time alone that has passed today: tomorrow?
        ("08:00", "future", [Reading(date(2026, 12, 2), 480)]),
        (
            "next Sat 10:00",
            "future",
            [Reading(date(2026, 12, 5), 600), Reading(date(2026, 12, 12), 600)],
        ),
    ],
)
def test_ambiguous_readings_are_asked(text: str, want: str, choices: list[Reading]) -> None:
    found = read_when(text, TODAY, now_minute=NOW, want=want, need_time=True)  # type: ignore[arg-type]
    assert found.value is None
    assert list(found.choices) == choices


@pytest.mark.parametrize(
    ("text", "choices"),
    [
        ("12-08", [date(2025, 12, 8)]),  # this year's is still to come
        ("20日", [date(2026, 11, 20)]),
        ("周二", [TODAY, date(2026, 11, 24)]),
    ],
)
def test_a_past_day_wanted(text: str, choices: list[date]) -> None:
    found = read_when(text, TODAY, want="past")
    assert found.value is None
    assert [r.day for r in found.choices] == choices


@pytest.mark.parametrize(
    ("text", "day", "end"),
    [
        ("昨天 七彩四点半", date(2026, 11, 30), 2),
        ("昨天七彩四点半", date(2026, 11, 30), 2),
        ("前天 x", date(2026, 11, 29), 2),
        ("上周六 x", date(2026, 11, 28), 3),
        ("yesterday homework", date(2026, 11, 30), 9),
        ("2026-11-20 x", date(2026, 11, 20), 10),
    ],
)
def test_a_leading_date_word_is_always_the_date(text: str, day: date, end: int) -> None:
    found = leading_day(text, TODAY, want="past")
    assert found.value == Reading(day)
    assert found.end == end


@pytest.mark.parametrize("text", ["七彩四点半", "homework club", "三日游", "sat3 x", ""])
def test_no_leading_date(text: str) -> None:
    assert leading_day(text, TODAY, want="past") == (None, (), 0)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2026-02-30", "err_when_invalid"),
        ("明天 25点", "err_when_time"),
        ("明天 9:75", "err_when_time"),
        ("whenever", "err_when_unknown"),
        ("٢٠٢٦-12-20", "err_foreign_digits"),
        ("Mon 8 Dec", "err_when_weekday"),
        ("12月8日（周三）", "err_when_weekday"),
    ],
)
def test_refusals(text: str, key: str) -> None:
    with pytest.raises(Refusal) as caught:
        read_when(text, TODAY, want="future")
    assert caught.value.key == key
    for lang in ("zh", "en"):
        t(lang, key, **caught.value.values)


days = st.dates(date(2001, 1, 1), date(2099, 12, 31))


@settings(max_examples=500, deadline=None)
@given(
    day=days,
    today=days,
    lang=st.sampled_from(["zh", "en"]),
    minute=st.none() | st.integers(0, 1439),
)
def test_every_displayed_date_reads_back(
    day: date, today: date, lang: str, minute: int | None
) -> None:
    shown = fmt_day(day, lang, today)
    if minute is not None:
        sep = ", " if lang == "en" else ""
        shown += f"{sep}{minute // 60:02d}:{minute % 60:02d}"
    found = read_when(shown, today, need_time=minute is not None)
    assert found.value == Reading(day, minute), shown


forms = st.sampled_from(
    [
        "2026-12-20",
        "2026/12/20",
        "12-20",
        "12月20日",
        "20日",
        "今天",
        "明天",
        "后天",
        "昨天",
        "前天",
        "周六",
        "星期日",
        "礼拜六",
        "下周六",
        "本周五",
        "这周五",
        "上周一",
        "today",
        "tomorrow",
        "yesterday",
        "next Sat",
        "Sat",
        "Dec 20",
        "20 Dec",
        "December 20",
        "Feb 29",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    form=forms,
    today=days,
    lang=st.sampled_from(["zh", "en"]),
    want=st.sampled_from([None, "past", "future"]),
)
def test_accepted_forms_round_trip_through_display(
    form: str, today: date, lang: str, want: str | None
) -> None:
    try:
        found = read_when(form, today, want=want)  # type: ignore[arg-type]
    except Refusal:
        return  # e.g. "20日" in a month without one
    for reading in (found.value,) if found.value else found.choices:
        back = read_when(fmt_day(reading.day, lang, today), today)
        assert back.value == reading


text_strategy = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                "2026",
                "-",
                "/",
                "12",
                "月",
                "日",
                "号",
                "周",
                "星期",
                "六",
                "下",
                "本",
                "上",
                "下午",
                "晚上",
                "9",
                "点",
                "半",
                "分",
                ":",
                "：",
                "30",
                "pm",
                "am",
                " ",
                ",",
                "（",
                "）",
                "Dec",
                "next",
                "sat",
                "today",
                "２",
                "٣",
                "年",
                "0",
                "24",
                "99",
                "29",
                "Feb",
                "st",
            ]
        ),
        max_size=12,
    ).map("".join),
)


@settings(max_examples=1500, deadline=None)
@given(
    text=text_strategy,
    today=days,
    want=st.sampled_from([None, "past", "future"]),
    need_time=st.booleans(),
    now_minute=st.integers(0, 1439),
)
@example(text="Feb 29", today=date(2099, 3, 1), want="future", need_time=False, now_minute=0)
@example(text="31日", today=date(2026, 2, 1), want="past", need_time=False, now_minute=0)
def test_only_refusals_escape(
    text: str, today: date, want: str | None, need_time: bool, now_minute: int
) -> None:
    for call in (
        lambda: read_when(
            text,
            today,
            now_minute=now_minute,
            want=want,  # type: ignore[arg-type]
            need_time=need_time,
        ),
        lambda: leading_day(text, today, want=want),
    ):  # type: ignore[arg-type]
        try:
            found = call()
        except Refusal as exc:
            t("zh", exc.key, **exc.values)
            t("en", exc.key, **exc.values)
            continue
        assert found.value is not None or found.choices or found.end == 0


@given(
    day=days, minute=st.none() | st.integers(0, 1439), kind=st.sampled_from(["hrs", "act", "dl"])
)
def test_choice_buttons_round_trip(day: date, minute: int | None, kind: str) -> None:
    data = choice_data(kind, Reading(day, minute))
    assert len(data.encode()) <= 64
    assert parse_choice_data(data) == (kind, Reading(day, minute))


@pytest.mark.parametrize("data", ["when:hrs:20261340", "when:act:202612012460", "when:", None])
def test_forged_choice_buttons_are_refused(data: str | None) -> None:
    with pytest.raises(Refusal):
        parse_choice_data(data)


def test_yesterday_offered_in_the_past_not_the_future() -> None:
    assert read_when("昨天", TODAY, want="past").value == Reading(TODAY - timedelta(days=1))
