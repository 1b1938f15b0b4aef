"""The guided /hours and the date questions of the one-line form, through the emulator."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.domain.clock import fmt_day


async def rows(tb: Any) -> list[dict]:
    """Every hour entry's served_on, quarters, description and status, in the order logged."""
    return [
        dict(r)
        for r in await tb.db.fetchall(
            "SELECT served_on, quarters, description, status FROM hour_entries ORDER BY id"
        )
    ]


def pending(served_on: date, quarters: int, description: str) -> dict:
    """The row `rows` gives for a pending entry of `quarters` quarter hours on `served_on`."""
    return {
        "served_on": served_on.isoformat(),
        "quarters": quarters,
        "description": description,
        "status": "pending",
    }


def buttons(message: Any) -> list[tuple[str, str]]:
    return [
        (b["text"], b["callback_data"])
        for row in message.reply_markup["inline_keyboard"]
        for b in row
    ]


async def test_yesterday_in_one_line_is_the_date_not_the_description(tb, tower):
    ma = tower["member_a"]
    await tb.send(ma, None, "/hours 2 昨天 七彩四点半")
    yesterday = tb.services.hours.today() - timedelta(days=1)
    assert await rows(tb) == [pending(yesterday, 8, "七彩四点半")]


async def test_guided_hours_today_yesterday_or_a_typed_day(tb, tower):
    ma = tower["member_a"]
    today = tb.services.hours.today()
    out = await tb.send(ma, None, "/hours")
    assert "多长时间" in out[-1].text
    out = await tb.send(ma, None, "2.5")
    labels = buttons(out[-1])
    assert [label for label, _ in labels][:2] == [
        f"今天 {fmt_day(today, 'zh', today)}",
        f"昨天 {fmt_day(today - timedelta(days=1), 'zh', today)}",
    ]
    out = await tb.press(ma, out[-1], labels[1][1])
    assert "做了什么" in out[-1].text
    out = await tb.send(ma, None, "七彩四点半")
    assert "2.5" in out[-1].text and fmt_day(today - timedelta(days=1), "zh", today) in out[-1].text
    assert await rows(tb) == []  # nothing before the confirmation
    ok = next(data for label, data in buttons(out[-1]) if "确认" in label)
    out = await tb.press(ma, out[-1], ok)
    assert await rows(tb) == [pending((today - timedelta(days=1)), 10, "七彩四点半")]


async def test_guided_hours_another_day_typed_and_a_stale_confirm(tb, tower):
    ma = tower["member_a"]
    today = tb.services.hours.today()
    await tb.send(ma, None, "/hours")
    out = await tb.send(ma, None, "２")
    other = next(data for label, data in buttons(out[-1]) if label == "另一天")
    await tb.press(ma, out[-1], other)
    out = await tb.send(ma, None, "前天")
    assert "做了什么" in out[-1].text
    out = await tb.send(ma, None, "图书馆整理")
    confirm = out[-1]
    ok = next(data for label, data in buttons(confirm) if "确认" in label)
    await tb.press(ma, confirm, ok)
    assert [r["served_on"] for r in await rows(tb)] == [(today - timedelta(days=2)).isoformat()]
    answer = await tb.press(ma, confirm, ok)  # pressed again: nothing more is logged
    assert len(await rows(tb)) == 1
    assert any("失效" in (s.text or "") for s in answer)


async def test_an_uncertain_date_is_asked_with_buttons(tb, tower):
    ma = tower["member_a"]
    today = tb.services.hours.today()
    ahead = today + timedelta(days=1)
    if ahead.year == today.year:  # tomorrow's month and day: this year's has not come
        typed, offered_day = f"{ahead.month}月{ahead.day}日", ahead.replace(year=ahead.year - 1)
    else:  # 31 December: today's weekday is today or a week ago
        typed, offered_day = "周" + "一二三四五六日"[today.weekday()], today
    out = await tb.send(ma, None, f"/hours 3 {typed} 社区服务")
    assert typed in out[-1].text and await rows(tb) == []
    offered = buttons(out[-1])
    assert offered[0][0] == fmt_day(offered_day, "zh", today)
    await tb.press(ma, out[-1], offered[0][1])
    assert await rows(tb) == [pending(offered_day, 12, "社区服务")]


async def test_todays_weekday_is_today_or_a_week_ago(tb, tower):
    ma = tower["member_a"]
    today = tb.services.hours.today()
    out = await tb.send(ma, None, "/hours 1 星期" + "一二三四五六日"[today.weekday()] + " x")
    offered = buttons(out[-1])
    assert [label for label, _ in offered[:2]] == [
        fmt_day(today, "zh", today),
        fmt_day(today - timedelta(days=7), "zh", today),
    ]
    await tb.press(ma, out[-1], offered[1][1])
    assert [r["served_on"] for r in await rows(tb)] == [(today - timedelta(days=7)).isoformat()]


async def test_cancel_leaves_the_guided_hours(tb, tower):
    ma = tower["member_a"]
    await tb.send(ma, None, "/hours")
    await tb.send(ma, None, "/cancel")
    out = await tb.send(ma, None, "2")
    assert await rows(tb) == []
    assert not any("哪一天" in (s.text or "") for s in out)


async def test_bad_answers_get_the_question_again_in_english(tb, tower):
    mb = tower["member_b"]
    await tb.send(mb, None, "/hours")
    out = await tb.send(mb, None, "lots")
    assert "not a number of hours" in out[-1].text
    out = await tb.send(mb, None, "1.5")
    assert "Which day?" in out[-1].text
    other = next(data for label, data in buttons(out[-1]) if label == "Another day")
    await tb.press(mb, out[-1], other)
    out = await tb.send(mb, None, "someday")
    assert "could not read the date" in out[-1].text
    out = await tb.send(mb, None, "yesterday")
    assert "What did you do?" in out[-1].text
