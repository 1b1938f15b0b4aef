"""The in-memory cache of what every update reads (bot/domain/cache.py): a warm /me does not
touch the database, and every kind of write shows on the very next update."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest

from bot.domain.cache import MISSING, Cache, cache_of
from bot.domain.loader import Loader
from storage import orgs as org_repo
from storage import privacy as privacy_repo
from tests.conftest import Harness, register

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements this task sends to the database (not the background sender's): hops to
    aiosqlite's threads, or statements to PostgreSQL (each goes through `translate`)."""
    import storage.postgres

    task = asyncio.current_task()
    seen: list[str] = []

    def ours() -> bool:  # this test's task, or the identity loader reading for it
        current = asyncio.current_task()
        return current is task or (current is not None and current.get_name() == "identity loader")

    original = aiosqlite.core.Connection._execute
    translate = storage.postgres.translate

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if ours():
            seen.append(str(args[0]) if args and isinstance(args[0], str) else fn.__name__)
        return await original(self, fn, *args, **kwargs)

    def counting_pg(sql: str) -> str:
        if ours():
            seen.append(sql)
        return translate(sql)

    with monkeypatch.context() as patch:
        patch.setattr(aiosqlite.core.Connection, "_execute", counting)
        patch.setattr(storage.postgres, "translate", counting_pg)
        yield seen


