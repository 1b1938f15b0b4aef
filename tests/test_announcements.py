"""Announcements down the tower, acknowledgements, the status board, the daily budget and its
evening digest, and the acknowledgement reminder — through the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.clock import FakeClock
from storage import announcements as ann_repo
from tests.conftest import Harness, build_tower, start_harness

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=TZ).timestamp()


def copies(tb: Harness, chat_id: int, needle: str) -> list[Any]:
    return [
        s
        for s in tb.em.sent
        if s.chat_id == chat_id
        and s.method in ("sendMessage", "sendDocument", "sendPhoto")
        and needle in (s.text or "")
    ]


def ack_button(sent: Any) -> str:
    return sent.reply_markup["inline_keyboard"][-1][-1]["callback_data"]


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeClock]]:
    clock = FakeClock(MORNING)
    ctx, tb = await start_harness(
        tmp_path, clock=clock, chat_daily_budget=2, announce_ack_reminder="24h"
    )
    try:
        yield tb, clock
    finally:
        await ctx.__aexit__(None, None, None)


async def three_levels(tb: Harness) -> dict[str, Any]:
    """build_tower plus two villages under 大埠乡 (one chat each)."""
    t = await build_tower(tb)
    em, boss = tb.em, t["boss"]
    await tb.send(boss, t["chat_a"], "/org add yanshan.dabu.c1 一村团支部")
    await tb.send(boss, t["chat_a"], "/org add yanshan.dabu.c2 二村团支部")
    t["chat_c1"] = em.add_group("一村团支部群", members=[boss["id"], t["member_a"]["id"]])
    t["chat_c2"] = em.add_group("二村团支部群", members=[boss["id"]])
    await tb.send(boss, t["chat_c1"], "/bind yanshan.dabu.c1")
    await tb.send(boss, t["chat_c2"], "/bind yanshan.dabu.c2")
    return t


async def test_cascade_removed_and_migrated_chats(tb: Harness) -> None:
    t = await three_levels(tb)
    em, boss = tb.em, t["boss"]
    # the bot is removed from one chat (it knows), another group silently became a supergroup
    await tb.deliver(em.bot_removed(t["chat_c2"], boss))
    new_a = em.migrate(t["chat_a"])
    em.pending_updates.clear()

    answer = await tb.send(boss, t["root"], "/announce 周六上午9点雁山广场集合 <志愿服务>")
    assert "#1" in answer[0].text and "4" in answer[0].text
    await tb.drain()

    live = [t["root"]["id"], new_a["id"], t["chat_b"]["id"], t["chat_c1"]["id"]]
    for chat_id in live:
        got = copies(tb, chat_id, "周六上午9点雁山广场集合 <志愿服务>")
        assert len(got) == 1, chat_id
        assert ack_button(got[0]) == "ann:1:ack"
    assert copies(tb, t["chat_c2"]["id"], "周六") == []
    assert copies(tb, t["chat_a"]["id"], "周六") == []

    # acknowledgements: once per person, the second press changes nothing
    in_a = copies(tb, new_a["id"], "周六")[0]
    first = await tb.press(t["sec_a"], in_a, "ann:1:ack")
    again = await tb.press(t["sec_a"], in_a, "ann:1:ack")
    assert "谢谢" in first[-1].text and "已经确认" in again[-1].text
    await tb.press(t["member_a"], copies(tb, t["chat_c1"]["id"], "周六")[0], "ann:1:ack")
    await tb.press(boss, copies(tb, t["root"]["id"], "周六")[0], "ann:1:ack")
    acks = await ann_repo.acks(tb.db.reader, 1)
    assert sorted(a.user_id for a in acks) == sorted(
        [t["sec_a"]["id"], t["member_a"]["id"], boss["id"]]
    )

    board = await tb.services.announcements.board(boss["id"], t["root"]["id"], 1)
    assert board.counts() == {
        "chats": 4,
        "delivered": 4,
        "digest_wait": 0,
        "pending": 0,
        "failed": 0,
        "acked_chats": 3,
        "acks": 3,
    }
    by_chat = {target.chat_id: target for target in board.targets}
    assert set(by_chat) == set(live)
    sent_a = copies(tb, new_a["id"], "周六")[0]
    assert by_chat[new_a["id"]].message_ids == [sent_a.message_id]

    shown = (await tb.send(boss, t["root"], "/announce status"))[0].text
    assert "已送达 4/4 个群，3 个群已确认（共 3 人）" in shown  # no zero counters
    assert "等待" not in shown and "失败" not in shown and "汇总" not in shown
    # the chat and who acknowledged, no Telegram message id
    assert "大埠乡团委工作群（大埠乡团委） 已送达，确认：李娜" in shown
    assert f"#{sent_a.message_id}，" not in shown
    assert "雁山街道团工委群（雁山街道团工委） 已送达" in shown and "尚无人确认" in shown
    assert "陈小红" not in shown and "李娜" in shown  # display names only


async def test_failed_chat_on_the_board_and_refusals(tb: Harness) -> None:
    t = await build_tower(tb)
    em, boss = tb.em, t["boss"]
    em.set_member(t["chat_b"], em.bot_user["id"], "kicked")  # removed, and no update came
    refused = await tb.send(t["sec_a"], t["chat_a"], "/announce 我不是团干部")
    assert "团干部" in refused[0].text
    assert await ann_repo.latest_in(tb.db.reader, "/") is None
    usage = await tb.send(boss, t["root"], "/announce")
    assert "用法" in usage[0].text
    await tb.send(boss, t["root"], "/announce 本周五前上报活动计划")
    await tb.drain()
    shown = (await tb.send(boss, t["root"], "/announce status 1"))[0].text
    assert "已送达 2/3 个群，1 个群发送失败" in shown
    assert "❌ 雁山街道团工委群（雁山街道团工委） 发送失败：Forbidden" in shown
    assert shown.index("❌") < shown.index("⚪")  # problems first
    member = await tb.send(t["member_b"], t["chat_b"], "/announce status 1")
    assert member == [] or "书记" in member[0].text or "secretary" in member[0].text


async def test_reply_with_a_document_is_copied_by_file_id(tb: Harness) -> None:
    t = await build_tower(tb)
    em, boss = tb.em, t["boss"]
    doc = em.document(t["sec_a"], t["root"], "计划.pdf", caption="三月活动计划")["message"]
    await tb.send(boss, t["root"], "/announce", reply_to=doc)
    await tb.drain()
    sent = [d for d in em.documents if d["caption"] and "三月活动计划" in d["caption"]]
    assert sorted(d["chat_id"] for d in sent) == sorted(
        [t["root"]["id"], t["chat_a"]["id"], t["chat_b"]["id"]]
    )
    assert {d["file_id"] for d in sent} == {doc["document"]["file_id"]}
    assert all(s.reply_markup for s in em.sent if s.method == "sendDocument")


async def test_reply_with_a_photo_is_copied_to_every_chat(tb: Harness) -> None:
    t = await build_tower(tb)
    em, boss = tb.em, t["boss"]
    photo = em.photo(t["sec_a"], t["root"], caption="活动海报")["message"]
    await tb.send(boss, t["root"], "/announce", reply_to=photo)
    assert await tb.drain()
    sent = [s for s in em.sent if s.method == "sendPhoto"]
    assert sorted(s.chat_id for s in sent) == sorted(
        [t["root"]["id"], t["chat_a"]["id"], t["chat_b"]["id"]]
    )
    assert all("活动海报" in (s.text or "") and s.reply_markup for s in sent)
    board = await tb.send(boss, t["root"], "/announce status")
    assert "已送达 3/3 个群" in board[0].text and "失败" not in board[0].text


async def test_budget_folds_overflow_into_the_evening_digest(
    clocked: tuple[Harness, FakeClock],
) -> None:
    tb, clock = clocked
    t = await build_tower(tb)
    boss, root = t["boss"], t["root"]["id"]
    for n in range(1, 4):
        await tb.send(boss, t["root"], f"/announce 第{n}号通知")
    await tb.send(boss, t["root"], "/announce 台风停课 | urgent")
    await tb.drain()
    assert len(copies(tb, root, "第1号")) == len(copies(tb, root, "第2号")) == 1
    assert copies(tb, root, "第3号") == []  # over the budget of 2: kept for the digest
    assert len(copies(tb, root, "台风停课")) == 1  # urgent goes anyway
    board = await tb.services.announcements.board(boss["id"], root, 3)
    assert board.counts()["digest_wait"] == 3
    assert "🌙" in (await tb.send(boss, t["root"], "/announce status 3"))[0].text

    clock.advance(datetime(2026, 3, 2, 20, 0, 1, tzinfo=TZ).timestamp() - clock.time())
    await tb.services.reminders.fire_due()
    await tb.drain()
    digest = copies(tb, root, "今日汇总")
    assert len(digest) == 1 and "第3号通知" in digest[0].text
    assert digest[0].reply_markup["inline_keyboard"][0][0]["callback_data"] == "ann:3:ack"
    assert digest[0].reply_markup["inline_keyboard"][0][0]["text"].startswith("1. ")
    await tb.press(boss, digest[0], "ann:3:ack")
    board = await tb.services.announcements.board(boss["id"], root, 3)
    assert board.counts()["delivered"] == 3 and board.counts()["acks"] == 1
    assert board_state(board, root) == "digest_sent"
    # firing again sends nothing more
    await tb.services.reminders.fire_due()
    await tb.drain()
    assert len(copies(tb, root, "今日汇总")) == 1
    # the next morning the budget is fresh
    clock.advance(13 * 3600)
    await tb.send(boss, t["root"], "/announce 第4号通知")
    await tb.drain()
    assert len(copies(tb, root, "第4号")) == 1


def board_state(board: Any, chat_id: int) -> str:
    return next(board.state(x) for x in board.targets if x.chat_id == chat_id)


async def test_unacknowledged_chats_get_one_reminder(clocked: tuple[Harness, FakeClock]) -> None:
    tb, clock = clocked
    t = await build_tower(tb)
    boss = t["boss"]
    await tb.send(boss, t["root"], "/announce 请各支部报送名单")
    await tb.drain()
    await tb.press(t["sec_a"], copies(tb, t["chat_a"]["id"], "报送名单")[0], "ann:1:ack")
    clock.advance(24 * 3600 + 1)
    await tb.services.reminders.fire_due()
    await tb.services.reminders.fire_due()
    await tb.drain()
    for chat, expected in ((t["root"], 1), (t["chat_a"], 0), (t["chat_b"], 1)):
        assert len(copies(tb, chat["id"], "还没有人确认收到")) == expected, chat["title"]
