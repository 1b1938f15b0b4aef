"""The durable outbox and its one sender, through the Bot API emulator (reads `em.sent`)."""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram import Bot

from bot.demo.worlds import record_group, record_start
from bot.domain.clock import Clock
from bot.domain.outbox import Outbox, migrate_chat, split_text
from bot.emulator import Emulator
from bot.gateway.sender import Sender
from storage import chats as chats_repo
from storage import orgs as orgs_repo
from storage import outbox as repo
from storage import users as users_repo
from storage.db import Database, open_database

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Env:
    em: Emulator
    bot: Bot
    db: Database
    clock: Clock
    outbox: Outbox
    sender: Sender
    path: Path
    target: str

    def texts(self, chat_id: int) -> list[str]:
        return [s.text or "" for s in self.em.messages_to(chat_id)]

    def sent_to(self, chat_id: int) -> list:
        return [s for s in self.em.sent if s.chat_id == chat_id]

    async def new_sender(self, rate: float = 50) -> Sender:
        self.sender = Sender(self.bot, self.outbox, self.db, self.clock, rate)
        await self.sender.start()
        return self.sender


@pytest.fixture
async def env(db_target: str, tmp_path: Path) -> AsyncIterator[Env]:
    em = Emulator()
    bot = Bot(em.token, request=em.request(), get_updates_request=em.request())
    await bot.initialize()
    db = await open_database(db_target).connect()
    clock = Clock()
    outbox = Outbox(db, clock)
    sender = Sender(bot, outbox, db, clock, rate=50)
    await sender.start()
    e = Env(em, bot, db, clock, outbox, sender, tmp_path, db_target)
    try:
        yield e
    finally:
        await e.sender.stop()
        await e.db.close()  # the restart test swaps in a new connection
        if e.db is not db:
            await db.close()
        await bot.shutdown()


def started_user(em: Emulator, name: str, **kw) -> dict:
    user = em.add_user(name, **kw)
    em.text(user, None, "/start")
    return user