async def test_warm_me_makes_no_database_round_trip(
    tower: dict, tb: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = tower["member_a"]
    await tb.send(member, None, "/me")  # warms the cache
    with hops(monkeypatch) as seen:
        sent = await tb.send(member, None, "/me")
    assert "陈小红" in sent[-1].text and "志愿服务时长" in sent[-1].text
    assert seen == [], seen
    # a cold cache reads the identity in one query, then each /me section once (hours,
    # activities, cadre posts and training record)
    cache_of(tb.db).clear()
    with hops(monkeypatch) as seen:
        await tb.send(member, None, "/me")
    assert len(seen) == 4, seen


async def test_registration_shows_on_me(tower: dict, tb: Harness) -> None:
    newcomer = tb.em.add_user("小王", username="xiaowang")
    first = await tb.send(newcomer, None, "/me")
    assert "还没有注册" in first[-1].text
    await register(tb, newcomer, "王小二", "yanshan.dabu")
    after = await tb.send(newcomer, None, "/me")
    assert "王小二" in after[-1].text and "大埠乡团委" in after[-1].text


async def test_lang_answers_in_the_new_language_at_once(tower: dict, tb: Harness) -> None:
    member = tower["member_a"]
    assert "我的信息" in (await tb.send(member, None, "/me"))[-1].text
    await tb.send(member, None, "/lang en")
    assert "My profile" in (await tb.send(member, None, "/me"))[-1].text
    await tb.send(member, None, "/lang zh")
    assert "我的信息" in (await tb.send(member, None, "/me"))[-1].text


async def test_role_grant_and_revoke_authorise_at_once(tower: dict, tb: Harness) -> None:
    em, boss, member, chat_a = tb.em, tower["boss"], tower["member_a"], tower["chat_a"]
    dabu = await org_repo.by_code(tb.db.reader, "yanshan.dabu")
    said = em.text(tower["sec_a"], chat_a, "hi")["message"]
    refused = await tb.send(member, chat_a, "/role secretary", reply_to=said)
    assert "团干部" in refused[0].text  # and member_a's roles are cached now
    mine = em.text(member, chat_a, "me")["message"]
    await tb.send(boss, chat_a, "/role staff", reply_to=mine)
    assert await tb.services.access.role_at(member["id"], dabu) == "staff"
    allowed = await tb.send(member, chat_a, "/role secretary", reply_to=said)
    assert "团干部" not in allowed[0].text
    assert "大埠乡团委 团干部" in (await tb.send(member, None, "/me"))[-1].text
    await tb.send(boss, chat_a, "/role member", reply_to=mine)
    assert await tb.services.access.role_at(member["id"], dabu) is None
    again = await tb.send(member, chat_a, "/role member", reply_to=said)
    assert "团干部" in again[0].text
    assert "团干部" not in (await tb.send(member, None, "/me"))[-1].text


async def test_forgetme_leaves_nothing_in_memory(tower: dict, tb: Harness) -> None:
    member = tower["member_a"]
    uid = member["id"]
    await tb.send(member, None, "/me")
    cache = cache_of(tb.db)
    assert cache.holds(uid)
    await tb.send(member, None, "/forgetme")
    await tb.press(member, tb.em.messages_to(uid)[-1], "forget:y")
    assert not cache.holds(uid)
    held = repr([cache.get(kind, key) for kind in ("identity", "chat") for key in cache.keys(kind)])
    assert "陈小红" not in held and "xiaohong" not in held
    after = await tb.send(member, None, "/me")
    assert "还没有注册" in after[-1].text


async def test_org_of_chat_follows_binding_and_migration(tower: dict, tb: Harness) -> None:
    em, boss, chat_a = tb.em, tower["boss"], tower["chat_a"]
    access = tb.services.access
    assert (await access.org_of_chat(chat_a["id"])).code == "yanshan.dabu"  # cached
    new_chat = em.migrate(chat_a)
    for update in list(em.pending_updates[-2:]):
        await tb.deliver(update)
    assert (await access.org_of_chat(new_chat["id"])).code == "yanshan.dabu"
    with pytest.raises(Exception, match="err_chat_not_bound"):
        await access.org_of_chat(chat_a["id"])
    await tb.send(boss, new_chat, "/unbind")
    unbound = await tb.send(boss, new_chat, "/org")
    assert "尚未绑定" in unbound[0].text
    await tb.send(boss, new_chat, "/bind yanshan.dabu")
    assert (await access.org_of_chat(new_chat["id"])).code == "yanshan.dabu"


async def test_org_rename_shows_on_me(tower: dict, tb: Harness) -> None:
    member = tower["member_a"]
    assert "大埠乡团委" in (await tb.send(member, None, "/me"))[-1].text
    await tb.services.tower.import_tree(
        {
            "code": "yanshan",
            "name": "雁山区团委",
            "children": [{"code": "yanshan.dabu", "name": "大埠新团委"}],
        }
    )
    assert "大埠新团委" in (await tb.send(member, None, "/me"))[-1].text


async def test_rolled_back_write_leaves_the_cache_as_it_was(
    tower: dict, tb: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    em, boss, member, chat_a = tb.em, tower["boss"], tower["member_a"], tower["chat_a"]
    dabu = await org_repo.by_code(tb.db.reader, "yanshan.dabu")
    access = tb.services.access
    assert await access.role_at(member["id"], dabu) is None
    before = cache_of(tb.db).get("identity", member["id"])
    assert before is not MISSING

    async def failing_log(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(privacy_repo, "log", failing_log)  # the grant's audit row fails
    mine = em.text(member, chat_a, "me")["message"]
    await tb.send(boss, chat_a, "/role staff", reply_to=mine)
    monkeypatch.undo()
    assert cache_of(tb.db).get("identity", member["id"]) is before
    assert await access.role_at(member["id"], dabu) is None
    cache_of(tb.db).clear()
    assert await access.role_at(member["id"], dabu) is None  # the database agrees


async def test_hours_and_activities_on_me_follow_writes(tower: dict, tb: Harness) -> None:
    member = tower["member_a"]
    assert "待审核：0 小时" in (await tb.send(member, None, "/me"))[-1].text
    await tb.send(member, None, "/hours 2 打扫社区")
    await tb.drain()
    assert "待审核：2 小时" in (await tb.send(member, None, "/me"))[-1].text


# --- the cache itself -----------------------------------------------------------------------


def test_a_read_that_raced_a_write_is_not_stored() -> None:
    cache = Cache()
    stamp = cache.stamp("identity")  # a read starts
    cache.invalidate("identity", 1)  # a write commits meanwhile
    cache.put("identity", 1, "stale", stamp)
    assert cache.get("identity", 1) is MISSING


def test_a_write_of_another_kind_does_not_spoil_a_read() -> None:
    """A storm of sign-ups invalidates 'upcoming' at every commit; who people are is still kept."""
    cache = Cache()
    stamp = cache.stamp("identity")
    cache.invalidate("upcoming", 1)
    cache.put("identity", 1, "fresh", stamp)
    assert cache.get("identity", 1) == "fresh"


def test_bounded_and_expiring() -> None:
    now = [0.0]
    cache = Cache(size=2, ttl=10, clock=lambda: now[0])
    for key in (1, 2, 3):
        cache.put("flow", key, None, cache.stamp("flow"))
    assert cache.keys("flow") == [2, 3]
    assert cache.get("flow", 2) is None
    now[0] = 11
    assert cache.get("flow", 2) is MISSING and cache.keys("flow") == [3]


# --- every write to a cached table invalidates ----------------------------------------------

#: repository writes that change what the cache holds
WRITERS = {
    "user_repo": {
        "upsert_user",
        "save_person",
        "delete_person",
        "set_role",
        "remove_role",
        "remove_all_roles",
        "set_lang",
        "set_reachable",
        "erase_user",
        "set_flow",
        "clear_flow",
    },
    "chat_repo": {"bind", "take_over", "delete"},
    "org_repo": {"insert", "rename"},
    "hour_repo": {"insert", "decide", "delete_undecided_of", "repoint_user"},
    "hours_repo": {"insert"},
}
#: modules whose `repo` is one of the above
REPO_OF = {"bot/domain/hours.py": "hour_repo"}
INVALIDATES = {
    "after_commit",
    "user_after_commit",
    "orgs_after_commit",
    "invalidate",
    "invalidate_user",
    "set_flow",
    "clear_flow",
}
#: helpers whose callers invalidate: migrate_chat (Tower.migrated, Outbox.on_migrated), _claim
#: (People.confirm), _import (Tower.import_tree)
EXEMPT = {
    ("bot/domain/outbox.py", "migrate_chat"),
    ("bot/domain/people.py", "_claim"),
    ("bot/domain/tower.py", "_import"),
}


def _calls(node: ast.AST) -> Iterator[tuple[str, str]]:
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            owner = call.func.value
            name = owner.id if isinstance(owner, ast.Name) else ""
            yield name, call.func.attr


def test_every_write_to_a_cached_table_invalidates() -> None:
    missing = []
    for path in sorted((ROOT / "bot" / "domain").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel == "bot/domain/cache.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            calls = list(_calls(fn))
            writes = [
                (owner, name)
                for owner, name in calls
                if name in WRITERS.get(REPO_OF.get(rel, owner) if owner == "repo" else owner, ())
            ]
            names = {name for _, name in calls} | {
                n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
            }
            if writes and not names & INVALIDATES and (rel, fn.name) not in EXEMPT:
                missing.append(f"{rel}:{fn.lineno} {fn.name} writes {writes}")
    assert not missing, "\n".join(missing)


async def test_misses_of_one_loop_turn_are_read_in_one_query() -> None:
    """bot/domain/loader.py: one read for a burst; each waiter its own answer; a failure reaches
    every waiter of its batch; a cancelled waiter leaves the others alone."""
    reads: list[list[int]] = []
    fail = False

    async def read_many(keys: list[int]) -> dict[int, str]:
        reads.append(keys)
        await asyncio.sleep(0)
        if fail:
            raise RuntimeError("database gone")
        return {k: f"v{k}" for k in keys if k % 10}

    loader: Loader[int, str | None] = Loader(read_many, None)
    got = await asyncio.gather(*(loader.load(k) for k in [1, 2, 2, 10, 3]))
    assert got == ["v1", "v2", "v2", None, "v3"]
    assert reads == [[1, 2, 10, 3]]
    # the next turn is a new batch
    assert await loader.load(4) == "v4" and reads[-1] == [4]
    # a cancelled waiter: the others of its batch still get their answers
    doomed = asyncio.ensure_future(loader.load(5))
    kept = asyncio.ensure_future(loader.load(5))
    other = asyncio.ensure_future(loader.load(6))
    await asyncio.sleep(0)
    doomed.cancel()
    assert (await kept, await other) == ("v5", "v6")
    assert doomed.cancelled()
    fail = True
    results = await asyncio.gather(loader.load(7), loader.load(8), return_exceptions=True)
    assert [str(r) for r in results] == ["database gone", "database gone"]
