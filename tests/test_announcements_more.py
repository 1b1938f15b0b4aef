"""Announcements sent later, corrected, recalled and pinned (issue 14) — through the emulator,
on each storage engine: a scheduled one across restarts goes once, a cancelled one never;
an edit changes every copy (text and caption) and the board says so; a recall deletes the
copies and edits the ones too old to delete; a pin is refused in one chat and the author told;
the wrong person is refused each time, and bad texts change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.error import BadRequest

from bot.domain.clock import FakeClock
from bot.domain.errors import Refusal
from bot.emulator.methods_manage import NO_PIN_RIGHTS
from tests.conftest import Harness, build_tower, start_harness
from tests.dbdump import tables, volatile

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=TZ).timestamp()  # Monday 2 March 2026, 08:00
TUESDAY_9 = datetime(2026, 3, 3, 9, 0, tzinfo=TZ).timestamp()
OLD = 49 * 3600  # older than Telegram lets a bot delete


def dump(tb: Harness) -> list[str]:
    """Every row of every table (the timers' own rows aside): "nothing changed" checks."""
    return [
        f"{table}: {row!r}"
        for table, (_, found) in tables(tb.settings.db).items()
        for row in found
        if not volatile(table, row)
    ]


def copies(tb: Harness, chat_id: int, needle: str) -> list[Any]:
    return [
        s
        for s in tb.em.sent
        if s.chat_id == chat_id
        and s.method in ("sendMessage", "sendPhoto", "sendDocument")
        and (s.text or "").startswith(("📢", "🚨"))  # a copy, not an answer quoting it
        and needle in (s.text or "")
    ]


def calls(tb: Harness, method: str, chat_id: int | None = None) -> list[Any]:
    return [
        s for s in tb.em.sent if s.method == method and (chat_id is None or s.chat_id == chat_id)
    ]


def chats(t: dict[str, Any]) -> list[int]:
    return [t["root"]["id"], t["chat_a"]["id"], t["chat_b"]["id"]]


async def first_text(tb: Harness, user: dict, chat: dict | None, text: str) -> str:
    sent = await tb.send(user, chat, text)
    assert sent, text
    return sent[0].text or ""


async def status_of(tb: Harness, ann_id: int) -> str:
    row = await tb.db.fetchone("SELECT status FROM announcements WHERE id = ?", (ann_id,))
    return str(row[0])


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeClock]]:
    clock = FakeClock(MONDAY)
    ctx, tb = await start_harness(tmp_path, clock=clock)
    try:
        yield tb, clock
    finally:
        await ctx.__aexit__(None, None, None)


# --- scheduled ---------------------------------------------------------------------------------


async def test_scheduled_goes_once_across_restarts(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY)
    ctx, tb = await start_harness(tmp_path, clock=clock)
    em = tb.em
    try:
        t = await build_tower(tb)
        boss = t["boss"]
        answer = await first_text(tb, boss, t["root"], "/announce at 明天 9:00 | 周二例会改到三楼")
        assert "#1" in answer and "3月3日（周二）09:00" in answer and "3 个" in answer
        # English forms too, and the list (soonest first) with the flags
        answer = await first_text(
            tb, boss, t["root"], "/announce at tomorrow 3pm | Bring the forms | pin"
        )
        assert "#2" in answer and "📌" in answer
        listed = await first_text(tb, boss, t["root"], "/announce scheduled")
        assert listed.index("#1") < listed.index("#2") and "15:00 📌" in listed
        assert "周二例会改到三楼" in listed
        # the board of one not sent yet says when it goes, not "delivered 0/0"
        board = await first_text(tb, boss, t["root"], "/announce status 1")
        assert "定于 3月3日（周二）09:00 发出，尚未发送" in board and "0/0" not in board
        await tb.drain()
        assert all(copies(tb, c, "周二例会") == [] for c in chats(t))
    finally:
        await ctx.__aexit__(None, None, None)

    clock.advance(TUESDAY_9 + 30 - clock.time())  # the bot was down when #1 came due
    for _ in range(2):  # two restarts on the same database: #1 goes once
        ctx, tb = await start_harness(tmp_path, em=em, clock=clock)
        try:
            assert await tb.drain()
            assert await status_of(tb, 1) == "sent" and await status_of(tb, 2) == "scheduled"
        finally:
            await ctx.__aexit__(None, None, None)
    for chat_id in chats(t):
        got = copies(tb, chat_id, "周二例会改到三楼")
        assert len(got) == 1, chat_id
        assert got[0].reply_markup["inline_keyboard"][0][0]["callback_data"] == "ann:1:ack"
    told = [m.text or "" for m in em.messages_to(t["boss"]["id"]) if "#1" in (m.text or "")]
    assert sum("已发往 3 个群" in x for x in told) == 1


