"""Several instances on one database: one sends the outbox, a standby takes over.

Two started Applications share one database file and one emulator (as two webhook instances
behind a load balancer share one database). Only the holder of the 'sender' lease sends; a
message queued by the other instance is still sent exactly once; when the holder stops (or
dies without a word), the standby takes the lease and sends what is left.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bot.domain.instances import status_of
from bot.emulator import Emulator
from tests.conftest import Harness, start_harness

TTL = 1.0  # the shortest lease the settings allow: a dead holder's lease expires after 1 s


async def two_instances(tmp_path: Any) -> tuple[Emulator, list[tuple[Any, Harness]]]:
    em = Emulator(per_chat_burst=20)
    first = await start_harness(tmp_path, em=em, lease_seconds=TTL)
    second = await start_harness(tmp_path, em=em, lease_seconds=TTL)
    return em, [first, second]


def texts_to(em: Emulator, chat_id: int) -> list[str]:
    return [s.text or "" for s in em.messages_to(chat_id)]


async def until(check: Any, timeout: float = 10.0) -> None:
    """Wait for `check()` to hold (the standby notices on its next renewal)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_one_sender_and_a_standby_that_takes_over_on_a_clean_stop(tmp_path):
    em, [(ctx_a, a), (ctx_b, b)] = await two_instances(tmp_path)
    try:
        lead_a, lead_b = a.services.leader, b.services.leader
        assert lead_a is not None and lead_b is not None
        assert lead_a.holding and not lead_b.holding
        view = await status_of(b.services.db)
        assert view["sender"] == lead_a.instances.id
        assert [i["id"] for i in view["instances"]] == [lead_a.instances.id, lead_b.instances.id]
        assert view["instances"][0]["holds"] == ["sender"] and view["instances"][1]["holds"] == []

        group = em.add_group("团支部群")
        # queued by the standby's services, sent by the sender on the other instance
        await b.services.outbox.send(group["id"], "第一条")
        a.services.outbox.poke()
        await until(lambda: "第一条" in texts_to(em, group["id"]))
        await ctx_a.__aexit__(None, None, None)  # a clean stop gives the lease up
        await until(lambda: lead_b.holding, timeout=3 * TTL + 5)
        assert (await status_of(b.services.db))["sender"] == lead_b.instances.id
        await b.services.outbox.send(group["id"], "第二条")
        assert await b.drain()
        assert texts_to(em, group["id"]).count("第一条") == 1
        assert texts_to(em, group["id"]).count("第二条") == 1
        ids = [i["id"] for i in (await status_of(b.services.db))["instances"]]
        assert ids == [lead_b.instances.id]  # the stopped instance removed itself
    finally:
        await ctx_b.__aexit__(None, None, None)


async def test_a_dead_holders_lease_expires_and_the_standby_sends_the_rest(tmp_path):
    em, [(ctx_a, a), (ctx_b, b)] = await two_instances(tmp_path)
    try:
        lead_a, lead_b = a.services.leader, b.services.leader
        assert lead_a is not None and lead_b is not None and lead_a.holding
        # "kill -9": the holder's renewals and sending stop, nothing is given up
        assert lead_a._task is not None
        lead_a._task.cancel()
        await a.services.sender.stop() if a.services.sender else None
        group = em.add_group("团支部群")
        await b.services.outbox.send(group["id"], "无人发送时排队")
        await asyncio.sleep(0.3)
        assert "无人发送时排队" not in texts_to(em, group["id"])  # the lease still looks held
        await until(lambda: lead_b.holding, timeout=3 * TTL + 5)
        assert await b.drain()
        assert texts_to(em, group["id"]).count("无人发送时排队") == 1
        view = await status_of(b.services.db)
        assert view["sender"] == lead_b.instances.id
        assert lead_a.instances.id in [i["id"] for i in view["instances"]]  # silent, not gone
    finally:
        await ctx_b.__aexit__(None, None, None)
        await ctx_a.__aexit__(None, None, None)


async def test_a_restart_on_the_same_machine_takes_over_at_once(tmp_path):
    """A crashed instance's lease and rows pass to its restart without waiting for expiry."""
    import os
    import sys

    from bot.domain.instances import SENDER, Instances
    from storage import instances as repo

    em = Emulator(per_chat_burst=20)
    ctx, tb = await start_harness(tmp_path, em=em, lease_seconds=600)  # would wait 10 min
    try:
        db, me = tb.services.db, tb.services.leader
        assert me is not None and me.holding
        # a process that ran here before this one and is gone now, holding the sender lease
        gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await gone.wait()  # its pid is free now
        ghost = Instances(db, mode="webhook", ttl=600, wall=lambda: me.instances.started_at - 5)
        ghost.id, ghost_pid = f"{ghost.host}:{gone.pid}:dead", gone.pid
        async with db.transaction() as tx:
            await repo.gone(tx, me.instances.id)
            await repo.seen(
                tx,
                repo.InstanceRow(
                    id=ghost.id,
                    host=ghost.host,
                    pid=ghost_pid,
                    mode="webhook",
                    started_at=ghost.wall(),
                    seen_at=ghost.wall(),
                ),
            )
            assert await repo.claim(tx, SENDER, ghost.id, ghost.wall(), 600)
        assert not await me.instances.claim(SENDER)  # held by the dead one, for 10 minutes
        # a live neighbour (this very process, under another id) is left alone
        async with db.transaction() as tx:
            await repo.seen(
                tx,
                repo.InstanceRow(
                    id="here:alive",
                    host=ghost.host,
                    pid=os.getpid(),
                    mode="webhook",
                    started_at=0.0,
                    seen_at=0.0,
                ),
            )
        assert await me.instances.clear_dead_neighbours() == [ghost.id]
        assert await me.instances.claim(SENDER)
        ids = [i["id"] for i in (await status_of(db))["instances"]]
        assert ghost.id not in ids and "here:alive" in ids
    finally:
        await ctx.__aexit__(None, None, None)


async def test_capacity_holds_under_a_signup_storm_spread_over_two_instances(
    engine: str, tmp_path: Path
) -> None:
    """Presses on one activity, delivered alternately to two instances on one database, never
    confirm more than the capacity (on PostgreSQL the decision locks the activity's row)."""
    from storage import activities as act_repo
    from tests.conftest import build_tower
    from tests.test_activities import create, register_many, when

    em = Emulator(per_chat_burst=1000)
    ctx_a, a = await start_harness(tmp_path, em=em)
    ctx_b, b = await start_harness(tmp_path, em=em)
    try:
        t = await build_tower(a)
        act_id, card = await create(
            a, t["boss"], t["chat_a"], f"义诊 | {when(86400)[0]} | 2 | 10 | 村委"
        )
        people = await register_many(a, 40, "yanshan.dabu", "P")
        stored = em.message(card.chat_id, card.message_id)
        presses = [em.press(p, stored, f"act:{act_id}:join") for p in people]
        await asyncio.gather(
            *(em.deliver((a, b)[i % 2].app, update) for i, update in enumerate(presses))
        )
        assert await act_repo.recount(a.db.reader, act_id) == (10, 30)
        activity = await act_repo.get(b.db.reader, act_id)
        assert activity is not None and (activity.confirmed, activity.waiting) == (10, 30)
    finally:
        await ctx_b.__aexit__(None, None, None)
        await ctx_a.__aexit__(None, None, None)
