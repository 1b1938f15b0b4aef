"""Posts and shifts of an activity (issue 14, item 4) through the Bot API emulator: posts that
fill independently with their own waitlists, one post per person, capacity under a storm on
one post, per-post check-in, credit and export, harmless wrong presses, and odd post lines."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain.activities import callbacks, parse_activity
from bot.domain.errors import Refusal
from bot.settings import Settings
from storage import activities as act_repo
from storage import activity_posts as post_repo
from storage import hours as hours_repo
from tests.conftest import Harness, build_tower
from tests.test_activities import (
    answers_since,
    create,
    current,
    register_many,
    wait_for,
    when,
)
from tests.test_activity_edit import documents_to, event_of

pytestmark = pytest.mark.usefixtures("engine")

TZ = Settings().tz


def buttons(sent: Any) -> list[tuple[str, str]]:
    """(text, callback data) of every button of a sent message, row by row."""
    rows = (sent.reply_markup or {}).get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def press(tb: Harness, who: dict, card: Any, data: str) -> str:
    """`who` presses `data` on `card`; the callback answer's text."""
    mark = len(tb.em.callback_answers)
    await tb.press(who, card, data)
    got = answers_since(tb, mark)
    assert got, data
    return str(got[-1].get("text") or got[-1].get("url") or "")


# --- parsing (pure) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "posts, capacity, key",
    [
        ("岗位", "-", "err_post_none"),
        ("岗位 ,，", "-", "err_post_none"),
        ("岗位 引导 5, 引导 3", "-", "err_post_dup"),
        ("posts Guides 5, guides 3", "-", "err_post_dup"),
        ("岗位 引导", "-", "err_post_item"),
        ("岗位 引导 很多", "-", "err_post_item"),
        ("岗位 " + "长" * 17 + " 5", "-", "err_post_name_long"),
        ("岗位 引导 0", "-", "err_post_capacity"),
        ("岗位 引导 100001", "-", "err_post_capacity"),
        ("岗位 引导 5 12:00-09:00", "-", "err_post_shift"),
        ("岗位 引导 5 09:00-09:10", "-", "err_post_shift"),
        ("岗位 引导 5 25:00-26:00", "-", "err_post_shift"),
        ("岗位 " + ", ".join(f"P{i} 1" for i in range(21)), "-", "err_post_many"),
        ("岗位 引导 5, 检票 3", "10", "err_post_total"),
        ("岗位 引导 60000, 检票 60000", "-", "err_post_total_max"),
        ("岗位 引导 ٥", "-", "err_foreign_digits"),
    ],
)
def test_odd_post_lines_are_refused(posts: str, capacity: str, key: str) -> None:
    nxt, _ = when(86400)
    with pytest.raises(Refusal) as caught:
        parse_activity(f"a | {nxt} | 2 | {capacity} | here | {posts}", time.time(), Settings())
    assert caught.value.key == key


def test_posts_parse_with_shifts_on_the_day() -> None:
    nxt, ts = when(2 * 86400)
    data = parse_activity(
        f"马拉松 | {nxt} | 3 | 85 | 体育场 | cascade | 岗位 引导 50, 检票 30 09:00 - 12:00；医疗队 A 5",
        time.time(),
        Settings(),
    )
    assert data.capacity == 85 and data.cascade
    assert [(p.name, p.capacity, p.shift) for p in data.posts] == [
        ("引导", 50, None),
        ("检票", 30, (540, 720)),
        ("医疗队 A", 5, None),
    ]
    day = datetime.fromtimestamp(ts, TZ).date()
    start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TZ).timestamp()
    assert (data.posts[1].shift_start, data.posts[1].shift_end) == (start, start + 3 * 3600)
    # '-' takes the posts' sum; without posts it is the usual capacity answer
    assert (
        parse_activity(f"a | {nxt} | 2 | - | x | posts A 2, B 3", time.time(), Settings()).capacity
        == 5
    )
    with pytest.raises(Refusal) as caught:
        parse_activity(f"a | {nxt} | 2 | - | x", time.time(), Settings())
    assert caught.value.key == "err_act_capacity"


def test_post_callback_data_round_trips() -> None:
    assert callbacks.parse(callbacks.build(12, "join", 3)) == (12, "join", 3)
    assert callbacks.parse(callbacks.build(12, "join")) == (12, "join", None)
    for bad in (
        "act:12:join:0",
        "act:12:join:100",
        "act:12:leave:1",
        "act:12:join:",
        "act:12:join:01",
    ):
        assert callbacks.parse(bad) is None, bad


# --- through the bot ---------------------------------------------------------------------------


