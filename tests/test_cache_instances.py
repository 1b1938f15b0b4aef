"""Several instances on one PostgreSQL database keep their caches in step (LISTEN/NOTIFY).

A write committed through instance A invalidates what instance B holds within moments, not
after the cache's 60 s expiry; a lost listening connection empties B's cache and B reads the
database until it listens again. (On SQLite nothing is sent: `notify` and `listen` do nothing.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.demo.worlds import in_process, settings_for
from bot.domain.cache import CHANNEL, MISSING, Cache, cache_of
from bot.emulator import Emulator
from storage.base import NOTIFY_LIMIT, batches, split
from storage.db import open_database
from storage.pg_listen import APPLICATION_NAME
from tests.conftest import Harness, build_tower
from tests.pg import Cluster

#: far below the cache's 60 s expiry, generous for a loaded machine
TIMEOUT = 15.0


async def until(check: Callable[[], Awaitable[bool]], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
async def pg_url(pg_cluster: Cluster) -> AsyncIterator[str]:
    url = await pg_cluster.create("cache")
    try:
        yield url
    finally:
        await pg_cluster.drop(url)


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[Harness, Harness]]:
    """Two running bots (instances A and B) on one PostgreSQL database and one emulator."""
    em = Emulator(per_chat_burst=1000)
    ctxs, harnesses = [], []
    try:
        for _ in range(2):
            cfg = settings_for(em, pg_url, flood_limit=10_000)
            ctx = in_process(em, cfg)
            harnesses.append(Harness(em, await ctx.__aenter__(), cfg))
            ctxs.append(ctx)
        yield harnesses[0], harnesses[1]
    finally:
        for ctx in reversed(ctxs):
            await ctx.__aexit__(None, None, None)


async def me(tb: Harness, user: dict) -> str:
    return (await tb.send(user, None, "/me"))[-1].text or ""


async def shows(tb: Harness, user: dict, text: str) -> bool:
    return text in await me(tb, user)


async def test_a_write_through_one_instance_shows_on_the_other(
    two: tuple[Harness, Harness],
) -> None:
    a, b = two
    t = await build_tower(a)
    em, boss, member, chat_a, chat_b = a.em, t["boss"], t["member_a"], t["chat_a"], t["chat_b"]
    # B holds member_a's identity, the orgs and chat_b's binding
    assert "陈小红" in await me(b, member) and "团干部" not in await me(b, member)
    assert (await b.services.access.org_of_chat(chat_b["id"])).code == "yanshan.jiedao"
    cache = cache_of(b.db)
    assert cache.get("identity", member["id"]) is not MISSING
    assert cache.get("chat", chat_b["id"]) is not MISSING

    # a role granted through A (user:<id>)
    mine = em.text(member, chat_a, "me")["message"]
    await a.send(boss, chat_a, "/role staff", reply_to=mine)
    await until(lambda: shows(b, member, "大埠乡团委 团干部"))

    # an org renamed through A (orgs:*)
    await a.services.tower.import_tree(
        {
            "code": "yanshan",
            "name": "雁山区团委",
            "children": [{"code": "yanshan.dabu", "name": "大埠新团委"}],
        }
    )
    await until(lambda: shows(b, member, "大埠新团委"))

    # a chat unbound through A (chat:<id>)
    await a.send(boss, chat_b, "/unbind")

    async def unbound() -> bool:
        try:
            await b.services.access.org_of_chat(chat_b["id"])
        except Exception as exc:  # noqa: BLE001 - the refusal names the reason
            return "err_chat_not_bound" in str(exc)
        return False

    await until(unbound)


async def terminate_listeners(db: Any) -> int:
    rows = await db.fetchall(
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity"
        " WHERE application_name = ? AND datname = current_database()",
        (APPLICATION_NAME,),
    )
    return len(rows)


async def test_a_lost_listener_empties_the_cache_until_it_listens_again(
    two: tuple[Harness, Harness],
) -> None:
    a, b = two
    t = await build_tower(a)
    em, boss, member, chat_a = a.em, t["boss"], t["member_a"], t["chat_a"]
    assert "陈小红" in await me(b, member)
    # a write nobody announces (as if its NOTIFY were lost): B keeps serving its copy
    async with a.db.transaction() as tx:
        await tx.execute(
            "UPDATE people SET real_name = ? WHERE user_id = ?", ("陈小绿", member["id"])
        )
    assert "陈小红" in await me(b, member)

    cache = cache_of(b.db)
    assert await terminate_listeners(a.db) == 2  # A's and B's listening connections
    # B reads the database now, not its copy (messages may have been missed)
    await until(lambda: shows(b, member, "陈小绿"))

    async def listening_again() -> bool:
        rows = await a.db.fetchall(
            "SELECT pid FROM pg_stat_activity WHERE application_name = ?"
            " AND datname = current_database()",
            (APPLICATION_NAME,),
        )
        return len(rows) == 2 and cache.live

    await until(listening_again)
    assert await me(b, member) and cache.get("identity", member["id"]) is not MISSING
    # and what A changes reaches B through the new connection
    mine = em.text(member, chat_a, "me")["message"]
    await a.send(boss, chat_a, "/role staff", reply_to=mine)
    await until(lambda: shows(b, member, "大埠乡团委 团干部"))


async def test_only_committed_messages_arrive_batched(pg_url: str) -> None:
    """Storage alone: a rolled-back transaction sends nothing; many messages of one
    transaction arrive in payloads under the limit; the writer's own are not delivered."""
    sender = await open_database(pg_url).connect()
    receiver = await open_database(pg_url).connect()
    got: list[str] = []
    states: list[bool] = []
    try:
        await receiver.listen(CHANNEL, got.append, states.append)
        own: list[str] = []
        await sender.listen(CHANNEL, own.append, lambda _: None)
        assert states == [True]
        with pytest.raises(RuntimeError):
            async with sender.transaction():
                sender.notify(CHANNEL, "identity:1")
                raise RuntimeError("rolled back")
        many = [f"identity:{n}" for n in range(3000)]
        async with sender.transaction():
            for message in [*many, "identity:7"]:
                sender.notify(CHANNEL, message)

        async def arrived() -> bool:
            return len(got) >= len(many)

        await until(arrived)
        await asyncio.sleep(0.2)
        assert got == many and own == []
    finally:
        await sender.close()
        await receiver.close()