async def test_cancelled_never_goes(clocked: tuple[Harness, FakeClock]) -> None:
    tb, clock = clocked
    t = await build_tower(tb)
    boss, root = t["boss"], t["root"]
    await tb.send(boss, root, "/announce at 明天 9:00 | 取消的通知")
    # a secretary (not the author, not staff) may not cancel; a member not even list others'
    assert "只有通知 #1 的发布人" in await first_text(
        tb, t["sec_a"], t["chat_a"], "/announce cancel 1"
    )
    assert await status_of(tb, 1) == "scheduled"
    assert "没有待发" in await first_text(tb, t["sec_a"], t["chat_a"], "/announce scheduled")
    assert "已取消定时通知 #1" in await first_text(tb, boss, root, "/announce cancel #1")
    assert "已取消" in await first_text(tb, boss, root, "/announce cancel 1")  # twice: refused
    assert "没有待发" in await first_text(tb, boss, root, "/announce scheduled")
    assert "用法" in await first_text(tb, boss, root, "/announce cancel")
    assert "找不到" in await first_text(tb, boss, root, "/announce cancel 99")

    clock.advance(TUESDAY_9 + 60 - clock.time())
    await tb.services.reminders.fire_due()
    await tb.drain()
    assert all(copies(tb, c, "取消的通知") == [] for c in chats(t))
    assert await status_of(tb, 1) == "cancelled"
    assert "定时发送已取消，没有发出" in await first_text(tb, boss, root, "/announce status 1")
    # one that went can no longer be cancelled (recall instead); one not yet gone not recalled
    await tb.send(boss, root, "/announce 已经发出的通知")
    await tb.send(boss, root, "/announce at 明天 10:00 | 还没发的通知")
    assert await tb.drain()  # the copies land before the answers are read
    assert "不能取消" in await first_text(tb, boss, root, "/announce cancel 2")
    assert "/announce cancel 3" in await first_text(tb, boss, root, "/announce recall 3")


async def test_uncertain_time_asks_and_wrong_times_are_refused(
    clocked: tuple[Harness, FakeClock],
) -> None:
    tb, _clock = clocked
    t = await build_tower(tb)
    boss, root = t["boss"], t["root"]
    before = dump(tb)
    for command, expected in (
        ("/announce at 昨天 9:00 | 过去", "已经过去"),
        ("/announce at 火星上 | 看不懂", "看不懂"),
        ("/announce at 明天 9:00", "用法"),
        ("/announce at 2027-12-01 09:00 | 太远", "太远"),
    ):
        assert expected in await first_text(tb, boss, root, command), command
    assert "团干部" in await first_text(tb, t["sec_a"], t["chat_a"], "/announce at 明天 9:00 | x")
    assert dump(tb) == before
    # "9点" is morning or evening: a button per reading, only the sender may press
    question = (await tb.send(boss, root, "/announce at 明天 9点 | 按钮选的时间 | urgent"))[0]
    buttons = [b["callback_data"] for row in question.reply_markup["inline_keyboard"] for b in row]
    assert len(buttons) == 2
    await tb.press(t["sec_a"], question, buttons[1])
    assert (await tb.db.fetchone("SELECT COUNT(*) FROM announcements"))[0] == 0
    answer = await tb.press(boss, question, buttons[1])
    assert any("3月3日（周二）21:00" in (s.text or "") for s in answer)
    ann = await tb.services.announcements.changes.scheduled(boss["id"], root["id"])
    assert [(a.urgent, a.text) for a in ann] == [(True, "按钮选的时间")]


