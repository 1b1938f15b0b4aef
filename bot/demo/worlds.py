"""Synthetic worlds shared by the demo, the tests and the benchmarks.

Towers of orgs (a hand-made district or a generated 4-level tree), registered people, bulk hour
entries, and the bot wired to the Bot API emulator (in-process, or polling it over HTTP).
Only the demo, the tests and bench/ import this module: it uses the emulator.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram import Update

from bot.app import build_services, running
from bot.domain.clock import Clock
from bot.emulator import Emulator
from bot.settings import Settings
from storage.db import engine_of, open_database

#: the superuser of every synthetic world (the district committee's secretary)
SUPERUSER = 5820137746

#: the Yanshan district's branches under its root: (code, name, kind)
YANSHAN_ROOT = ("yanshan", "雁山区团委")
YANSHAN_ORGS: tuple[tuple[str, str, str], ...] = (
    ("yanshan.dabu", "大埠乡团委", "township"),
    ("yanshan.jiedao", "雁山街道团工委", "street"),
    ("yanshan.zhongxue", "雁山中学团委", "school"),
)

#: a person says `text` in a chat (None: their private chat with the bot)
Say = Callable[[dict, dict | None, str], Awaitable[Any]]


# --- the bot wired to the emulator -----------------------------------------------------------
def settings_for(em: Emulator, db: str | Path, **overrides: Any) -> Settings:
    """Settings for a bot on `em` with its database at `db` and SUPERUSER as superuser."""
    values: dict[str, Any] = {"token": em.token, "db": str(db), "superusers": [SUPERUSER]}
    values.update(overrides)
    return Settings(**values)


def in_process(
    em: Emulator, settings: Settings, clock: Clock | None = None
) -> AbstractAsyncContextManager[Any]:
    """The started Application (no polling) calling `em` in-process, as `async with`."""
    return running(settings, request=em.request(), get_updates_request=em.request(), clock=clock)


@asynccontextmanager
async def polling(app: Any) -> AsyncIterator[Any]:
    """Start `app` and poll its Bot API (the emulator over HTTP) until the block ends."""
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_shutdown:
            await app.post_shutdown(app)
        await app.shutdown()


async def open_services(em: Emulator, db: str | Path) -> Any:
    """The bot's own services on the database (a file path or a URL), to build a world in it."""
    from storage.db import open_database

    settings = Settings(
        _env_file=None, token=SecretStr(em.token), db=str(db), superusers=[SUPERUSER]
    )
    database = await open_database(db).connect()
    return build_services(settings, database, Clock())


# --- towers ----------------------------------------------------------------------------------
async def found_tower(
    say: Say,
    boss: dict,
    root_chat: dict,
    orgs: Iterable[tuple[str, str, str]],
    binds: Iterable[tuple[dict, str]] = (),
    root: tuple[str, str] = YANSHAN_ROOT,
) -> None:
    """The superuser sets the root up in its chat, adds `orgs` under it and binds chats."""
    await say(boss, root_chat, f"/setup {root[0]} {root[1]}")
    for code, name, kind in orgs:
        await say(boss, root_chat, f"/org add {code} {name} {kind}")
    for chat, code in binds:
        await say(boss, chat, f"/bind {code}")


