"""Demo scenes of the cadre side (选育管用): the report-backs reviewed, a request upward, a
training, a post with its term and the reminder before it ends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.context import services_of
from bot.demo.activity import check_in_and_close
from bot.demo.script import DAY, Script


async def review(s: Script, w: dict[str, Any]) -> None:
    """述职评议: the campaign of the campaign scene is past due; its creator opens the review,
    grades each report privately, closes it: each secretary gets their own result."""
    s.scene("demo_scene_review")
    boss = w["boss"]
    await s.say(boss, None, "/review open 1")
    cards = [
        sent
        for sent in s.em.sent
        if sent.chat_id == boss["id"] and "rv:g:" in str(sent.reply_markup or "")
    ]
    for n, card in enumerate(cards):
        grades = [d for d in _data(card) if d.startswith("rv:g:")]
        await s.press(boss, card, grades[min(n, len(grades) - 1)])  # 好, then 较好
    await s.say(boss, None, "/review status 1")
    await s.say(boss, None, "/review close 1")
    s.save_file("review-1.xlsx", ".xlsx")


async def request(s: Script, w: dict[str, Any]) -> None:
    """请示报告: a branch's secretary asks the district privately; the first decision wins."""
    s.scene("demo_scene_request")
    lina, boss = w["lina"], w["boss"]
    await s.say(lina, None, "/request 申请拨付 2027 年“七彩假期”志愿服务活动经费 3 万元，附预算。")
    card = s.last_with(boss["id"], "req:ok:")
    await s.press(boss, card, s.data_of(card, "req:ok:"))
    await s.say(lina, None, "/requests")


async def cadres(s: Script, w: dict[str, Any]) -> None:
    """A training (团课) with attendance, the branch's 书记 post with its term, the reminder
    thirty days before the term ends, the roster."""
    s.scene("demo_scene_cadres")
    boss, lina, tom, root, dabu = w["boss"], w["lina"], w["tom"], w["root"], w["dabu"]
    start = s.local(2 * DAY, hour=9)
    await s.say(boss, root, f"/activity 青马工程·团课 | {start} | 2 | 30 | 区团委会议室 | 团课")
    card = s.last_with(root["id"], "act:")
    join = s.data_of(card, "act:")
    activity_id = join.split(":")[1]
    for user in (lina, tom):
        await s.press(user, card, join)
    for _ in range(6):  # what is due before it fires in turn (the 1 h reminder last)
        if _until(s, start) <= 3600:
            break
        await s.next_reminder()
    await check_in_and_close(s, boss, root, activity_id, (lina, tom))
    end = s.local(31 * DAY)[:10]
    begin = s.local(-700 * DAY)[:10]
    # 李娜 holds the branch's default 书记 post since she was made secretary: its mode and term
    await s.say(boss, dabu, "/cadres mode 书记 兼职")
    await s.say(boss, dabu, f"/cadres term 书记 {begin} {end}")
    await s.say(boss, dabu, "/cadres")
    for _ in range(6):  # other reminders may be due first; the term's comes within two days
        mark = len(s.em.sent)
        await s.next_reminder()
        if any("⏳" in (sent.text or "") for sent in s.em.sent[mark:]):
            break
    await s.say(lina, None, "/me")


def _until(s: Script, local: str) -> float:
    """Seconds from the demo clock's now to `local` ('YYYY-MM-DD HH:MM' in the bot's zone)."""
    tz = services_of(s.app).settings.tz
    return (
        datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=tz).timestamp() - s.clock.time()
    )


def _data(sent: Any) -> list[str]:
    markup = sent.reply_markup or {}
    return [b.get("callback_data") or "" for row in markup.get("inline_keyboard", []) for b in row]