# --- corrected ---------------------------------------------------------------------------------


async def test_edit_changes_every_copy_paced_and_the_board_says_so(tb: Harness) -> None:
    t = await build_tower(tb)
    em, boss, root = tb.em, t["boss"], t["root"]
    await tb.send(boss, root, "/announce 周六上午9点集合")
    photo = em.photo(t["sec_a"], root, caption="活动海报")["message"]
    await tb.send(boss, root, "/announce", reply_to=photo)
    await tb.drain()
    in_a = copies(tb, t["chat_a"]["id"], "周六上午9点集合")[0]
    await tb.press(t["sec_a"], in_a, "ann:1:ack")

    # the wrong person: refused, nothing changed
    before = dump(tb)
    refused = await first_text(tb, t["sec_a"], t["chat_a"], "/announce edit 1 | 我来改")
    assert "只有通知 #1 的发布人" in refused
    assert dump(tb) == before
    assert calls(tb, "editMessageText") == []

    assert "3 份" in await first_text(tb, boss, root, "/announce edit 1 | 周六上午9点半集合")
    assert "3 份" in await first_text(tb, boss, root, "/announce edit 1 | 周六上午10点集合")
    assert await tb.drain()
    for chat_id in chats(t):
        copy = copies(tb, chat_id, "周六上午9点集合")[0]
        shown = em.message(chat_id, copy.message_id)
        assert shown is not None
        assert "周六上午10点集合" in shown["text"] and "更正" in shown["text"]
        # the button stays: acknowledgements go on
        assert shown["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ann:1:ack"
        # paced: the two edits of one chat are at least the per-chat interval (1 s) apart
        first, second = calls(tb, "editMessageText", chat_id)
        assert second.date > first.date
    board = await first_text(tb, boss, root, "/announce status 1")
    assert "更正（共 2 次）" in board and "确认：李娜" in board

    # a photo copy: its caption is edited
    assert "3 份" in await first_text(tb, boss, root, "/announce edit 2 | 新海报")
    assert await tb.drain()
    for chat_id in chats(t):
        copy = next(s for s in calls(tb, "sendPhoto", chat_id) if "活动海报" in (s.text or ""))
        assert "新海报" in em.message(chat_id, copy.message_id)["caption"]
    assert len(calls(tb, "editMessageCaption")) == 3


async def test_bad_texts_change_nothing(tb: Harness) -> None:
    t = await build_tower(tb)
    boss, root = t["boss"], t["root"]
    await tb.send(boss, root, "/announce 原来的通知")
    await tb.drain()
    before = dump(tb)
    for command, expected in (
        ("/announce edit 1 |", "用法"),
        ("/announce edit 1 |   ", "用法"),
        ("/announce edit 1 原来", "用法"),
        ("/announce edit x | 新", "用法"),
        ("/announce edit 99 | 新", "找不到"),
        ("/announce edit 1 | 反\u202e转", "U+202E"),
        ("/announce edit 1 | 响\u0007铃", "U+0007"),
        ("/announce edit 1 | " + "长" * 3501, "最多 3500"),
        ("/announce 反\u202e转", "U+202E"),
        ("/announce " + "长" * 3501, "最多 3500"),
        ("/announce at 明天 9:00 | \u2066隔离", "U+2066"),
        ("/announce at 明天 9:00 | " + "长" * 3501, "最多 3500"),
        ("/announce recall", "用法"),
        ("/announce recall 1 2", "用法"),
    ):
        assert expected in await first_text(tb, boss, root, command), command
    assert dump(tb) == before
    # emoji and CJK punctuation are fine (a zero-width joiner is part of an emoji)
    fine = await first_text(tb, boss, root, "/announce edit 1 | 👨‍👩‍👧 家庭志愿者，欢迎！")
    assert "已更正" in fine


# --- recalled ----------------------------------------------------------------------------------


async def test_recall_deletes_copies_and_edits_old_ones(tb: Harness) -> None:
    t = await build_tower(tb)
    em, boss, root = tb.em, t["boss"], t["root"]
    await tb.send(boss, root, "/announce 发错的通知")
    await tb.drain()
    sent = {c: copies(tb, c, "发错的通知")[0] for c in chats(t)}
    await tb.press(t["sec_a"], sent[t["chat_a"]["id"]], "ann:1:ack")
    # chat_a's copy went 49 h ago (as the database and Telegram know it); chat_b's only as
    # Telegram knows it (the bot thinks it may delete it, Telegram refuses: edited instead)
    a_id, b_id = t["chat_a"]["id"], t["chat_b"]["id"]
    async with tb.db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET sent_at = sent_at - ? WHERE ref = 'announce:1' AND chat_id = ?",
            (OLD, a_id),
        )
    for chat_id in (a_id, b_id):
        em.messages[(chat_id, sent[chat_id].message_id)]["date"] -= OLD

    before = dump(tb)
    refused = await first_text(tb, t["member_b"], t["chat_b"], "/announce recall 1")
    assert refused.startswith("Only the author of announcement #1")  # in his language
    assert dump(tb) == before
    answer = await first_text(tb, boss, root, "/announce recall 1")
    assert "2 份将删除" in answer and "1 份发出超过48小时" in answer
    assert await tb.drain()

    assert em.message(root["id"], sent[root["id"]].message_id) is None  # deleted
    for chat_id in (a_id, b_id):  # too old: edited to say so, without the button
        shown = em.message(chat_id, sent[chat_id].message_id)
        assert shown is not None and "已于" in shown["text"] and "撤回" in shown["text"]
        assert "发错的通知" not in shown["text"] and not shown.get("reply_markup")
    assert len(calls(tb, "deleteMessage")) == 1
    # the acknowledgement is kept, the board says it was recalled, no more presses
    board = await first_text(tb, boss, root, "/announce status 1")
    assert "撤回" in board and "李娜" in board
    # a press still on its way when the copy went (the button is gone from every copy)
    with pytest.raises(Refusal) as pressed:
        await tb.services.announcements.acknowledge(1, t["member_a"]["id"], "小红", root["id"])
    assert pressed.value.key == "err_ann_recalled_ack"
    assert "已撤回" in await first_text(tb, boss, root, "/announce recall 1")
    assert "已撤回" in await first_text(tb, boss, root, "/announce edit 1 | 改")