async def test_plain_delivery_records_message_ids(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    group = env.em.add_group("Branch", members=[alice["id"]])
    a = await env.outbox.send(alice["id"], "<b>hello</b> Alice", ref="t:1")
    g = await env.outbox.send(
        group["id"],
        "to the group",
        reply_markup={"inline_keyboard": [[{"text": "收到", "callback_data": "ack:1"}]]},
    )
    assert await env.sender.drain(10)
    [to_alice] = env.sent_to(alice["id"])
    [to_group] = env.sent_to(group["id"])
    assert to_alice.text == "hello Alice" and to_alice.parse_mode == "HTML"
    assert to_group.reply_markup["inline_keyboard"][0][0]["callback_data"] == "ack:1"
    rows = {i.id: i for i in await env.outbox.by_ref("t:1")}
    assert rows[a].status == "sent" and rows[a].message_ids == [to_alice.message_id]
    item = await repo.get(env.db.reader, g)
    assert item.status == "sent" and item.message_ids == [to_group.message_id]
    assert item.sent_at is not None
    assert await env.outbox.counts() == {"sent": 2}


async def test_dedupe_key_queues_once(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    first = await env.outbox.send(alice["id"], "reminder", dedupe_key="remind:1:24h")
    again = await env.outbox.send(alice["id"], "reminder again", dedupe_key="remind:1:24h")
    assert first is not None and again is None
    assert await env.sender.drain(10)
    assert env.texts(alice["id"]) == ["reminder"]


async def test_add_is_sent_only_after_commit(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    with pytest.raises(RuntimeError):
        async with env.db.transaction() as conn:
            await env.outbox.add(conn, alice["id"], "never")
            raise RuntimeError("rolled back")
    await env.outbox.send(alice["id"], "committed")
    assert await env.sender.drain(10)
    assert env.texts(alice["id"]) == ["committed"]


async def test_429_on_one_chat_delays_only_that_chat(env: Env) -> None:
    users = [started_user(env.em, f"U{i}") for i in range(4)]
    slow = users[0]
    env.em.inject("sendMessage", chat_id=slow["id"], error="retry_after", times=1, retry_after=1)
    await env.sender.stop()  # enqueue everything before the sender looks
    async with env.db.transaction() as conn:
        first = await env.outbox.add(conn, slow["id"], "slow one")
        for u in users[1:]:
            await env.outbox.add(conn, u["id"], f"fast {u['first_name']}")
    await env.new_sender()
    assert await env.sender.drain(15)
    slow_sent = env.sent_to(slow["id"])
    assert [s.text for s in slow_sent] == ["slow one"]  # once, after the pause
    order = [s.chat_id for s in env.em.sent]
    # every other chat was served while the slow chat waited
    assert order.index(slow["id"]) == len(order) - 1
    item = await repo.get(env.db.reader, first)
    assert item.status == "sent" and item.attempts == 1 and item.failures == 0


async def test_backlog_in_one_chat_does_not_hold_up_others(env: Env) -> None:
    busy, *others = [started_user(env.em, f"U{i}") for i in range(4)]
    await env.sender.stop()
    async with env.db.transaction() as conn:
        for i in range(10):  # older messages, all to one chat
            await env.outbox.add(conn, busy["id"], f"busy {i}")
        for u in others:
            await env.outbox.add(conn, u["id"], "other")
    await env.new_sender()
    await asyncio.sleep(1.5)
    await env.sender.stop()
    assert all(env.texts(u["id"]) == ["other"] for u in others)
    # one message a second in the busy chat, in order
    assert env.texts(busy["id"]) in (["busy 0"], ["busy 0", "busy 1"])


def test_group_window_allows_20_per_minute() -> None:
    from bot.gateway.sender import _Chat

    group = _Chat(-42)
    now = time.monotonic()
    for i in range(20):
        group.window.append(now - 30 + i)
    assert group.ready_at(1.0) >= now - 30 + 60  # the oldest of the 20 must leave the window
    private = _Chat(42)
    private.last_start = now
    assert private.ready_at(1.0) == pytest.approx(now + 1.0)


async def test_blocked_user_becomes_unreachable_with_one_fallback_mention(env: Env) -> None:
    em = env.em
    member = started_user(em, "小红 <3")
    group = em.add_group("大埠乡团委工作群", members=[member["id"]])
    now = env.clock.time()
    async with env.db.transaction() as conn:
        org = await orgs_repo.insert(
            conn, code="dabu", name="大埠乡团委", kind=None, parent=None, now=now
        )
        await record_group(conn, group, now, org.id)
        await record_start(conn, member, tg_lang="zh", now=now)
        await users_repo.save_person(
            conn,
            user_id=member["id"],
            real_name="陈小红",
            phone="13800000000",
            org_id=org.id,
            now=now,
        )
        # Telegram names are kept only for registered people: recorded again once registered
        await record_start(conn, member, tg_lang="zh", now=now)
    em.inject("sendMessage", chat_id=member["id"], error="blocked", times=5)
    item_id = await env.outbox.send(
        member["id"],
        "活动明天开始",
        extra={"fallback": True, "fallback_text": "请查看私信 / check the bot"},
    )
    await env.outbox.send(member["id"], "no fallback for this one")
    assert await env.sender.drain(10)
    assert env.sent_to(member["id"]) == []
    item = await repo.get(env.db.reader, item_id)
    assert item.status == "failed" and "blocked" in (item.error or "").lower()
    user = await users_repo.get_user(env.db.reader, member["id"])
    assert user is not None and not user.reachable
    [mention] = env.sent_to(group["id"])
    assert "请查看私信" in mention.text
    assert "陈小红" not in mention.text and "13800000000" not in mention.text
    assert mention.parse_mode == "HTML"
    # handling the same 403 again (a resend after a crash) queues no second mention
    assert await env.outbox.on_forbidden(item) is None
    assert await env.sender.drain(10)
    assert len(env.sent_to(group["id"])) == 1
    # the mention links the user by id and shows the (escaped) Telegram first name
    assert mention.text == "小红 <3 请查看私信 / check the bot"
    assert mention.params["text"].startswith(
        f'<a href="tg://user?id={member["id"]}">小红 &lt;3</a> '
    )


async def test_bot_removed_from_group_marks_chat_inactive(env: Env) -> None:
    group = env.em.add_group("Old group")
    async with env.db.transaction() as conn:
        await record_group(conn, group, env.clock.time())
    env.em.inject("sendMessage", chat_id=group["id"], error="blocked", times=1)
    item_id = await env.outbox.send(group["id"], "hello?")
    assert await env.sender.drain(10)
    chat = await chats_repo.get(env.db.reader, group["id"])
    assert chat is not None and not chat.active
    assert (await repo.get(env.db.reader, item_id)).status == "failed"


async def test_migrated_group_moves_chat_id_and_resends_once(env: Env) -> None:
    em = env.em
    group = em.add_group("Branch")
    now = env.clock.time()
    async with env.db.transaction() as conn:
        org = await orgs_repo.insert(conn, code="b", name="Branch", kind=None, parent=None, now=now)
        await record_group(conn, group, now, org.id)
    em.inject("sendMessage", chat_id=group["id"], error="migrated", times=1)
    await env.sender.stop()
    first = await env.outbox.send(group["id"], "first")
    second = await env.outbox.send(group["id"], "second")
    await env.new_sender()
    assert await env.sender.drain(15)
    new_id = em.migrated[group["id"]]  # the emulator upgraded the group on the first send
    sent = env.sent_to(new_id)
    assert [s.text for s in sent] == ["first", "second"]
    assert env.sent_to(group["id"]) == []
    assert await chats_repo.get(env.db.reader, group["id"]) is None
    moved = await chats_repo.get(env.db.reader, new_id)
    assert moved is not None and moved.org_id == org.id and moved.type == "supergroup"
    for item_id in (first, second):
        item = await repo.get(env.db.reader, item_id)
        assert item.chat_id == new_id and item.status == "sent"


async def test_migrate_chat_merges_into_known_supergroup(env: Env) -> None:
    now = env.clock.time()
    async with env.db.transaction() as conn:
        org = await orgs_repo.insert(conn, code="m", name="M", kind=None, parent=None, now=now)
        await chats_repo.upsert(
            conn, chat_id=-5, type="group", title="Old", active=True, is_admin=False, now=now
        )
        await chats_repo.bind(conn, -5, org.id)
        await chats_repo.upsert(
            conn, chat_id=-1005, type="supergroup", title="New", active=True, is_admin=True, now=now
        )
        pending = await env.outbox.add(conn, -5, "queued", not_before=now + 3600)
        await migrate_chat(conn, -5, -1005, now)
    assert await chats_repo.get(env.db.reader, -5) is None
    merged = await chats_repo.get(env.db.reader, -1005)
    assert merged.org_id == org.id and merged.title == "New" and merged.is_admin
    assert (await repo.get(env.db.reader, pending)).chat_id == -1005


async def test_long_text_arrives_as_two_messages_in_order(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    lines = [f"{i:04d} " + "x" * 95 for i in range(50)]  # 50 lines of 100 chars = 5,049
    text = "\n".join(lines)
    assert len(text) > 4096
    item_id = await env.outbox.send(
        alice["id"],
        text,
        reply_markup={"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]},
    )
    assert await env.sender.drain(15)
    parts = env.sent_to(alice["id"])
    assert len(parts) == 2
    assert all(len(p.text) <= 4096 for p in parts)
    assert "\n".join(p.text for p in parts) == text
    assert parts[0].reply_markup is None and parts[1].reply_markup is not None
    item = await repo.get(env.db.reader, item_id)
    assert item.message_ids == [p.message_id for p in parts]


@pytest.mark.parametrize(
    "text",
    ["a" * 5000, ("word " * 1200).strip(), "<b>bold</b> " * 500, "x\n" * 3000],
)
def test_split_text_keeps_parts_in_limits_and_tags_whole(text: str) -> None:
    parts = split_text(text)
    assert len(parts) >= 2
    assert all(len(p) <= 4096 for p in parts)
    for p in parts:
        assert p.count("<b>") == p.count("</b>")
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


async def test_document_from_bytes(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    item_id = await env.outbox.send(
        alice["id"],
        "your <b>export</b>",
        kind="document",
        extra={"data_b64": base64.b64encode(b"PK fake xlsx").decode(), "filename": "hours.xlsx"},
    )
    assert await env.sender.drain(10)
    [doc] = env.em.messages_to(alice["id"], method="sendDocument")
    assert doc.text == "your export"
    assert (await repo.get(env.db.reader, item_id)).message_ids == [doc.message_id]


async def test_transient_timeout_is_retried(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    env.em.inject("sendMessage", chat_id=alice["id"], error="timeout", times=1)
    item_id = await env.outbox.send(alice["id"], "eventually")
    assert await env.sender.drain(15)
    assert env.texts(alice["id"]) == ["eventually"]
    item = await repo.get(env.db.reader, item_id)
    assert item.status == "sent" and item.failures == 1


async def test_network_error_then_bad_request_fails_without_stopping(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    bob = started_user(env.em, "Bob")
    env.em.inject("sendMessage", chat_id=alice["id"], error="network", times=1)
    env.em.inject("sendMessage", chat_id=alice["id"], error="rejected", times=1)
    bad = await env.outbox.send(alice["id"], "<b>broken</b>", parse_mode="HTML")
    ok = await env.outbox.send(bob["id"], "fine")
    assert await env.sender.drain(15)
    assert env.texts(bob["id"]) == ["fine"]
    bad_item = await repo.get(env.db.reader, bad)
    assert bad_item.status == "failed" and bad_item.error.startswith("BadRequest")
    assert (await repo.get(env.db.reader, ok)).status == "sent"


async def test_restart_delivers_pending_exactly_once(env: Env) -> None:
    users = [started_user(env.em, f"U{i}") for i in range(10)]
    await env.sender.stop()
    async with env.db.transaction() as conn:
        for round_ in range(3):
            for u in users:
                await env.outbox.add(conn, u["id"], f"msg {round_} to {u['id']}")
    # a sender that runs briefly: the first message per chat goes, the rest is paced
    await env.new_sender()
    await asyncio.sleep(0.3)
    await env.sender.stop()
    counts = await env.outbox.counts()
    assert counts.get("pending", 0) > 0  # something was left for the next sender
    # a new sender on a fresh connection to the same file
    await env.db.close()
    env.db = await open_database(env.target).connect()
    env.outbox = Outbox(env.db, env.clock)
    await env.new_sender()
    assert await env.sender.drain(20)
    texts = Counter(s.text for s in env.em.sent)
    assert len(texts) == 30 and set(texts.values()) == {1}
    assert await env.outbox.counts() == {"sent": 30}


async def test_scheduled_message_waits_for_not_before(env: Env) -> None:
    alice = started_user(env.em, "Alice")
    await env.outbox.send(alice["id"], "later", not_before=env.clock.time() + 1.0)
    await env.outbox.send(alice["id"], "now")
    assert await env.sender.drain(5)
    assert env.texts(alice["id"]) == ["now"]
    await asyncio.sleep(1.2)
    assert await env.sender.drain(5)
    assert env.texts(alice["id"]) == ["now", "later"]


async def test_fanout_bench_small_runs() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "fanout.py"),
        "--small",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    summary = out.decode().strip().splitlines()[-1]
    assert summary.startswith("fanout ratio=")
    fields = dict(part.split("=") for part in summary.split()[1:])
    assert fields["lost"] == "0" and fields["duplicates"] == "0"
