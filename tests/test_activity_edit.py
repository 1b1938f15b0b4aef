"""Activities edited by their organiser, sign-up deadlines and the calendar file (issue 14,
items 2, 3 and 6), through the Bot API emulator."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from bot.domain.activities import parse_activity, parse_edit
from bot.domain.errors import Refusal
from bot.settings import Settings
from storage import activities as act_repo
from tests.conftest import Harness, build_tower
from tests.test_activities import answers_since, create, current, register_many, wait_for, when

pytestmark = pytest.mark.usefixtures("engine")

TZ = Settings().tz


async def snapshot(tb: Harness, act_id: int) -> tuple[Any, ...]:
    """What an edit may change: the activity row and its roster."""
    a = await act_repo.get(tb.db.reader, act_id)
    roster = await act_repo.roster(tb.db.reader, act_id, ("confirmed", "waiting"))
    return a, [(s.user_id, s.status) for s in roster]


def documents_to(tb: Harness, user: dict) -> list[dict]:
    return [d for d in tb.em.documents if d["chat_id"] == user["id"]]


def event_of(doc: dict) -> Any:
    cal = Calendar.from_ical(doc["bytes"])
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


async def roster_of(tb: Harness, act_id: int, status: str) -> list[int]:
    return [s.user_id for s in await act_repo.roster(tb.db.reader, act_id, (status,))]


# --- parsing (pure) --------------------------------------------------------------------------


def test_deadline_and_note_options_parse_in_both_languages() -> None:
    start, start_ts = when(3 * 86400)
    by, by_ts = when(86400)
    got = parse_activity(
        f"七彩 | {start} | 2 | 20 | 青年之家 | 截止 {by} | 说明 带上水杯", time.time(), Settings()
    )
    assert (got.signup_deadline, got.note) == (by_ts, "带上水杯")
    got = parse_activity(
        f"Club | {start} | 2 | 20 | Home | note bring water | deadline {by}",
        time.time(),
        Settings(),
    )
    assert (got.signup_deadline, got.note, got.starts_at) == (by_ts, "bring water", start_ts)


@pytest.mark.parametrize(
    "line, key",
    [
        ("a | START | 2 | 20 | here | 截止 LATER", "err_act_deadline_late"),
        ("a | START | 2 | 20 | here | 截止 2020-01-01 09:00", "err_act_past"),
        ("a | START | 2 | 20 | here | 截止 9点", "err_act_when_exact"),
        ("a | START | 2 | 20 | here | 说明 ", "err_act_note_empty"),
        ("a | START | 2 | 20 | here | 说明 " + "x" * 501, "err_act_note_long"),
        ("a | START | 2 | 20 | here | 说明 a\u202eb", "err_act_odd_char"),
    ],
)
def test_bad_deadlines_and_notes_are_refused(line: str, key: str) -> None:
    start, _ = when(86400)
    later, _ = when(2 * 86400)
    with pytest.raises(Refusal) as caught:
        parse_activity(
            line.replace("START", start).replace("LATER", later), time.time(), Settings()
        )
    assert caught.value.key == key


@pytest.mark.parametrize(
    "rest, key",
    [
        ("12", "usage_activity_edit"),
        ("", "usage_activity_edit"),
        ("12 | colour red", "err_act_edit_field"),
        ("12 | 人数 3 | 人数 4", "err_act_edit_field"),
        ("12 | 人数 0", "err_act_capacity"),
        ("12 | capacity 100001", "err_act_capacity"),
        ("12 | 人数 ９９９９９９９９９９９９９９", "err_act_capacity"),
        ("12 | 时间 2020-01-01 09:00", "err_act_past"),
        ("12 | 地点 ", "err_act_place_empty"),
        ("12 | 地点 " + "p" * 201, "err_act_place_long"),
        ("12 | place a\u202eb", "err_act_odd_char"),
        ("12 | 说明 a\x07b", "err_act_odd_char"),
        ("x | 人数 3", "err_act_id"),
    ],
)
def test_bad_edits_are_refused(rest: str, key: str) -> None:
    with pytest.raises(Refusal) as caught:
        parse_edit(rest, time.time(), Settings())
    assert caught.value.key == key


# --- sign-up deadline ------------------------------------------------------------------------


async def test_a_join_after_the_deadline_is_refused(tb: Harness) -> None:
    t = await build_tower(tb)
    start, _ = when(3 * 86400)
    by, by_ts = when(86400)
    act_id, card = await create(
        tb, t["sec_a"], t["chat_a"], f"读书会 | {start} | 1 | 5 | 书屋 | 截止 {by}"
    )
    assert "报名截止" in card.text
    await tb.press(t["member_a"], card, f"act:{act_id}:join")
    assert await act_repo.recount(tb.db.reader, act_id) == (1, 0)
    # the deadline passes (the test cannot wait a day): its reminder comes due
    row = await tb.db.fetchone(
        "SELECT due_at FROM reminders WHERE kind = 'activity' AND ref_id = ? AND step = 'deadline'",
        (act_id,),
    )
    assert row[0] == by_ts
    past = time.time() - 1
    async with tb.db.transaction() as tx:
        await tx.execute("UPDATE activities SET signup_deadline = ? WHERE id = ?", (past, act_id))
        await tx.execute(
            "UPDATE reminders SET due_at = ? WHERE kind = 'activity' AND ref_id = ?"
            " AND step = 'deadline'",
            (past, act_id),
        )
    mark = len(tb.em.callback_answers)
    await tb.press(t["boss"], card, f"act:{act_id}:join")
    await tb.press(t["member_a"], card, f"act:{act_id}:leave")  # as after the start: refused
    answers = [a["text"] for a in answers_since(tb, mark)]
    assert answers[0].startswith("“读书会”的报名已于") and answers[0].endswith("截止。")
    assert answers[1] == answers[0]
    assert await act_repo.recount(tb.db.reader, act_id) == (1, 0)
    # the deadline's reminder redraws the cards: only Add to calendar is left on them
    await tb.services.reminders.fire_due()

    def buttons() -> list[str]:
        stored = tb.em.message(card.chat_id, card.message_id) or {}
        rows = (stored.get("reply_markup") or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row]

    async def only_calendar_left() -> bool:
        return buttons() == [f"act:{act_id}:cal"]

    assert await wait_for(only_calendar_left, timeout=15)
    assert "报名已截止" in current(tb, card.chat_id, card.message_id)


# --- editing ---------------------------------------------------------------------------------


async def test_an_edit_updates_every_copy_and_tells_the_signed_up(tb: Harness) -> None:
    t = await build_tower(tb)
    start, _ = when(3 * 86400)
    act_id, _ = await create(
        tb, t["boss"], t["root"], f"志愿服务日 | {start} | 4 | 10 | 广场 | cascade"
    )
    await tb.drain()
    await tb.services.activities.cards.resolve([act_id])
    cards = await act_repo.cards_of(tb.db.reader, [act_id])
    assert {c.chat_id for c in cards} == {t["root"]["id"], t["chat_a"]["id"], t["chat_b"]["id"]}
    card_a = next(c for c in cards if c.chat_id == t["chat_a"]["id"])
    stored = tb.em.message(card_a.chat_id, card_a.message_id)
    await tb.deliver(tb.em.press(t["member_a"], stored, f"act:{act_id}:join"))
    await tb.deliver(tb.em.press(t["member_b"], stored, f"act:{act_id}:join"))

    # not the organiser: refused, nothing changes
    before = await snapshot(tb, act_id)
    sent = await tb.send(t["member_a"], t["root"], f"/activity edit {act_id} | 地点 我家")
    assert sent[0].text == "只有“雁山区团委”的书记或团干部可以这样做。"
    # a branch's secretary, in the branch's chat: the district's activity is not theirs
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {act_id} | 地点 我家")
    assert sent[0].text.startswith(f"本群所属组织及下级中没有编号为 {act_id} 的活动")
    assert await snapshot(tb, act_id) == before
    # bad values: one line each, nothing changes
    past = "2020-01-01 09:00"
    for bad in (f"时间 {past}", "人数 0", "人数 1000000", "地点 ", "说明 a\u202eb", "颜色 红"):
        sent = await tb.send(t["boss"], t["root"], f"/activity edit {act_id} | {bad}")
        assert len(sent) == 1 and "\n" not in sent[0].text.split("例如")[0], sent[0].text
        assert await snapshot(tb, act_id) == before

    new_start, new_ts = when(4 * 86400)
    sent = await tb.send(
        t["boss"],
        t["root"],
        f"/activity edit {act_id} | 时间 {new_start} | 地点 雁山广场东门 | 说明 穿志愿者马甲",
    )
    assert "已修改" in sent[0].text and "时间、地点、说明" in sent[0].text, sent[0].text
    a = await act_repo.get(tb.db.reader, act_id)
    assert (a.starts_at, a.place, a.note, a.edits) == (new_ts, "雁山广场东门", "穿志愿者马甲", 1)

    async def all_copies_show_it() -> bool:
        return all(
            "雁山广场东门" in current(tb, c.chat_id, c.message_id)
            and "穿志愿者马甲" in current(tb, c.chat_id, c.message_id)
            for c in cards
        )

    assert await wait_for(all_copies_show_it, timeout=15)
    await tb.drain()
    told = [x for x in tb.texts(t["member_a"]["id"]) if "有变动" in x]
    assert len(told) == 1 and "地点：广场 → 雁山广场东门" in told[0]
    told_en = [x for x in tb.texts(t["member_b"]["id"]) if "has changed" in x]
    assert len(told_en) == 1 and "Place: 广场 → 雁山广场东门" in told_en[0]
    # the reminders follow the new time
    rows = await tb.db.fetchall(
        "SELECT step, due_at FROM reminders WHERE kind = 'activity' AND ref_id = ?"
        " AND status = 'pending'",
        (act_id,),
    )
    assert {r["step"]: r["due_at"] for r in rows}["start.e1"] == new_ts
    assert all(r["step"].endswith(".e1") for r in rows)
    # the same again: nothing to change
    sent = await tb.send(t["boss"], t["root"], f"/activity edit {act_id} | 地点 雁山广场东门")
    assert "没有变化" in sent[0].text


async def test_capacity_lowered_then_raised_keeps_the_queue_order(tb: Harness) -> None:
    t = await build_tower(tb)
    start, _ = when(3 * 86400)
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"清扫 | {start} | 1 | 3 | 河边")
    people = await register_many(tb, 5, "yanshan.dabu", "Q")
    ids = [p["id"] for p in people]
    for person in people:
        await tb.press(person, card, f"act:{act_id}:join")
    assert await roster_of(tb, act_id, "confirmed") == ids[:3]
    assert await roster_of(tb, act_id, "waiting") == ids[3:]

    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {act_id} | 人数 1")
    assert "2 人移回候补" in sent[-1].text or any("2 人移回候补" in s.text for s in sent)
    assert await roster_of(tb, act_id, "confirmed") == ids[:1]
    # the last two confirmed head the waitlist, in their order, ahead of those waiting
    assert await roster_of(tb, act_id, "waiting") == [ids[1], ids[2], ids[3], ids[4]]
    assert await act_repo.recount(tb.db.reader, act_id) == (1, 4)
    a = await act_repo.get(tb.db.reader, act_id)
    assert (a.capacity, a.confirmed, a.waiting) == (1, 1, 4)
    await tb.drain()
    assert any("移回候补第 1 位" in x for x in tb.texts(ids[1]))
    assert any("移回候补第 2 位" in x for x in tb.texts(ids[2]))
    assert not any("移回候补" in x for x in tb.texts(ids[0]) + tb.texts(ids[3]))
    assert await wait_for(lambda: _shows(tb, card, "1/1 · 候补 4"), timeout=15)

    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {act_id} | 人数 4")
    assert any("3 人从候补转为正式" in s.text for s in sent)
    assert await roster_of(tb, act_id, "confirmed") == ids[:4]
    assert await roster_of(tb, act_id, "waiting") == [ids[4]]
    assert await act_repo.recount(tb.db.reader, act_id) == (4, 1)
    await tb.drain()
    for uid in ids[1:4]:
        assert any("名额由 1 增为 4" in x for x in tb.texts(uid)), uid
    assert not any("增为" in x for x in tb.texts(ids[4]))
    # a join now goes on the waitlist behind the one still waiting; a leave promotes in order
    await tb.press(t["member_a"], card, f"act:{act_id}:join")
    await tb.press(people[0], card, f"act:{act_id}:leave")
    assert await roster_of(tb, act_id, "confirmed") == [*ids[1:5]]
    assert await roster_of(tb, act_id, "waiting") == [t["member_a"]["id"]]


async def _shows(tb: Harness, card: Any, text: str) -> bool:
    return text in current(tb, card.chat_id, card.message_id)


# --- the calendar file -----------------------------------------------------------------------


async def test_calendar_file_is_sent_once_reused_and_updated_after_an_edit(tb: Harness) -> None:
    t = await build_tower(tb)
    start, start_ts = when(3 * 86400)
    act_id, card = await create(
        tb, t["sec_a"], t["chat_a"], f"七彩四点半 | {start} | 1.5 | 20 | 大埠乡青年之家"
    )
    assert f"act:{act_id}:cal" in str(card.reply_markup)
    ma, boss = t["member_a"], t["boss"]
    mark = len(tb.em.callback_answers)
    await tb.press(ma, card, f"act:{act_id}:cal")
    await tb.press(ma, card, f"act:{act_id}:cal")  # a double tap sends nothing more
    answers = [a["text"] for a in answers_since(tb, mark)]
    assert answers == ["日历文件已私聊发给你。", "日历文件已经发给你了，请在私聊中查看。"]
    await tb.drain()
    docs = documents_to(tb, ma)
    assert len(docs) == 1 and docs[0]["file_name"] == f"activity-{act_id}.ics"
    cal, event = event_of(docs[0])
    assert cal.walk("VTIMEZONE")[0]["TZID"] == "Asia/Shanghai"
    assert event.decoded("dtstart") == datetime.fromtimestamp(start_ts, TZ)
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=90)
    assert str(event["SUMMARY"]) == "七彩四点半"
    assert str(event["LOCATION"]) == "大埠乡青年之家"
    assert int(event["SEQUENCE"]) == 0
    uid = str(event["UID"])
    alarm = event.walk("VALARM")[0]
    assert alarm.decoded("trigger") == timedelta(hours=-1)

    # another person: the same upload, by its file_id
    await tb.press(boss, card, f"act:{act_id}:cal")
    await tb.drain()
    assert documents_to(tb, boss)[-1]["file_id"] == docs[0]["file_id"]
    row = await tb.db.fetchone("SELECT COUNT(*) FROM file_uploads")
    assert row[0] == 1

    # an edit sends the new file (same UID, next SEQUENCE) to both who took one
    new_start, new_ts = when(5 * 86400)
    await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {act_id} | 时间 {new_start}")
    await tb.drain()
    for person in (ma, boss):
        latest = documents_to(tb, person)
        assert len(latest) == 2, person
        _, updated = event_of(latest[-1])
        assert str(updated["UID"]) == uid
        assert int(updated["SEQUENCE"]) == 1
        assert updated.decoded("dtstart") == datetime.fromtimestamp(new_ts, TZ)
        assert "有变动" in (latest[-1]["caption"] or "")
    assert documents_to(tb, ma)[-1]["file_id"] == documents_to(tb, boss)[-1]["file_id"]
    assert documents_to(tb, ma)[-1]["file_id"] != docs[0]["file_id"]
    # a cancel sends the cancellation (METHOD:CANCEL, same UID, next SEQUENCE) privately
    said = await tb.send(t["sec_a"], t["chat_a"], f"/activity cancel {act_id}")
    assert any("已取消" in (s.text or "") for s in said)
    await tb.drain()
    for person in (ma, boss):
        latest = documents_to(tb, person)
        assert len(latest) == 3, person
        cal, gone = event_of(latest[-1])
        assert str(cal["METHOD"]) == "CANCEL" and str(gone["STATUS"]) == "CANCELLED"
        assert str(gone["UID"]) == uid and int(gone["SEQUENCE"]) == 2
        assert gone.decoded("dtstart") == datetime.fromtimestamp(new_ts, TZ)
        assert "VALARM" not in [c.name for c in gone.subcomponents]
        assert latest[-1]["file_name"] == f"activity-{act_id}.ics"
        assert "已取消" in (latest[-1]["caption"] or "")
    assert not [d for d in tb.em.documents if d["chat_id"] < 0]  # never in a group
    # /forgetme leaves no record of who took a file
    await tb.services.activities.forget_calendars(ma["id"])
    row = await tb.db.fetchone(
        "SELECT COUNT(*) FROM activity_calendars WHERE user_id = ?", (ma["id"],)
    )
    assert row[0] == 0


async def test_calendar_press_without_a_private_chat_and_on_a_wrong_card(tb: Harness) -> None:
    t = await build_tower(tb)
    start, _ = when(3 * 86400)
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"义诊 | {start} | 2 | 5 | 村委")
    other_id, other = await create(tb, t["sec_a"], t["chat_a"], f"义卖 | {start} | 2 | 5 | 村委")
    stranger = tb.em.add_user("路过")  # never started the bot
    mark = len(tb.em.callback_answers)
    await tb.press(stranger, card, f"act:{act_id}:cal")
    answer = answers_since(tb, mark)[0]
    assert "开始" in answer["text"] and answer["show_alert"]
    # this activity's button pressed on another activity's card: refused
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_a"], other, f"act:{act_id}:cal")
    assert answers_since(tb, mark)[0]["text"] == "这个按钮不属于这张活动卡片，或已失效。"
    await tb.drain()
    assert documents_to(tb, stranger) == [] and documents_to(tb, t["member_a"]) == []
    row = await tb.db.fetchone("SELECT COUNT(*) FROM activity_calendars")
    assert row[0] == 0
    assert other_id != act_id


async def test_no_edit_once_started_or_cancelled(tb: Harness) -> None:
    t = await build_tower(tb)
    start, _ = when(3 * 86400)
    one, _ = await create(tb, t["sec_a"], t["chat_a"], f"早操 | {start} | 1 | 5 | 操场")
    two, _ = await create(tb, t["sec_a"], t["chat_a"], f"晚跑 | {start} | 1 | 5 | 操场")
    async with tb.db.transaction() as tx:  # it has started (the test cannot wait)
        await tx.execute("UPDATE activities SET starts_at = ? WHERE id = ?", (time.time() - 5, one))
    await tb.send(t["sec_a"], t["chat_a"], f"/activity cancel {two}")
    before = (await snapshot(tb, one), await snapshot(tb, two))
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {one} | 人数 9")
    assert sent[0].text == "活动“早操”已开始，不能再修改。"
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {two} | 人数 9")
    assert sent[0].text == "活动“晚跑”已取消。"
    sent = await tb.send(t["sec_a"], t["chat_a"], "/activity edit")
    assert sent[0].text.startswith("用法：/activity edit 编号")
    # English keywords work too; a bad value is its reason in one line
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity edit {one} | capacity 0")
    assert sent[0].text.startswith("名额“0”无效") and sent[0].text.endswith("活动没有修改。")
    assert (await snapshot(tb, one), await snapshot(tb, two)) == before
