"""Demo scene: an activity fills up, a waitlist, a promotion, reminders, check-in and close."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.demo.script import DAY, Script


async def run(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_activity")
    em = s.em
    lina, hong, ming, li = w["lina"], w["hong"], w["ming"], w["li"]
    dabu, village = w["dabu"], w["village"]
    newcomer = em.add_user("小新", username="xiaoxin", language_code=s.user_lang)
    em.set_member(dabu["id"], newcomer["id"], "member")
    when = s.local(2 * DAY, hour=16)[:11] + "16:30"
    await s.say(
        lina, dabu, f"/activity 七彩四点半·作业辅导 | {when} | 2 | 3 | 大埠乡青少年之家 | cascade"
    )
    card = s.last_with(dabu["id"], "act:")
    join = s.data_of(card, "act:")
    for user in (hong, ming, li, lina):
        await s.press(user, card, join)
    await s.press(newcomer, card, join)  # not registered yet: gets a private link
    # the private link the button answer opened: register; the org picker opens at the
    # activity's org, and agreeing to the notice is the confirmation (one tap each)
    await s.say(newcomer, None, "/start " + join.replace("act:", "act_").rsplit(":", 1)[0])
    await s.press(newcomer, s.last_with(newcomer["id"], "reg:age"), "reg:age:n")
    await s.say(newcomer, None, "孙新")
    picker = s.last_with(newcomer["id"], "reg:pick")
    await s.press(newcomer, picker, s.data_of(picker, "reg:pick"))
    await s.say(newcomer, None, "Skip" if s.lang == "en" else "跳过")
    await s.press(newcomer, s.last_with(newcomer["id"], "reg:consent"), "reg:consent:y")
    await asyncio.sleep(2.2)  # the cards' live counts are coalesced into one edit per 2 s
    await s.settle()
    await s.press(ming, card, join.replace(":join", ":leave"))  # a place frees up: 李娜 moves up
    await asyncio.sleep(2.2)
    await s.settle()
    await s.next_reminder()  # 24 h before
    await s.next_reminder()  # 1 h before
    await check_in_and_close(s, lina, dabu, join.split(":")[1], (hong, lina))
    await s.say(hong, None, "/me")
    del village


async def check_in_and_close(
    s: Script, staff: dict, chat: dict, activity_id: str, attendees: tuple[dict, ...]
) -> None:
    """`staff` opens check-in in `chat`, the attendees press it, three hours on it is closed."""
    await s.say(staff, chat, f"/checkin {activity_id}")
    checkin = s.last_with(chat["id"], f"act:{activity_id}:in")
    for user in attendees:
        await s.press(user, checkin, f"act:{activity_id}:in")
    await s.advance(3 * 3600)
    await s.say(staff, chat, f"/close {activity_id}")
