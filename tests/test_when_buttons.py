"""One-line /deadline and /activity with an uncertain time ask with buttons, through the
emulator; only the sender's press answers, and it creates exactly what was chosen."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.domain.clock import fmt_day
from bot.domain.when import parse_choice_data


def choices(message: Any) -> list[str]:
    return [b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row]


async def count(tb: Any, table: str) -> int:
    row = await tb.db.fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(row[0])


async def test_deadline_9_oclock_asks_morning_or_evening(tb, tower):
    boss, root = tower["boss"], tower["root"]
    out = await tb.send(boss, root, "/deadline new 年度述职 | 下周六 9点")
    assert await count(tb, "campaigns") == 0
    data = choices(out[-1])
    assert (
        len(data) == 2
        and "09:00" in str(out[-1].reply_markup)
        and "21:00" in str(out[-1].reply_markup)
    )
    mark = len(tb.em.callback_answers)
    await tb.press(tower["sec_a"], out[-1], data[1])  # someone else: refused
    assert await count(tb, "campaigns") == 0
    assert "发命令的人" in str(tb.em.callback_answers[mark:])
    await tb.press(boss, out[-1], data[1])
    row = await tb.db.fetchone("SELECT due_at FROM campaigns")
    _, reading = parse_choice_data(data[1])
    due = datetime.fromtimestamp(row[0], tz=tb.services.settings.tz)
    assert (due.date(), due.hour, due.minute) == (reading.day, 21, 0)
    assert due.weekday() == 5 and due.date() - tb.services.hours.today() > timedelta(days=1)


async def test_activity_with_a_past_month_day_offers_next_year(tb, tower):
    boss, chat_a = tower["boss"], tower["chat_a"]
    today = tb.services.hours.today()
    past = today - timedelta(days=1)
    if past.year != today.year:  # 1 January: nothing earlier this year
        return
    out = await tb.send(
        boss, chat_a, f"/activity 植树 | {past.month}月{past.day}日 下午3点 | 2 | 20 | 公园"
    )
    assert await count(tb, "activities") == 0
    data = choices(out[-1])
    assert len(data) == 1
    _, reading = parse_choice_data(data[0])
    assert reading.day == past.replace(year=past.year + 1) and reading.minute == 15 * 60


async def test_activity_card_shows_the_time_as_people_read_it(tb, tower):
    boss, chat_a = tower["boss"], tower["chat_a"]
    today = tb.services.hours.today()
    out = await tb.send(boss, chat_a, "/activity 植树 | 明天 下午3点 | 2 | 20 | 公园")
    card = out[-1].text
    assert f"{fmt_day(today + timedelta(days=1), 'zh', today)}15:00" in card
    assert "Asia/Shanghai" not in card


async def test_a_double_tap_on_a_reading_creates_one_deadline_and_one_activity(tb, tower):
    """Two taps that left the phone before the buttons vanished: the second creates nothing.

    A press removes the buttons before it creates anything; Telegram refuses the second removal
    ("message is not modified"), so the second press stops there (one chat's updates are
    handled one at a time, so the second always comes after the first is done)."""
    boss, root, chat_a = tower["boss"], tower["root"], tower["chat_a"]
    for chat, line, table in (
        (root, "/deadline new 年度述职 | 下周六 9点", "campaigns"),
        (chat_a, "/activity 义诊 | 下周六 9点 | 2 | 5 | 村委", "activities"),
    ):
        question = (await tb.send(boss, chat, line))[-1]
        shown = tb.em.message(question.chat_id, question.message_id)
        data = choices(question)[0]
        # both presses carry the keyboard as it was when they were made
        first, second = tb.em.press(boss, shown, data), tb.em.press(boss, shown, data)
        mark = len(tb.em.callback_answers)
        await tb.deliver(first)
        await tb.deliver(second)
        assert await count(tb, table) == 1, table
        answers = tb.em.callback_answers[mark:]
        assert len(answers) == 2, answers  # the second tap is answered too, not left spinning
