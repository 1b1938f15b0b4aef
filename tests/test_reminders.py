"""Reminders and digests cannot strand work: a digest fires however late, a failing handler or
transaction marks its row failed while the others fire, and the timer is always re-armed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.clock import FakeClock
from bot.domain.models_reminders import Reminder
from schedules import reminders as timer
from storage import reminders as reminder_repo
from storage.db import Conn
from tests.conftest import Harness, build_tower, start_harness

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=TZ).timestamp()


async def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def statuses(tb: Harness, kind: str) -> dict[int, str]:
    rows = await tb.db.fetchall("SELECT ref_id, status FROM reminders WHERE kind = ?", (kind,))
    return {r["ref_id"]: r["status"] for r in rows}


def copies(tb: Harness, chat_id: int, needle: str) -> list[Any]:
    return [
        s
        for s in tb.em.sent
        if s.chat_id == chat_id and s.method == "sendMessage" and needle in (s.text or "")
    ]


@pytest.mark.parametrize("days_down", [0.5, 3, 9])
async def test_digest_due_while_down_is_delivered_late(tmp_path: Path, days_down: float) -> None:
    clock = FakeClock(MORNING)
    ctx, tb = await start_harness(tmp_path, clock=clock, chat_daily_budget=1)
    try:
        t = await build_tower(tb)
        for n in range(1, 4):
            await tb.send(t["boss"], t["root"], f"/announce 第{n}号通知")
        await tb.drain()
        root = t["root"]["id"]
        assert copies(tb, root, "第2号") == [] and copies(tb, root, "第3号") == []
    finally:
        await ctx.__aexit__(None, None, None)
    em = tb.em
    clock.advance(11 * 3600 + days_down * 86400)  # 20:00 came and went while the bot was down
    ctx, tb = await start_harness(tmp_path, em=em, clock=clock, chat_daily_budget=1)
    try:
        await tb.drain()
        digest = copies(tb, root, "今日汇总")
        assert len(digest) == 1
        assert "第2号通知" in digest[0].text and "第3号通知" in digest[0].text
        assert set((await statuses(tb, "digest")).values()) == {"done"}
    finally:
        await ctx.__aexit__(None, None, None)


async def test_other_reminders_too_late_are_still_missed(tmp_path: Path) -> None:
    clock = FakeClock(MORNING)
    ctx, tb = await start_harness(tmp_path, clock=clock)
    try:
        fired: list[int] = []

        async def nudge(conn: Conn, row: Reminder) -> None:
            fired.append(row.ref_id)

        tb.services.reminders.on("nudge", nudge)
        async with tb.db.transaction() as tx:
            await tb.services.reminders.add(tx, "nudge", 1, "x", clock.time() - 13 * 3600)
            await tb.services.reminders.add(tx, "nudge", 2, "x", clock.time() - 11 * 3600)
        result = await tb.services.reminders.fire_due()
        assert (result.fired, result.missed, fired) == (1, 1, [2])
        assert await statuses(tb, "nudge") == {1: "missed", 2: "done"}
    finally:
        await ctx.__aexit__(None, None, None)


def armed_in(tb: Harness) -> float | None:
    """Seconds until the reminder timer runs, or None when no timer is set."""
    jobs = [j for j in tb.app.job_queue.get_jobs_by_name(timer.JOB_NAME) if not j.removed]
    if not jobs or jobs[0].next_t is None:
        return None
    return jobs[0].next_t.timestamp() - time.time()


async def test_handler_raising_in_the_tick(tb: Harness) -> None:
    fired: list[int] = []

    async def handler(conn: Conn, row: Reminder) -> None:
        if row.ref_id == 1:
            raise RuntimeError("boom")
        fired.append(row.ref_id)

    reminders = tb.services.reminders
    reminders.on("trial", handler)
    soon = reminders.clock.time() + 0.3
    async with tb.db.transaction() as tx:
        for ref in (1, 2):
            await reminders.add(tx, "trial", ref, "x", soon)
        await reminders.add(tx, "trial", 3, "x", soon + 3600)  # the next timer's row

    async def settled() -> bool:
        return (await statuses(tb, "trial")).get(2) == "done"

    await wait_for(settled)
    assert await statuses(tb, "trial") == {1: "failed", 2: "done", 3: "pending"}
    assert fired == [2]
    await asyncio.sleep(0.1)
    left = armed_in(tb)
    assert left is not None and 3500 < left <= 3600  # re-armed on the next pending row


async def test_failing_transaction_marks_only_its_row(
    tb: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def handler(conn: Conn, row: Reminder) -> None:
        await tb.services.outbox.add(conn, 777, "hello", ref=f"trial:{row.ref_id}")

    real_claim, real_claim_many = reminder_repo.claim, reminder_repo.claim_many
    bad: set[int] = set()

    async def claim(conn: Conn, reminder_id: int, status: str, now: float) -> bool:
        if reminder_id in bad:  # outside the handler's savepoint: the whole batch rolls back
            raise RuntimeError("claim failed")
        return await real_claim(conn, reminder_id, status, now)

    async def claim_many(conn: Conn, ids: list[int], status: str, now: float) -> set[int]:
        if bad & set(ids):  # the batch's one claim: the whole batch rolls back
            raise RuntimeError("claim failed")
        return await real_claim_many(conn, ids, status, now)

    monkeypatch.setattr(reminder_repo, "claim", claim)
    monkeypatch.setattr(reminder_repo, "claim_many", claim_many)
    reminders = tb.services.reminders
    reminders.on("trial", handler)
    soon = reminders.clock.time() + 0.5
    async with tb.db.transaction() as tx:
        for ref in (1, 2, 3):
            await reminders.add(tx, "trial", ref, "x", soon)
    rows = await tb.db.fetchall("SELECT id, ref_id FROM reminders WHERE kind = 'trial'")
    bad.add(next(r["id"] for r in rows if r["ref_id"] == 2))

    async def settled() -> bool:
        return "pending" not in (await statuses(tb, "trial")).values()

    await wait_for(settled)  # the real timer fires them
    assert await statuses(tb, "trial") == {1: "done", 2: "failed", 3: "done"}
    queued = await tb.db.fetchall("SELECT ref FROM outbox WHERE ref LIKE 'trial:%' ORDER BY ref")
    assert [r["ref"] for r in queued] == ["trial:1", "trial:3"]  # the rolled-back batch: nothing
    async with tb.db.transaction() as tx:  # the writer is usable afterwards
        await reminders.add(tx, "trial", 4, "x", soon + 7200)
    await asyncio.sleep(0.2)
    left = armed_in(tb)
    assert left is not None and 3500 < left <= timer.MAX_SLEEP  # the hourly look, re-armed


async def test_tick_rearms_when_firing_itself_fails(
    tb: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    reminders = tb.services.reminders

    async def broken(batch: int = 200) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(reminders, "fire_due", broken)
    async with tb.db.transaction() as tx:  # a row due now: without the retry delay, a hot loop
        await reminders.add(tx, "trial", 1, "x", reminders.clock.time() - 1)
    context = type("Ctx", (), {"application": tb.app})()
    await timer.tick(context)  # type: ignore[arg-type]
    left = armed_in(tb)
    assert left is not None and timer.RETRY_DELAY - 2 < left <= timer.RETRY_DELAY
    assert await statuses(tb, "trial") == {1: "pending"}  # waiting, with a timer on it
