"""kill -9 of the bot process in the middle of an announcement and of a reminder burst.

The emulator runs here and is served over HTTP; the bot is `botproc.py` in a child process.
After the kill a new process starts on the same database and must finish the work: every
message delivered, a duplicate only for a message Telegram had accepted whose outbox row was
not yet marked sent (the sends in flight, at most 64, plus outcomes not yet written: the
sender writes them in ~50 ms batches), no reminder fired twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.faults.conftest import (
    SUPERUSER,
    accepted_but_pending,
    bound_world,
    branch_tree,
    codes_of,
    has_button,
    kill_and_settle,
    one_copy_each,
    remind_secretaries,
    sends,
    served,
    sql,
    tree,
    wait_for,
)

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

MAX_IN_FLIGHT = 64  # bot/gateway/sender.py Sender(max_in_flight=64)


async def test_kill_9_during_a_500_chat_announcement(tmp_path: Path) -> None:
    chats = 500
    async with served(tmp_path, rate=200) as (em, db, bot):
        boss = em.add_user("晓明", user_id=SUPERUSER)
        shape = tree(chats)
        groups = await bound_world(em, db, shape, codes_of(shape), [boss["id"]])
        assert len(groups) == chats

        await bot.start()
        em.text(boss, groups["d"], "/announce 周六上午9点各支部组织志愿者到社区集合 FAULT-DRILL")
        copy = has_button("ann:")
        # some, but not all, copies accepted: kill -9 now
        await wait_for(
            lambda: len(sends(em, copy)) >= 60, 90, "announcement copies", bot, interval=0.002
        )
        await kill_and_settle(bot)
        got = sends(em, copy)
        at_kill = len(got)
        in_flight = accepted_but_pending(em, db, "announce:%", got)
        status = dict(
            sql(
                db,
                "SELECT status, COUNT(*) FROM outbox WHERE ref LIKE 'announce:%' GROUP BY status",
            )
        )
        print(
            f"\nkill -9 with {at_kill}/{chats} chats served; outbox {status}; "
            f"accepted but still pending: {in_flight}"
        )
        assert 0 < at_kill < chats, "the kill must land mid-announcement"
        assert not em.pending_updates, "the /announce update was acknowledged before the kill"

        await bot.start()
        await wait_for(lambda: len(sends(em, copy)) >= chats, 180, "every chat's copy", bot)
        await wait_for(
            lambda: not sql(db, "SELECT 1 FROM outbox WHERE status = 'pending'"),
            60,
            "outbox drained",
            bot,
        )
        await asyncio.sleep(0.2)
        chat_ids = [g["id"] for g in groups.values()]
        label = f"after restart (max in flight {MAX_IN_FLIGHT})"
        one_copy_each(em, db, copy, chat_ids, in_flight, label)
        # one outbox row per chat, all sent
        assert sql(
            db, "SELECT status, COUNT(*) FROM outbox WHERE ref = 'announce:1' GROUP BY status"
        ) == [("sent", chats)]
        assert bot.alive()


async def test_kill_9_during_a_reminder_burst(tmp_path: Path) -> None:
    count = 300
    # a slower overall rate stretches the burst over several seconds
    async with served(tmp_path, rate=40) as (em, db, bot):
        em.add_user("晓明", user_id=SUPERUSER)
        # due a few seconds from now, spread over ~6 s: some fire before the kill, some after
        secretaries = await remind_secretaries(
            em, db, count, lambda now, i: now + 6.0 + i * 6.0 / count, branch_tree(count)
        )
        people = set(secretaries.values())

        def reminded() -> dict[int, int]:
            return {c: n for c, n in sends(em, lambda s: s.chat_id in people).items()}

        await bot.start()
        await wait_for(
            lambda: len(reminded()) >= count // 3,
            90,
            "a third of the reminders",
            bot,
            interval=0.002,
        )
        await kill_and_settle(bot)
        got = reminded()
        in_flight = accepted_but_pending(em, db, "campaign:%", got)
        snapshot = {
            rid: (status, fired)
            for rid, status, fired in sql(
                db, "SELECT id, status, fired_at FROM reminders WHERE kind = 'campaign'"
            )
        }
        states = dict(sql(db, "SELECT status, COUNT(*) FROM reminders GROUP BY status"))
        queued = dict(sql(db, "SELECT status, COUNT(*) FROM outbox GROUP BY status"))
        print(
            f"\nkill -9 with {len(got)}/{count} reminders delivered; reminders {states}; "
            f"outbox {queued}; accepted but still pending: {in_flight}"
        )
        assert 0 < len(got) < count, "the kill must land mid-burst"

        await bot.start()
        await wait_for(lambda: len(reminded()) >= count, 180, "every reminder delivered", bot)
        await wait_for(
            lambda: (
                not sql(
                    db,
                    "SELECT 1 FROM reminders WHERE status = 'pending' UNION ALL"
                    " SELECT 1 FROM outbox WHERE status = 'pending'",
                )
            ),
            60,
            "all settled",
            bot,
        )
        await asyncio.sleep(0.2)
        got = reminded()
        duplicates = sum(n - 1 for n in got.values())
        print(
            f"after restart: {len(got)}/{count} secretaries reminded; duplicates {duplicates} "
            f"(bound: {in_flight} accepted-but-pending at the kill)"
        )
        assert set(got) == people
        assert duplicates <= in_flight
        # every reminder row claimed exactly once, as 'done'; the ones done before the kill kept
        # their claim (not fired again by the new process)
        rows = sql(db, "SELECT id, status, fired_at FROM reminders WHERE kind = 'campaign'")
        assert len(rows) == count and {status for _, status, _ in rows} == {"done"}
        for rid, _status, fired in rows:
            if snapshot[rid][0] == "done":
                assert fired == snapshot[rid][1], f"reminder {rid} was claimed twice"
        # one outbox message per reminder, each sent
        per_campaign = dict(
            sql(db, "SELECT ref, COUNT(*) FROM outbox WHERE ref LIKE 'campaign:%' GROUP BY ref")
        )
        assert per_campaign == {f"campaign:{c}": 1 for c in secretaries}
        assert sql(db, "SELECT status, COUNT(*) FROM outbox GROUP BY status") == [("sent", count)]
        assert bot.alive()
