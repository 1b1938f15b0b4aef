"""Three webhook instances on one database behind a round-robin load balancer, one killed.

Each instance is `towerbot run` (webhook mode) in its own process, listening on its own port;
a small load balancer here forwards Telegram's POSTs to them in turn (a dead one answers 502
and Telegram tries again). Mid-announcement the instance that sends the outbox is killed with
kill -9: a standby takes the sender lease when it expires and finishes, every chat gets its
copy, duplicates are no more than the messages in flight; one chat's updates are answered in
order although they land on different instances; reminders due meanwhile fire once each.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.emulator.balancer import Balancer, free_port
from tests.faults.conftest import (
    SUPERUSER,
    WebhookBot,
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
    wait_for,
)

# each storage engine (tests/conftest.py): three processes on one SQLite file, or one PostgreSQL
pytestmark = pytest.mark.usefixtures("engine")

LEASE = 2  # seconds: a killed sender's lease expires quickly
CHATS = 300


def sender_pid(db: Path) -> int | None:
    rows = sql(db, "SELECT owner FROM leases WHERE name = 'sender'")
    return int(rows[0][0].split(":")[-2]) if rows else None


async def test_three_instances_one_killed_mid_announcement(tmp_path: Path) -> None:
    async with served(tmp_path) as (em, db, _unused):
        boss = em.add_user("晓明", user_id=SUPERUSER)
        shape = branch_tree(CHATS - 1)  # the root and its branches: one chat each
        groups = await bound_world(em, db, shape, codes_of(shape), [boss["id"]])
        secretaries = await remind_secretaries(em, db, 30, lambda now, i: now + 25.0 + i * 0.2)
        ports = [free_port() for _ in range(3)]
        async with Balancer(ports).running() as lb:
            bots = [
                WebhookBot(
                    em,
                    db,
                    tmp_path / f"i{n}",
                    port=port,
                    public=lb.url,
                    settings={"rate": 200, "lease_seconds": LEASE},
                )
                for n, port in enumerate(ports)
            ]
            try:
                for bot in bots:
                    await bot.start()
                await wait_for(lambda: sender_pid(db) is not None, 30, "a sender elected")
                ids = {row[0] for row in sql(db, "SELECT id FROM instances")}
                assert len(ids) == 3, ids
                leader = next(b for b in bots if b.pid == sender_pid(db))

                # one chat's updates, round-robin over the instances, answered in order
                user = em.add_user("小明", language_code="en")
                for text in ("/start", "/help", "/me", "/help", "/me", "/help"):
                    em.text(user, None, text)
                await wait_for(lambda: len(em.messages_to(user)) >= 6, 60, "six answers")
                answers = [m.text or "" for m in em.messages_to(user)][:6]
                assert answers[1] == answers[3] == answers[5] and answers[2] == answers[4]
                assert answers[1] != answers[2] and answers[0] not in answers[1:]
                assert len(set(lb.served)) == 3, "the deliveries went to every instance"

                em.text(boss, groups["d"], "/announce 周六上午9点各支部组织志愿者到社区集合 MULTI")
                copy = has_button("ann:")
                await wait_for(lambda: len(sends(em, copy)) >= 60, 90, "copies", interval=0.002)
                await kill_and_settle(leader)
                got = sends(em, copy)
                in_flight = accepted_but_pending(em, db, "announce:%", got)
                at_kill = len(got)
                assert 0 < at_kill < CHATS, "the kill must land mid-announcement"

                await wait_for(lambda: len(sends(em, copy)) >= CHATS, 120, "every copy")
                await wait_for(lambda: sender_pid(db) not in (None, leader.pid), 30, "a new sender")
                people = set(secretaries.values())
                await wait_for(
                    lambda: set(sends(em, lambda s: s.chat_id in people)) == people,
                    90,
                    "every reminder",
                )
                await wait_for(
                    lambda: not sql(db, "SELECT 1 FROM outbox WHERE status = 'pending'"),
                    60,
                    "outbox drained",
                )
                await asyncio.sleep(0.3)
                per_instance = [lb.served.count(i) for i in range(3)]
                label = (
                    f"3 instances, sender killed at {at_kill}/{CHATS}; deliveries {per_instance}"
                )
                chat_ids = [g["id"] for g in groups.values()]
                one_copy_each(em, db, copy, chat_ids, in_flight, label)
                reminded = sends(em, lambda s: s.chat_id in people)
                assert all(n == 1 for n in reminded.values()), reminded
                rows = sql(db, "SELECT status FROM reminders WHERE kind = 'campaign'")
                assert {s for (s,) in rows} == {"done"} and len(rows) == 30
                assert all(b.alive() for b in bots if b is not leader)
            finally:
                for bot in bots:
                    bot.kill()