def test_batches_stay_under_the_payload_limit() -> None:
    messages = [f"upcoming:{n}" for n in range(5000)]
    payloads = batches([*messages, *messages[:10]])
    assert len(payloads) > 1
    assert all(len(p.encode()) < NOTIFY_LIMIT for p in payloads)
    assert [m for p in payloads for m in split(p)] == messages
    with pytest.raises(ValueError):
        batches(["a\nb"])


def test_what_other_instances_send_invalidates() -> None:
    cache = Cache()

    def fill() -> None:
        for kind in ("identity", "flow", "chat", "root", "hours", "upcoming"):
            for key in (1, 2):
                cache.put(kind, key, f"{kind}{key}", cache.stamp(kind))  # type: ignore[arg-type]

    fill()
    cache.apply("user:1")
    assert [cache.get(kind, 1) for kind in ("identity", "flow", "hours", "upcoming")] == [
        MISSING
    ] * 4
    assert cache.get("chat", 1) == "chat1" and cache.get("identity", 2) == "identity2"
    cache.apply("chat:2")
    assert cache.get("chat", 2) is MISSING and cache.get("identity", 2) == "identity2"
    cache.apply("hours:*")
    assert cache.keys("hours") == []
    cache.apply("orgs:*")
    assert cache.keys("identity") == cache.keys("chat") == cache.keys("root") == []
    assert cache.keys("flow") == [2]
    cache.apply("nonsense")
    assert not any(cache.keys(kind) for kind in ("flow", "upcoming"))
    # the feed stops: nothing is served nor stored until it runs again (and starts empty)
    fill()
    cache.following(False)
    cache.put("flow", 3, "x", cache.stamp("flow"))
    assert cache.get("flow", 1) is MISSING and cache.get("flow", 3) is MISSING
    stamp = cache.stamp("flow")
    cache.following(True)
    cache.put("flow", 4, "read before it ran again", stamp)
    assert cache.get("flow", 4) is MISSING
    cache.put("flow", 5, "y", cache.stamp("flow"))
    assert cache.get("flow", 5) == "y"
