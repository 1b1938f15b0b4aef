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
