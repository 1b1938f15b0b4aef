"""The webhook inbox on a temporary database (each engine): store once, list pending in order, prune."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.domain.clock import FakeClock
from bot.domain.inbox import Inbox
from storage.db import open_database

START = 1_795_140_300.0


@pytest.fixture
async def inbox(db_target: str) -> AsyncIterator[Inbox]:
    db = await open_database(db_target).connect()
    try:
        yield Inbox(db, FakeClock(START), keep_handled=3600.0)
    finally:
        await db.close()


async def test_an_update_id_is_stored_once(inbox: Inbox) -> None:
    assert await inbox.accept(10, -100, '{"update_id": 10}')
    assert not await inbox.accept(10, -100, '{"update_id": 10, "changed": true}')
    [row] = await inbox.pending()
    assert (row.update_id, row.chat_key, row.body) == (10, -100, '{"update_id": 10}')
    assert row.received_at == START and row.handled_at is None


async def test_pending_in_update_id_order_skipping_dispatched(inbox: Inbox) -> None:
    for update_id in (7, 3, 9, 5):
        await inbox.accept(update_id, update_id % 2, "{}")
    assert [r.update_id for r in await inbox.pending()] == [3, 5, 7, 9]
    assert [r.update_id for r in await inbox.pending(skip={3, 7}, limit=1)] == [5]
    await inbox.mark_handled(5)
    assert [r.update_id for r in await inbox.pending(skip={3})] == [7, 9]
    figures = await inbox.figures()
    assert figures.pending == 3 and figures.last_received_at == START


async def test_handled_rows_are_pruned_after_the_keep_time(inbox: Inbox) -> None:
    clock = inbox.clock
    assert isinstance(clock, FakeClock)
    await inbox.accept(1, 1, "{}")
    await inbox.accept(2, 1, "{}")
    await inbox.mark_handled(1)
    clock.advance(3599)
    assert await inbox.prune() == 0
    clock.advance(2)
    assert await inbox.prune() == 1  # the unhandled row stays, however old
    assert [r.update_id for r in await inbox.pending()] == [2]
    assert not await inbox.accept(2, 1, "{}")


async def test_empty_inbox_figures(inbox: Inbox) -> None:
    figures = await inbox.figures()
    assert figures.pending == 0 and figures.last_received_at is None


async def test_two_instances_keep_one_chats_order_and_adopt_a_stopped_ones_rows(
    inbox: Inbox,
) -> None:
    """Rows belong to the instance that accepted them; one chat's order holds across both."""
    from bot.domain.instances import Instances

    wall = [START]
    db = inbox.db
    a_live = Instances(db, mode="webhook", ttl=15.0, wall=lambda: wall[0])
    b_live = Instances(db, mode="webhook", ttl=15.0, wall=lambda: wall[0])
    a = Inbox(db, inbox.clock, owner=a_live.id, ttl=15.0, wall=lambda: wall[0])
    b = Inbox(db, inbox.clock, owner=b_live.id, ttl=15.0, wall=lambda: wall[0])
    await a_live.beat()
    await b_live.beat()
    assert await a.accept(10, -1, "{}")  # chat -1: first on A
    assert await b.accept(11, -1, "{}")  # then on B: waits for A's
    assert await b.accept(12, -2, "{}")  # another chat: free
    assert [r.update_id for r in await b.pending()] == [12] and b.blocked
    assert [r.update_id for r in await a.pending()] == [10] and not a.blocked
    await a.mark_handled(10)
    assert [r.update_id for r in await b.pending(skip={12})] == [11] and not b.blocked
    # A takes one more and stops beating; while its heartbeat is fresh B leaves the row alone
    assert await a.accept(13, -1, "{}")
    assert await b.adopt() == 0
    wall[0] += 16.0
    await b_live.beat()
    assert await b.adopt() == 1
    assert [r.update_id for r in await b.pending(skip={11, 12})] == [13]
    assert await a.pending() == []
