"""Shift reminders (issue 14, item 4): a person on a post with its own shift is reminded before
the shift, naming the post and the shift's time; a person on a post without one gets the
activity's reminders. Both fire once, across a restart and after an edit that moves the day
(the shifts move with it), driven by a fake clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.domain.clock import FakeClock
from bot.settings import Settings
from storage import reminders as rem_repo
from tests.conftest import Harness, build_tower, start_harness
from tests.test_activities import create

pytestmark = pytest.mark.usefixtures("engine")

TZ = Settings().tz
T0 = datetime(2027, 3, 1, 8, 0, tzinfo=TZ).timestamp()


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2027, 3, day, hour, minute, tzinfo=TZ).timestamp()


def count(tb: Harness, user: dict, words: str) -> list[str]:
    return [x for x in tb.texts(user["id"]) if words in x]


async def test_shift_people_are_reminded_of_their_shift_once(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    ctx, tb = await start_harness(tmp_path, clock=clock)
    try:
        t = await build_tower(tb)
        act_id, card = await create(
            tb,
            t["sec_a"],
            t["chat_a"],
            "运动会 | 2027-03-03 09:00 | 2 | - | 体育场 | 岗位 引导 2, 检票 2 13:00-16:00",
        )
        ma, boss, mb = t["member_a"], t["boss"], t["member_b"]
        await tb.press(ma, card, f"act:{act_id}:join:1")  # 引导: no shift of its own
        for who in (boss, mb):
            await tb.press(who, card, f"act:{act_id}:join:2")  # 检票 13:00-16:00
        rows = await rem_repo.of_ref(tb.db.reader, "activity", act_id)
        assert {(r.step, r.due_at) for r in rows} == {
            ("24h", at(2, 9)),
            ("1h", at(3, 8)),
            ("24h.p2", at(2, 13)),
            ("1h.p2", at(3, 12)),
            ("start", at(3, 9)),
        }

        async def advance_to(ts: float) -> None:
            clock.advance(ts + 1 - clock.time())
            await tb.services.reminders.fire_due()
            await tb.drain()

        await advance_to(at(2, 9))  # the activity's 24 h: the 引导 person only
        assert len(count(tb, ma, "⏰ 活动提醒")) == 1
        assert count(tb, boss, "⏰") == [] and count(tb, mb, "⏰") == []
        await advance_to(at(2, 13))  # 24 h before the shift: the 检票 people only
        (shift,) = count(tb, boss, "⏰ 岗位提醒")
        assert "“检票”" in shift and "运动会" in shift and "1 天" in shift
        assert "3月3日" in shift and "13:00–16:00" in shift and "体育场" in shift
        (english,) = count(tb, mb, "⏰ Reminder: your shift")
        assert '"检票"' in english and "1 day" in english and "13:00–16:00" in english
        assert len(count(tb, ma, "⏰")) == 1

        # the organiser moves it a day on: the shift goes along, the reminders follow
        await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {act_id} | 时间 2027-03-04 09:00")
        rows = await rem_repo.of_ref(tb.db.reader, "activity", act_id)
        pending = {(r.step, r.due_at) for r in rows if r.status == "pending"}
        assert pending == {
            ("24h.e1", at(3, 9)),
            ("1h.e1", at(4, 8)),
            ("24h.p2.e1", at(3, 13)),
            ("1h.p2.e1", at(4, 12)),
            ("start.e1", at(4, 9)),
        }
    finally:
        await ctx.__aexit__(None, None, None)

    # both 24 h reminders come due while the bot is down: they fire at start-up, once
    em = tb.em
    clock.advance(at(3, 13) + 1 - clock.time())
    ctx, tb = await start_harness(tmp_path, em=em, clock=clock)
    try:
        await tb.drain()
        assert len(count(tb, ma, "⏰ 活动提醒")) == 2
        shifts = count(tb, boss, "⏰ 岗位提醒")
        assert len(shifts) == 2 and "3月4日" in shifts[1] and "13:00–16:00" in shifts[1]
        clock.advance(at(4, 12) + 1 - clock.time())
        for _ in range(2):  # a second pass fires nothing again
            await tb.services.reminders.fire_due()
            await tb.drain()
        assert len(count(tb, ma, "⏰ 活动提醒")) == 3 and count(tb, ma, "岗位提醒") == []
        for who, words in ((boss, "⏰ 岗位提醒"), (mb, "⏰ Reminder: your shift")):
            assert len(count(tb, who, words)) == 3, count(tb, who, "⏰")
            assert len(count(tb, who, "⏰")) == 3  # no activity reminder beside them
        assert "1 小时" in count(tb, boss, "⏰ 岗位提醒")[-1]
        rows = await rem_repo.of_ref(tb.db.reader, "activity", act_id)
        assert {r.step: r.status for r in rows} == {
            "24h": "done",
            "24h.p2": "done",
            "1h": "cancelled",  # the edit's new time replaced them
            "1h.p2": "cancelled",
            "start": "cancelled",
            "24h.e1": "done",
            "24h.p2.e1": "done",
            "1h.e1": "done",
            "1h.p2.e1": "done",
            "start.e1": "done",
        }
    finally:
        await ctx.__aexit__(None, None, None)
