"""Storage: transaction() under cancellation and failing commits, on both engines."""

import asyncio

from storage.db import open_database


async def test_cancelled_begin_leaves_no_transaction(db_target):
    db = await open_database(db_target).connect()
    try:
        for _ in range(30):

            async def writer():
                async with db.transaction() as tx:
                    await tx.execute(
                        "INSERT INTO kv(key, value) VALUES ('a', 'b') ON CONFLICT(key) DO NOTHING"
                    )

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


async def test_failing_commit_rolls_back_and_the_writer_stays_usable(db_target):
    """A deferred foreign key fails at COMMIT: nothing is kept, no hook runs, the next works."""
    import sqlite3

    import pytest

    integrity: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    if db_target.startswith("postgresql"):
        import asyncpg

        integrity = (asyncpg.IntegrityConstraintViolationError,)
    db = await open_database(db_target).connect()
    ran = []
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE p(id INTEGER PRIMARY KEY)")
            await tx.execute(
                "CREATE TABLE c(pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)"
            )
        with pytest.raises(integrity):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO c(pid) VALUES (99)")
                await tx.execute("INSERT INTO kv(key, value) VALUES ('lost', 'x')")
                db.on_commit(lambda: ran.append("hook"))
        assert ran == []
        async with db.transaction() as tx:  # usable, and the failed one left nothing
            await tx.execute("INSERT INTO p(id) VALUES (1)")
            await tx.execute("INSERT INTO c(pid) VALUES (1)")
            db.on_commit(lambda: ran.append("ok"))
        assert ran == ["ok"]
        assert await db.fetchone("SELECT value FROM kv WHERE key = 'lost'") is None
        assert (await db.fetchone("SELECT COUNT(*) AS n FROM c"))["n"] == 1
    finally:
        await db.close()


async def test_commit_raising_in_the_driver_rolls_back(db_target, monkeypatch):
    """COMMIT itself raising (a monkeypatched execute) leaves no transaction open."""
    import pytest

    db = await open_database(db_target).connect()
    writer = db._writer
    real = writer.execute
    calls = {"n": 0}

    def execute(sql, *args):
        if sql == "COMMIT" and calls["n"] == 0:
            calls["n"] += 1
            raise RuntimeError("disk I/O error")
        return real(sql, *args)

    monkeypatch.setattr(writer, "execute", execute)
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO kv(key, value) VALUES ('a', '1')")
        assert not writer.in_transaction
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO kv(key, value) VALUES ('b', '2')")
        assert await db.fetchone("SELECT 1 FROM kv WHERE key = 'a'") is None
        assert await db.fetchone("SELECT 1 FROM kv WHERE key = 'b'") is not None
    finally:
        await db.close()
