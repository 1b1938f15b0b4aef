"""Demo scene: an event as real programmes run it — posts and shifts, a sign-up deadline, an
organiser's edit, the calendar file, attendance marked by the organiser, photo evidence for
hours, a wrongly approved entry revoked — and a standing weekday programme (a series)."""

from __future__ import annotations

from typing import Any

from bot.demo.script import DAY, Script


async def run(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_programmes")
    lina, hong, ming, li, dabu = w["lina"], w["hong"], w["ming"], w["li"], w["dabu"]
    start = s.local(3 * DAY, hour=9)
    deadline = s.local(2 * DAY, hour=18)
    await s.say(
        lina,
        dabu,
        f"/activity 社区运动会 | {start} | 3 | - | 大埠乡体育场"
        f" | 岗位 引导 2, 检票 1 10:00-13:00 | 截止 {deadline} | 说明 请穿志愿者马甲",
    )
    card = s.last_with(dabu["id"], "act:")
    activity_id = s.data_of(card, "act:").split(":")[1]
    guide, tickets = f"act:{activity_id}:join:1", f"act:{activity_id}:join:2"
    await s.press(hong, card, guide)
    await s.press(ming, card, tickets)
    await s.press(li, card, tickets)  # 检票 is full: the waitlist of that post
    await s.press(hong, card, f"act:{activity_id}:cal")  # the .ics file, privately
    await s.press(ming, card, f"act:{activity_id}:cal")  # on 检票: the shift's own 10:00-13:00
    # the organiser moves it: every card copy follows, the signed-up are told privately, and
    # whoever took the calendar file gets the new one (same UID, next SEQUENCE)
    await s.say(lina, dabu, f"/activity edit {activity_id} | 地点 大埠中学操场")
    # attendance for someone without a phone at hand: the roster comes privately
    await s.say(lina, None, f"/attendance {activity_id}")
    roster = s.last_with(lina["id"], f"att:p:{activity_id}:{ming['id']}")
    await s.press(lina, roster, s.data_of(roster, f"att:p:{activity_id}:{ming['id']}"))
    # hours with a photo as evidence: the approver sees it with the entry
    await s.send_photo(hong, None, "/hours 2 社区垃圾分类宣传")
    await s.say(lina, None, "/pending")
    pending = s.last_with(lina["id"], "hrs:")
    approve = max((d for d in _data(pending) if d.startswith("hrs:ok:")), key=_entry)
    entry = _entry(approve)
    await s.press(lina, pending, approve)
    # approved by mistake (the same afternoon was logged twice): revoked with a reason
    await s.say(lina, None, f"/hours revoke {entry} 与上周的登记重复")
    await s.say(hong, None, "/myhours")
    # a standing programme (七彩四点半): every weekday for two weeks, one card at a time;
    # Join all signs up for every occurrence still open
    first = s.local(1 * DAY, hour=16)[:11] + "16:30"
    until = s.local(15 * DAY)[:10]
    await s.say(
        lina,
        dabu,
        f"/activity 七彩四点半·作业辅导 | {first} | 1.5 | 10 | 大埠乡青少年之家 | 每个工作日 至 {until}",
    )
    series_card = s.last_with(dabu["id"], "act:")
    await s.press(ming, series_card, s.data_of(series_card, "act:").rsplit(":", 1)[0] + ":all")


def _entry(data: str) -> int:
    return int(data.split(":")[2])


def _data(sent: Any) -> list[str]:
    markup = sent.reply_markup or {}
    return [b.get("callback_data") or "" for row in markup.get("inline_keyboard", []) for b in row]
