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

from bot.emulator import Emulator
from tests.conftest import database_target
from tests.faults.conftest import (
    SUPERUSER,
    BotProcess,
    bind_groups,
    codes_of,
    has_button,
    open_services,
    sends,
    sql,
    tree,
    wait_for,
)

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

MAX_IN_FLIGHT = 64  # bot/gateway/sender.py Sender(max_in_flight=64)


def accepted_but_pending(em: Emulator, db: Path, ref_like: str, got: dict[int, int]) -> int:
    """Messages Telegram accepted whose outbox rows were still pending when the bot died."""
    pending = {
        chat
        for (chat,) in sql(
            db, "SELECT chat_id FROM outbox WHERE ref LIKE ? AND status = 'pending'", (ref_like,)
        )
    }
    return sum(1 for chat in pending if got.get(chat, 0) > 0)


async def test_kill_9_during_a_500_chat_announcement(tmp_path: Path) -> None:
    chats = 500
    em = Emulator(global_per_second=None)
    await em.serve()
    db = await database_target(tmp_path, "tower.sqlite3")
    bot = BotProcess(em, db, tmp_path, rate=200)
    try:
        boss = em.add_user("晓明", user_id=SUPERUSER)
        services = await open_services(em, db)
        try:
            shape = tree(chats)
            await services.tower.import_tree(shape)
            groups = await bind_groups(services, em, codes_of(shape), [boss["id"]])
        finally:
            await services.db.close()
        assert len(groups) == chats

        await bot.start()
        em.text(boss, groups["d"], "/announce 周六上午9点各支部组织志愿者到社区集合 FAULT-DRILL")
        copy = has_button("ann:")
        # some, but not all, copies accepted: kill -9 now
        await wait_for(
            lambda: len(sends(em, copy)) >= 60, 90, "announcement copies", bot, interval=0.002
        )
        bot.kill()
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
        got = sends(em, copy)
        duplicates = sum(n - 1 for n in got.values())
        print(
            f"after restart: {len(got)}/{chats} chats got the copy; duplicates {duplicates} "
            f"(bound: {in_flight} accepted-but-pending at the kill, max in flight "
            f"{MAX_IN_FLIGHT})"
        )
        assert set(got) == {g["id"] for g in groups.values()}
        assert duplicates <= in_flight
        # the /announce was handled once: one announcement, one outbox row per chat, all sent
        assert sql(db, "SELECT COUNT(*) FROM announcements") == [(1,)]
        assert sql(
            db, "SELECT status, COUNT(*) FROM outbox WHERE ref = 'announce:1' GROUP BY status"
        ) == [("sent", chats)]
        assert bot.alive()
    finally:
        bot.kill()
        await em.close()


async def test_kill_9_during_a_reminder_burst(tmp_path: Path) -> None:
    count = 300
    em = Emulator(global_per_second=None)
    await em.serve()
    db = await database_target(tmp_path, "tower.sqlite3")
    # a slower overall rate stretches the burst over several seconds
    bot = BotProcess(em, db, tmp_path, rate=40)
    try:
        from storage import campaigns as campaign_repo
        from storage import users as user_repo

        em.add_user("晓明", user_id=SUPERUSER)
        secretaries: dict[int, int] = {}  # campaign id -> secretary's user id
        services = await open_services(em, db)
        try:
            shape = {
                "code": "d",
                "name": "区团委",
                "children": [{"code": f"d.b{i}", "name": f"团支部{i}"} for i in range(count)],
            }
            await services.tower.import_tree(shape)
            root = await services.tower.org_by_code("d")
            now = services.clock.time()
            # due a few seconds from now, spread over ~6 s: some fire before the kill, some after
            first = now + 6.0
            async with services.db.transaction() as tx:
                for i in range(count):
                    org = await services.tower.org_by_code(f"d.b{i}")
                    person = em.add_user(f"书记{i}")
                    em.started.add(person["id"])
                    await user_repo.upsert_user(
                        tx,
                        user_id=person["id"],
                        first_name=person["first_name"],
                        username=None,
                        tg_lang="zh-hans",
                        started=True,
                        now=now,
                    )
                    await user_repo.set_role(
                        tx,
                        org_id=org.id,
                        user_id=person["id"],
                        role="secretary",
                        by=SUPERUSER,
                        now=now,
                    )
                    campaign = await campaign_repo.insert(
                        tx,
                        org_id=root.id,
                        title=f"述职{i}",
                        due_at=now + 7 * 86400,
                        scope="children",
                        created_by=SUPERUSER,
                        now=now,
                        owing=[org.id],
                    )
                    added = await services.reminders.add(
                        tx, "campaign", campaign.id, "before:604800", first + i * 6.0 / count
                    )
                    assert added
                    secretaries[campaign.id] = person["id"]
        finally:
            await services.db.close()
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
        bot.kill()
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
    finally:
        bot.kill()
        await em.close()
