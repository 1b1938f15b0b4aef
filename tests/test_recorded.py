"""Everything that must be recorded is recorded: a card that the outbox sent (the direct reply
hit a 429) still has working buttons, and a direct reply that worked is not sent twice."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.clock import FakeClock
from bot.domain.outbox import GUARD_GRACE
from tests.conftest import Harness, build_tower, start_harness
from tests.test_activities import when

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeClock, dict[str, Any]]]:
    clock = FakeClock(time.time())
    ctx, tb = await start_harness(tmp_path, clock=clock)
    try:
        yield tb, clock, await build_tower(tb)
    finally:
        await ctx.__aexit__(None, None, None)


def cards_in(tb: Harness, chat_id: int, activity_id: int) -> list[Any]:
    return [
        s
        for s in tb.em.sent
        if s.chat_id == chat_id
        and s.method == "sendMessage"
        and f"act:{activity_id}:join" in str(s.reply_markup)
    ]


async def test_card_sent_by_the_outbox_after_a_429_has_working_buttons(
    clocked: tuple[Harness, FakeClock, dict[str, Any]],
) -> None:
    tb, clock, t = clocked
    chat = t["chat_a"]
    tb.em.inject("sendMessage", chat_id=chat["id"], error="retry_after", retry_after=5, times=1)
    nxt, _ = when(3 * 86400)
    await tb.send(t["sec_a"], chat, f"/activity 植树 | {nxt} | 2 | 5 | 大埠")
    act_id = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    assert cards_in(tb, chat["id"], act_id) == []  # refused with a 429: waiting in the outbox
    clock.advance(GUARD_GRACE + 1)
    await tb.drain()
    cards = cards_in(tb, chat["id"], act_id)
    assert len(cards) == 1
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_a"], cards[0], f"act:{act_id}:join")
    assert tb.em.callback_answers[mark]["text"].startswith("报名成功")


async def test_direct_card_and_checkin_are_not_sent_twice(
    clocked: tuple[Harness, FakeClock, dict[str, Any]],
) -> None:
    tb, clock, t = clocked
    chat = t["chat_a"]
    nxt, _ = when(1800)
    await tb.send(t["sec_a"], chat, f"/activity 植树 | {nxt} | 2 | 5 | 大埠")
    act_id = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    await tb.send(t["sec_a"], chat, f"/checkin {act_id}")
    clock.advance(GUARD_GRACE + 1)
    await tb.drain()
    assert len(cards_in(tb, chat["id"], act_id)) == 1
    checkins = [
        s
        for s in tb.em.sent
        if s.chat_id == chat["id"] and f"act:{act_id}:in" in str(s.reply_markup)
    ]
    assert len(checkins) == 1, [s.reply_markup for s in tb.em.sent if s.chat_id == chat["id"]]
    rows = await tb.db.fetchall("SELECT status FROM outbox WHERE ref = ?", (f"act:{act_id}",))
    assert sorted(r["status"] for r in rows) == ["cancelled", "cancelled"]