async def test_emulator_refuses_deleting_old_messages_in_groups(tb: Harness) -> None:
    em, bot = tb.em, tb.app.bot
    group = em.add_group("老消息群", members=[], bot_status="administrator")
    supergroup = em.add_group("超级群", members=[], type="supergroup", bot_status="administrator")
    for chat in (group, supergroup):
        message = await bot.send_message(chat["id"], "旧消息")
        em.messages[(chat["id"], message.message_id)]["date"] -= OLD
        if chat is group:  # even an administrator of a basic group: 48 h
            with pytest.raises(BadRequest, match="can't be deleted"):
                await bot.delete_message(chat["id"], message.message_id)
        else:  # a supergroup administrator with can_delete_messages may
            assert await bot.delete_message(chat["id"], message.message_id)


# --- pinned ------------------------------------------------------------------------------------


async def test_pin_where_allowed_and_the_author_is_told(
    clocked: tuple[Harness, FakeClock],
) -> None:
    tb, clock = clocked
    t = await build_tower(tb)
    em, boss, root = tb.em, t["boss"], t["root"]
    bot_id = em.bot_user["id"]
    em.set_member(root, bot_id, "administrator")
    em.set_member(t["chat_a"], bot_id, "administrator")
    em.set_rights(t["chat_b"], bot_id, can_pin_messages=False)  # an admin who may not pin

    # a member may not post (nor pin)
    assert "团干部" in await first_text(tb, t["member_a"], t["chat_a"], "/announce 置顶 | pin")
    answer = await first_text(tb, boss, root, "/announce 本周六全员集合 | pin")
    assert "#1" in answer and "📌" in answer
    assert await tb.drain()
    for chat in (root, t["chat_a"]):
        copy = copies(tb, chat["id"], "本周六全员集合")[0]
        assert em.chats[chat["id"]]["pinned_message"]["message_id"] == copy.message_id
    assert "pinned_message" not in em.chats[t["chat_b"]["id"]]
    assert len(copies(tb, t["chat_b"]["id"], "本周六全员集合")) == 1  # sent, only not pinned
    refused = [c for c in em.calls if c.method == "pinChatMessage" and c.status == 400]
    assert [c.chat_id for c in refused] == [t["chat_b"]["id"]]
    with pytest.raises(BadRequest, match=NO_PIN_RIGHTS.capitalize()):
        await tb.app.bot.pin_chat_message(t["chat_b"]["id"], 1)

    clock.advance(61)
    await tb.services.reminders.fire_due()
    assert await tb.drain()
    told = [m.text or "" for m in em.messages_to(boss["id"]) if "置顶" in (m.text or "")]
    assert len(told) == 1
    assert "1 个群没能置顶" in told[0] and "雁山街道团工委群" in told[0]
    assert "不是可以置顶消息的管理员" in told[0] and "大埠乡" not in told[0]
    clock.advance(3600)
    await tb.services.reminders.fire_due()
    assert await tb.drain()
    assert len([m for m in em.messages_to(boss["id"]) if "没能置顶" in (m.text or "")]) == 1
    # without "| pin" nothing is pinned
    await tb.send(boss, root, "/announce 不置顶的通知")
    assert await tb.drain()
    assert len(calls(tb, "pinChatMessage")) == 2


