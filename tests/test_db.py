"""Storage: transaction() under cancellation."""

import asyncio

from storage.db import Database


async def test_cancelled_begin_leaves_no_transaction(tmp_path):
    db = await Database(tmp_path / "c.sqlite3").connect()
    try:
        for _ in range(30):
            async def writer():
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO kv(key, value) VALUES ('a', 'b') ON CONFLICT(key) DO NOTHING")
            task = asyncio.ensure_future(writer())
            await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            async with db.transaction() as tx:  # must not fail: nothing left open
                await tx.execute("SELECT 1")
    finally:
        await db.close()