def tree(chats: int) -> dict:
    """A 4-level tree of exactly `chats` orgs: root, ~1 %, ~10 %, the rest."""
    second = max(1, chats // 100)
    third = max(1, chats // 10)
    fourth = chats - 1 - second - third
    root: dict = {"code": "d", "name": "区团委", "children": []}
    level2: list[dict[str, Any]] = [
        {"code": f"d.s{i}", "name": f"乡镇团委{i}", "children": []} for i in range(second)
    ]
    level3: list[dict[str, Any]] = [
        {"code": f"d.s{i % second}.b{i}", "name": f"团支部{i}", "children": []}
        for i in range(third)
    ]
    for i, node in enumerate(level3):
        level2[i % second]["children"].append(node)
    for i in range(max(0, fourth)):
        parent = level3[i % third]
        parent["children"].append({"code": f"{parent['code']}.g{i}", "name": f"团小组{i}"})
    root["children"] = level2
    return root


def codes_of(node: dict, out: list[str] | None = None) -> list[str]:
    """Every org code of a tree, parents before children."""
    out = [] if out is None else out
    out.append(node["code"])
    for child in node.get("children") or []:
        codes_of(child, out)
    return out


async def record_group(tx: Any, group: dict, now: float, org_id: int | None = None) -> None:
    """The emulator group `group` recorded in storage as an active chat of the bot (not an
    admin there), as of `now`, and bound to `org_id` when one is given."""
    from storage import chats as chat_repo

    await chat_repo.upsert(
        tx,
        chat_id=group["id"],
        type=group["type"],
        title=group["title"],
        active=True,
        is_admin=False,
        now=now,
    )
    if org_id is not None:
        await chat_repo.bind(tx, group["id"], org_id)


async def bind_groups(
    services: Any,
    em: Emulator,
    codes: Sequence[str],
    members: Sequence[int] | Callable[[str], Sequence[int]],
) -> dict[str, dict]:
    """One supergroup per org (with `members`, or `members(code)`), bound to it, in one go."""
    groups: dict[str, dict] = {}
    now = services.clock.time()
    async with services.db.transaction() as tx:
        for code in codes:
            people = members(code) if callable(members) else members
            group = em.add_group(f"{code} 群", members=list(people), type="supergroup")
            org = await services.tower.org_by_code(code)
            await record_group(tx, group, now, org.id)
            groups[code] = group
    return groups


# --- people ----------------------------------------------------------------------------------
async def record_start(
    tx: Any, user: dict, *, tg_lang: str | None, now: float, username: str | None = None
) -> None:
    """The emulator user `user` recorded in storage as one who started the bot (their users
    row: first name, `username`, `tg_lang`), as of `now`."""
    from storage import users as user_repo

    await user_repo.upsert_user(
        tx,
        user_id=user["id"],
        first_name=user["first_name"],
        username=username,
        tg_lang=tg_lang,
        started=True,
        now=now,
    )


async def register_people(
    tx: Any, users: Iterable[dict], org_id: int, *, real_name: Callable[[dict], str]
) -> None:
    """Registered members of `org_id`, written straight into storage as `/register` leaves
    them: the person saved, then their users row with what Telegram says of them (first name,
    username, language), so an update from them finds nothing to write."""
    from storage import users as user_repo

    now = time.time()
    for user in users:
        tg_lang, username = user.get("language_code"), user.get("username")
        await record_start(tx, user, tg_lang=tg_lang, now=now)
        await user_repo.save_person(
            tx, user_id=user["id"], real_name=real_name(user), phone=None, org_id=org_id, now=now
        )
        await record_start(tx, user, tg_lang=tg_lang, now=now, username=username)


# --- hour entries ----------------------------------------------------------------------------
#: root, level-1 and level-2 counts of a 500-org district; the rest are level 3
LEVEL_SHARES = (1, 8, 56)


def hour_district(target: str, orgs: int, people: int, entries: int, seed: int = 7) -> None:
    """Bulk-load a 4-level tree, people and hour entries into a migrated, empty database: a
    SQLite file, or a PostgreSQL URL.

    Plain executemany on a SQLite file, not the repositories: 200,000 entries load in seconds;
    the triggers keep `hour_totals` as the product does. A PostgreSQL database gets the same
    district built in a temporary SQLite file and copied over by `towerbot db copy`'s own code
    (COPY in batches, `hour_totals` as the triggers kept it, the id sequences continued).
    """
    if engine_of(target) == "postgresql":
        with tempfile.TemporaryDirectory(prefix="towerbot-district-") as tmp:
            path = str(Path(tmp) / "district.sqlite3")
            _on_own_loop(_migrated(path))
            hour_district(path, orgs, people, entries, seed)
            _on_own_loop(_copied(path, target))
        return
    path = target
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    now = time.time()
    rows: list[tuple] = []  # (id, code, name, parent_id, path, depth)
    next_id = 1

    def add(parent: tuple | None) -> tuple:
        nonlocal next_id
        oid = next_id
        next_id += 1
        depth = parent[5] + 1 if parent else 0
        path = (parent[4] if parent else "/") + f"{oid}/"
        row = (oid, f"org{oid}", f"组织{oid}", parent[0] if parent else None, path, depth)
        rows.append(row)
        return row

    root = add(None)
    level1 = [add(root) for _ in range(min(LEVEL_SHARES[1], max(1, orgs - 1)))]
    per2 = max(1, LEVEL_SHARES[2] * orgs // 500 // max(1, len(level1)))
    level2 = [add(p) for p in level1 for _ in range(per2)]
    while len(rows) < orgs:
        add(level2[(len(rows)) % len(level2)])
    conn.executemany(
        "INSERT INTO orgs(id, code, name, kind, parent_id, path, depth, created_at)"
        " VALUES (?, ?, ?, 'branch', ?, ?, ?, ?)",
        [(*r, now) for r in rows],
    )
    org_ids = [r[0] for r in rows]
    users = [(10_000 + i, f"志愿者{i}", now) for i in range(people)]
    conn.executemany("INSERT INTO users(id, first_name, updated_at) VALUES (?, ?, ?)", users)
    person_org = {u[0]: rng.choice(org_ids) for u in users}
    conn.executemany(
        "INSERT INTO people(user_id, real_name, org_id, consent_at, registered_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(uid, f"张{uid}", oid, now, now, now) for uid, oid in person_org.items()],
    )
    today = date.today()
    uids = list(person_org)
    batch = []
    for i in range(entries):
        uid = rng.choice(uids)
        roll = rng.random()
        status = "approved" if roll < 0.8 else "pending" if roll < 0.95 else "rejected"
        served = (today - timedelta(days=rng.randrange(0, 700))).isoformat()
        batch.append(
            (
                uid,
                person_org[uid],
                served,
                rng.randint(1, 32),
                f"服务 {i % 97}",
                status,
                now,
                None if status == "pending" else 1,
                None if status == "pending" else now,
            )
        )
        if len(batch) == 20_000:
            _insert_entries(conn, batch)
            batch = []
    if batch:
        _insert_entries(conn, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def _insert_entries(conn: sqlite3.Connection, batch: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO hour_entries(user_id, org_id, served_on, quarters, description, status,"
        " created_at, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )


def _on_own_loop(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to completion on a fresh event loop in a thread (callers may be in a loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


async def _migrated(path: str) -> None:
    await (await open_database(path).connect()).close()


async def _copied(src_path: str, url: str) -> None:
    from storage.copy import copy_database  # asyncpg: only for a PostgreSQL target
    from storage.postgres import PostgresDatabase
    from storage.sqlite import SqliteDatabase

    src, dst = SqliteDatabase(src_path), PostgresDatabase(url)
    await src.connect(migrate=False)
    try:
        await dst.connect()
        try:
            await copy_database(src, dst)
        finally:
            await dst.close()
    finally:
        await src.close()