async def test_posts_fill_independently_one_post_per_person(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    act_id, card = await create(
        tb,
        t["sec_a"],
        t["chat_a"],
        f"运动会 | {nxt} | 2 | - | 体育场 | 岗位 引导 2, 检票 3, 医疗 1",
    )
    assert "引导 0/2" in card.text and "检票 0/3" in card.text and "医疗 0/1" in card.text
    assert buttons(card) == [
        ("引导 0/2", f"act:{act_id}:join:1"),
        ("检票 0/3", f"act:{act_id}:join:2"),
        ("医疗 0/1", f"act:{act_id}:join:3"),
        ("取消 Cancel", f"act:{act_id}:leave"),
        ("添加到日历 Add to calendar", f"act:{act_id}:cal"),
    ]
    people = await register_many(tb, 5, "yanshan.dabu", "P")
    got = [await press(tb, p, card, f"act:{act_id}:join:1") for p in people[:3]]
    assert got[0].startswith("已报名岗位“引导”") and got[1].startswith("已报名岗位“引导”")
    assert got[2].startswith("岗位“引导”已满，你在候补第 1 位")
    # the full post does not close the others
    assert (await press(tb, people[3], card, f"act:{act_id}:join:2")).startswith("已报名岗位“检票”")
    # one post per person: another post is refused and changes nothing; a repeat says where
    held = await press(tb, people[0], card, f"act:{act_id}:join:2")
    assert "你已报名岗位“引导”" in held and "取消" in held
    again = await press(tb, people[2], card, f"act:{act_id}:join:1")
    assert again == "你在岗位“引导”的候补名单中（第 1 位）。"
    # an activity with posts takes no post-less Sign up, nor a post it does not have
    assert "不属于" in await press(tb, people[4], card, f"act:{act_id}:join")
    assert "不属于" in await press(tb, people[4], card, f"act:{act_id}:join:9")
    with pytest.raises(Refusal) as caught:  # e.g. a card sent before the posts existed
        await tb.services.activities.join(people[4]["id"], act_id)
    assert caught.value.key == "err_post_choose"
    assert await post_repo.recount(tb.db.reader, act_id) == {1: (2, 1), 2: (1, 0)}
    activity = await act_repo.get(tb.db.reader, act_id)
    assert (activity.confirmed, activity.waiting, activity.capacity) == (3, 1, 6)
    assert [(p.confirmed, p.waiting) for p in activity.posts] == [(2, 1), (1, 0), (0, 0)]

    # the card copies show each post's fill; a full post's button says so
    async def settled() -> bool:
        text = current(tb, card.chat_id, card.message_id)
        return "引导 2/2 · 候补 1" in text and "检票 1/3 · 候补 0" in text

    assert await wait_for(settled)
    stored = tb.em.message(card.chat_id, card.message_id)
    labels = [b["text"] for row in stored["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[:3] == ["引导 2/2 ⏳", "检票 1/3", "医疗 0/1"]
    # /activities lists each post
    listed = (await tb.send(t["sec_a"], t["chat_a"], "/activities"))[0].text
    assert "• 引导 2/2 · 候补 1" in listed and "• 医疗 0/1 · 候补 0" in listed

    # an edit of the place leaves each post's waitlist alone (the total has room, 引导 not);
    # the total capacity of an activity with posts is not edited directly
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {act_id} | 地点 新体育馆")
    edited = next(x for x in sent if x.chat_id == t["chat_a"]["id"])
    assert "已修改（地点）" in (edited.text or "") and "候补转为正式" not in (edited.text or "")
    assert await post_repo.recount(tb.db.reader, act_id) == {1: (2, 1), 2: (1, 0)}
    await tb.drain()
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {act_id} | 人数 9")
    refused = next(x for x in sent if x.chat_id == t["chat_a"]["id"])
    assert "按岗位设定" in (refused.text or "")
    activity = await act_repo.get(tb.db.reader, act_id)
    assert (activity.confirmed, activity.waiting, activity.capacity) == (3, 1, 6)

    # leaving a post promotes that post's first waiting person, not anyone else's
    assert await press(tb, people[0], card, f"act:{act_id}:leave") == "已取消报名。"
    promoted = await act_repo.signup_of(tb.db.reader, act_id, people[2]["id"])
    assert (promoted.status, promoted.post_no) == ("confirmed", 1)
    assert await post_repo.recount(tb.db.reader, act_id) == {1: (2, 0), 2: (1, 0)}
    # after Cancel the person may choose another post
    assert (await press(tb, people[0], card, f"act:{act_id}:join:3")).startswith("已报名岗位“医疗”")
    activity = await act_repo.get(tb.db.reader, act_id)
    assert [(p.confirmed, p.waiting) for p in activity.posts] == [(2, 0), (1, 0), (1, 0)]
    assert (activity.confirmed, activity.waiting) == (4, 0)


async def test_capacity_of_one_post_holds_under_concurrent_presses(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    act_id, card = await create(
        tb, t["sec_a"], t["chat_a"], f"音乐节 | {nxt} | 2 | 15 | 广场 | 岗位 安保 10, 引导 5"
    )
    people = await register_many(tb, 60, "yanshan.dabu", "S")
    stored = tb.em.message(card.chat_id, card.message_id)
    updates = [tb.em.press(p, stored, f"act:{act_id}:join:1") for p in people]
    updates += [tb.em.press(p, stored, f"act:{act_id}:join:2") for p in people[:3]]  # refused
    mark = len(tb.em.callback_answers)
    await asyncio.gather(*(tb.em.deliver(tb.app, u) for u in updates))
    assert len(answers_since(tb, mark)) == 63
    assert await post_repo.recount(tb.db.reader, act_id) == {1: (10, 50)}
    activity = await act_repo.get(tb.db.reader, act_id)
    assert [(p.confirmed, p.waiting) for p in activity.posts] == [(10, 50), (0, 0)]
    assert (activity.confirmed, activity.waiting) == (10, 50)
    roster = await act_repo.roster(tb.db.reader, act_id, ("confirmed", "waiting"))
    by_seq = [s.status for s in roster]  # press (commit) order: the first ten hold the places
    assert by_seq == ["confirmed"] * 10 + ["waiting"] * 50


async def test_wrong_chat_and_wrong_person_presses_are_harmless(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    act_id, card = await create(
        tb, t["sec_a"], t["chat_a"], f"义卖 | {nxt} | 2 | - | 广场 | 岗位 收银 2, 搬运 2"
    )
    other_id, other = await create(tb, t["boss"], t["chat_b"], f"另一个 | {nxt} | 1 | 5 | 礼堂")
    before = await post_repo.recount(tb.db.reader, act_id)
    # a post button pressed on another activity's card (another chat) is refused
    answer = await press(tb, t["member_b"], other, f"act:{act_id}:join:1")
    assert "does not belong" in answer
    # a forged copy of the card's button in another chat
    forged = tb.em._store_message(
        tb.em.chats[t["chat_b"]["id"]],
        tb.em.bot_user,
        {
            "text": "copy",
            "reply_markup": {
                "inline_keyboard": [[{"text": "x", "callback_data": f"act:{act_id}:join:1"}]]
            },
        },
    )
    mark = len(tb.em.callback_answers)
    await tb.em.deliver(tb.app, tb.em.press(t["member_b"], forged, f"act:{act_id}:join:1"))
    assert "does not belong" in answers_since(tb, mark)[0]["text"]
    # someone not registered gets a private link that names the post, and no place
    answer = await press(tb, t["outsider"], card, f"act:{act_id}:join:2")
    assert f"act_{act_id}_2" in answer
    assert await act_repo.signup_of(tb.db.reader, act_id, t["outsider"]["id"]) is None
    assert await post_repo.recount(tb.db.reader, act_id) == before == {}
    assert other_id != act_id
    # the private links: without a post the card asks for one; with a post it signs up there
    sent = await tb.send(t["member_a"], None, f"/start act_{act_id}")
    assert "请在下面选择一个岗位报名" in sent[0].text
    assert [d for _, d in buttons(sent[0])][:2] == [f"act:{act_id}:join:1", f"act:{act_id}:join:2"]
    assert await act_repo.signup_of(tb.db.reader, act_id, t["member_a"]["id"]) is None
    sent = await tb.send(t["member_a"], None, f"/start act_{act_id}_2")
    assert "岗位：搬运" in sent[0].text and "你已报名" in sent[0].text
    mine = await act_repo.signup_of(tb.db.reader, act_id, t["member_a"]["id"])
    assert (mine.status, mine.post_no) == ("confirmed", 2)
    sent = await tb.send(t["member_a"], None, f"/start act_{act_id}_7")
    assert "不属于" in sent[0].text


async def test_per_post_checkin_credit_and_export(tb: Harness) -> None:
    t = await build_tower(tb)
    soon, start_ts = when(1800)  # inside the check-in window
    start = datetime.fromtimestamp(start_ts, TZ)
    midnight = start.replace(hour=0, minute=0)
    shift_from = max(midnight, start - timedelta(minutes=30))
    shift_to = min(shift_from + timedelta(minutes=60), midnight + timedelta(days=1))
    to_text = "24:00" if shift_to.date() != shift_from.date() else shift_to.strftime("%H:%M")
    shift = f"{shift_from:%H:%M}-{to_text}"
    quarters = int((shift_to - shift_from).total_seconds() // 900)
    act_id, card = await create(
        tb,
        t["sec_a"],
        t["chat_a"],
        f"义诊 | {soon} | 2.5 | - | 卫生院 | 岗位 导诊 3, 药房 2 {shift}",
    )
    people = await register_many(tb, 3, "yanshan.dabu", "C")
    await press(tb, people[0], card, f"act:{act_id}:join:1")
    await press(tb, people[1], card, f"act:{act_id}:join:2")
    await press(tb, people[2], card, f"act:{act_id}:join:2")
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/checkin {act_id}")
    checkin = next(s for s in sent if f"act:{act_id}:in" in str(s.reply_markup))
    for p in people[:2]:
        assert await press(tb, p, checkin, f"act:{act_id}:in") == "签到成功！"
    closed = await tb.send(t["sec_a"], t["chat_a"], f"/close {act_id}")
    text = next(s.text for s in closed if s.method == "sendMessage")
    assert "签到 2 人" in text and "未到 1 人" in text
    # each post credits its own hours: the activity's, or its shift's length
    first = await hours_repo.approved_of(tb.db.reader, people[0]["id"])
    second = await hours_repo.approved_of(tb.db.reader, people[1]["id"])
    assert [(e.quarters, e.source) for e in first] == [(10, f"activity:{act_id}")]
    assert [(e.quarters, e.source) for e in second] == [(quarters, f"activity:{act_id}")]
    assert "药房" in second[0].description and "导诊" in first[0].description

    # the activities export: one row per post, with its post, hours and attendance
    await tb.send(t["boss"], t["root"], "/export activities")
    await tb.drain()
    doc = [d for d in tb.em.documents if d["chat_id"] == t["boss"]["id"]][-1]
    rows = list(load_workbook(io.BytesIO(doc["bytes"])).active.iter_rows(values_only=True))
    mine = {r[3]: r for r in rows[2:-1] if r[0] == act_id}
    assert set(mine) == {"导诊", "药房"}
    assert mine["导诊"][6] == 2.5 and mine["药房"][6] == quarters / 4
    assert (mine["导诊"][7], mine["导诊"][9], mine["导诊"][11:13]) == (3, 1, (1, 0))
    assert (mine["药房"][7], mine["药房"][9], mine["药房"][11:13]) == (2, 2, (1, 1))


async def test_a_shift_holders_calendar_file_has_the_shifts_times(tb: Harness) -> None:
    """Add to calendar: a person on a post with its own shift gets the shift's start and end
    (the post in the title); others the activity's; joining a shift post after taking the
    activity's file and pressing again sends the shift's file."""
    t = await build_tower(tb)
    nxt, start_ts = when(2 * 86400)
    act_id, card = await create(
        tb,
        t["sec_a"],
        t["chat_a"],
        f"马拉松 | {nxt} | 3 | - | 体育场 | 岗位 引导 5, 检票 5 09:00-12:00",
    )
    shift, plain, late = await register_many(tb, 3, "yanshan.dabu", "S")
    assert (await press(tb, shift, card, f"act:{act_id}:join:2")).startswith("已报名岗位“检票”")
    assert (await press(tb, plain, card, f"act:{act_id}:join:1")).startswith("已报名岗位“引导”")
    for who in (shift, plain, late):
        await press(tb, who, card, f"act:{act_id}:cal")
    await tb.drain()
    day = datetime.fromtimestamp(start_ts, TZ).date()
    nine = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TZ)
    _, on_shift = event_of(documents_to(tb, shift)[-1])
    assert (on_shift.decoded("dtstart"), on_shift.decoded("dtend")) == (
        nine,
        nine + timedelta(hours=3),
    )
    assert str(on_shift["SUMMARY"]) == "马拉松 · 检票"
    assert "马拉松 · 检票" in documents_to(tb, shift)[-1]["caption"]  # and the shift's time
    assert "09:00" in documents_to(tb, shift)[-1]["caption"]
    for who in (plain, late):
        _, event = event_of(documents_to(tb, who)[-1])
        assert event.decoded("dtstart") == datetime.fromtimestamp(start_ts, TZ)
        assert str(event["SUMMARY"]) == "马拉松"
        assert str(event["UID"]) == str(on_shift["UID"])
    # the late one takes the shift post, presses again: the shift's file this time
    await press(tb, late, card, f"act:{act_id}:join:2")
    await press(tb, late, card, f"act:{act_id}:cal")
    await tb.drain()
    assert len(documents_to(tb, late)) == 2
    _, now_shift = event_of(documents_to(tb, late)[-1])
    assert now_shift.decoded("dtstart") == nine
    assert documents_to(tb, late)[-1]["file_id"] == documents_to(tb, shift)[-1]["file_id"]