async def test_edits_left_by_a_stop_resume_after_restart(tmp_path: Path) -> None:
    """The edits are outbox rows: a bot stopped before sending them edits after its restart,
    once per copy."""
    ctx, tb = await start_harness(tmp_path)
    em = tb.em
    try:
        t = await build_tower(tb)
        boss, root = t["boss"], t["root"]
        await tb.send(boss, root, "/announce 下午两点开会")
        assert await tb.drain()
        await tb.services.sender.stop()  # nothing more leaves this instance
        assert "3 份" in await first_text(tb, boss, root, "/announce edit 1 | 下午三点开会")
        assert calls(tb, "editMessageText") == []
    finally:
        await ctx.__aexit__(None, None, None)
    ctx, tb = await start_harness(tmp_path, em=em)
    try:
        assert await tb.drain()
    finally:
        await ctx.__aexit__(None, None, None)
    for chat_id in chats(t):
        copy = copies(tb, chat_id, "下午两点开会")[0]
        assert "下午三点开会" in em.message(chat_id, copy.message_id)["text"]
        assert len(calls(tb, "editMessageText", chat_id)) == 1


async def test_author_is_told_in_their_own_language(clocked: tuple[Harness, FakeClock]) -> None:
    """The words to the author when a scheduled announcement goes are in the author's /lang."""
    tb, clock = clocked
    t = await build_tower(tb)
    boss, root = t["boss"], t["root"]
    await tb.send(boss, None, "/lang en")
    await tb.send(boss, root, "/announce at tomorrow 9:00 | Meeting moved to room 3")
    clock.advance(TUESDAY_9 + 30 - clock.time())
    await tb.services.reminders.fire_due()
    assert await tb.drain()
    told = [m.text or "" for m in tb.em.messages_to(boss["id"]) if "#1" in (m.text or "")]
    assert any("Scheduled announcement #1 went to 3 chats" in x for x in told), told
    assert not any("已发往" in x for x in told)
