"""Abuse: random arguments to every command, from every role, in every kind of chat.

Never a traceback in a chat (the generic error text never appears), and any answer that is not
a success (a refusal, a usage line, an error text from a catalogue) changes nothing in the
database: a dump of every table before and after, minus only the kv heartbeat and last-update
mark that `towerbot status` reads.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.logs import UpdateLog
from bot.texts import CATALOGUES
from tests.conftest import Harness, build_tower
from tests.dbdump import tables, volatile

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

COMMANDS = [
    "setup",
    "bind",
    "unbind",
    "org",
    "role",
    "start",
    "register",
    "cancel",
    "me",
    "forgetme",
    "lang",
    "help",
    "hours",
    "myhours",
    "pending",
    "export",
    "activity",
    "activities",
    "checkin",
    "close",
    "deadline",
    "submit",
    "announce",
    "stats",
    "chart",
]
WORDS = st.sampled_from(
    [
        "add",
        "new",
        "status",
        "list",
        "cancel",
        "secretary",
        "staff",
        "member",
        "hours",
        "members",
        "zh",
        "en",
        "yanshan",
        "yanshan.dabu",
        "1",
        "0",
        "-5",
        "99999999999999999999",
        "2.5",
        "24.25",
        "2026-11-20",
        "2099-01-01",
        "|",
        "cascade",
        "urgent",
        "all",
        "<b>",
        "&amp;",
        "\u202e",
        "🎉",
        "join_yanshan",
        "act_1",
        "sub_1",
        "coverage",
        "tower",
        "myhours",
        "@tom_b",
        "2026-13-45 25:61",
    ]
)
ARGS = st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=30)), max_size=8).map(" ".join)
INTERNAL = {CATALOGUES["zh"]["err_internal"], CATALOGUES["en"]["err_internal"]}


#: rows written by design on every update or every few seconds (`towerbot status`, the
#: instance's heartbeat and its sender lease), not by the command


def dump(target: str) -> list[str]:
    """Every row of every table, one line each (the heartbeat aside)."""
    return [
        f"{table}: {row!r}"
        for table, (_, found) in tables(target).items()
        for row in found
        if not volatile(table, row)
    ]


def pattern_of(template: str) -> re.Pattern[str]:
    """A catalogue text as a regular expression: each {placeholder} matches anything."""
    body = re.sub(r"\\\{[a-z_]+\\\}", ".*", re.escape(template))
    return re.compile("^" + body + "$", re.DOTALL)


#: every usage line and error text in both languages: an answer matching one is not a success
NOT_SUCCESS = [
    pattern_of(text)
    for cat in CATALOGUES.values()
    for key, text in cat.items()
    if key.startswith(("usage_", "err_")) and isinstance(text, str)
]


def is_failure_answer(text: str) -> bool:
    return any(p.match(text) for p in NOT_SUCCESS)


def _busy(tb: Harness) -> bool:
    """Card edits still to make, or a job (start-up catch-up, card timer) about to run."""
    cards = tb.services.activities.cards
    editor = getattr(cards.listener, "__self__", None)  # the CardEditor listening to the marks
    if cards.dirty or getattr(editor, "_flushing", False):
        return True
    soon = datetime.now(UTC) + timedelta(seconds=3)
    return any(job.next_t is not None and job.next_t <= soon for job in tb.app.job_queue.jobs())


async def settle(tb: Harness, timeout: float = 15.0) -> None:
    """Wait for the background work updates start: on-demand audits kept in `services.extra`,
    the outbox, card edits and jobs due in a moment, so a before/after dump sees one update."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = list(tb.services.extra.get("audit_tasks", ()))
        if tasks:
            await asyncio.gather(*tasks)
        await tb.drain(5)
        if not _busy(tb) or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)


async def run_through_processor(tb: Harness, update: dict) -> str:
    """Deliver like polling does (update processor + log), returning the logged outcome."""
    data = json.loads(json.dumps(update))
    obj = Update.de_json(data, tb.app.bot)
    if update in tb.em.pending_updates:
        tb.em.pending_updates.remove(update)
    with UpdateLog(obj) as entry:
        await tb.app.process_update(obj)
    return entry.box[0]


@pytest.fixture
async def world(tb: Harness) -> dict:
    """build_tower, and everyone has written once in each chat (the private one included):
    a person's first message anywhere is recorded (users row, chat presence, started), which
    is that message's doing, not the command's whose dump is compared."""
    w = await build_tower(tb)
    w["unbound"] = tb.em.add_group(
        "未绑定的群", members=[u["id"] for k, u in w.items() if k in ("boss", "sec_a", "member_a")]
    )
    for who in ("boss", "sec_a", "member_a", "member_b", "outsider"):
        for where in (None, w["root"], w["chat_a"], w["chat_b"], w["unbound"]):
            await tb.send(w[who], where, "你好")
    await settle(tb)
    return w


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(COMMANDS),
    args=ARGS,
    who=st.sampled_from(["boss", "sec_a", "member_a", "member_b", "outsider"]),
    where=st.sampled_from(["private", "root", "chat_a", "chat_b", "unbound"]),
)
async def test_no_traceback_and_failed_answers_change_nothing(
    tb: Harness, world: dict, command: str, args: str, who: str, where: str
) -> None:
    em = tb.em
    em.limits = False  # this test is about input, not Telegram's pacing (tested elsewhere)
    user = world[who]
    chat = None if where == "private" else world[where]
    text = f"/{command} {args}".strip()[:4096]
    await settle(tb)
    mark = len(em.sent)
    before = dump(tb.settings.db)
    outcome = await run_through_processor(tb, em.text(user, chat, text))
    await settle(tb)
    chat_id = user["id"] if chat is None else chat["id"]
    replies = [s.text or "" for s in em.sent[mark:] if s.chat_id == chat_id]
    assert not any(r in INTERNAL for r in replies), (text, who, where, replies)
    assert not outcome.startswith("error"), (text, who, where, outcome)
    failed = outcome.startswith("refused") or (len(replies) == 1 and is_failure_answer(replies[0]))
    if failed:
        assert dump(tb.settings.db) == before, (text, who, where, outcome, replies)


async def test_flooding_user_is_slowed_down_without_delaying_others(tmp_path) -> None:
    from tests.conftest import start_harness

    ctx, tb = await start_harness(tmp_path, flood_limit=5, flood_window=60)
    try:
        em = tb.em
        flooder, other = em.add_user("刷屏"), em.add_user("安静")
        answers = [await tb.send(flooder, None, "/help") for _ in range(8)]
        assert [len(a) for a in answers] == [1, 1, 1, 1, 1, 1, 0, 0]
        assert "太快" in answers[5][0].text
        calm = await tb.send(other, None, "/help")
        assert "/register" in calm[0].text
    finally:
        await ctx.__aexit__(None, None, None)


async def test_reply_hitting_group_flood_limit_goes_through_outbox(
    world: dict, tb: Harness
) -> None:
    em = tb.em
    chat = world["chat_a"]
    em.inject(method="sendMessage", chat_id=chat["id"], error="retry_after", retry_after=1)
    sent = await tb.send(world["member_a"], chat, "/org")
    assert sent == []  # Telegram said 429 to the direct reply…
    assert await tb.drain(10)
    assert "大埠乡团委" in tb.last_text(chat["id"])  # …and the outbox delivered it after the wait


def test_flood_guard_forgets_quiet_people_without_a_scan_per_update() -> None:
    """More than 10,000 people at once (a big event) are all kept while active; once a window
    has passed the quiet ones are forgotten, and between prunes no update scans them all."""
    from bot.domain.flood import FloodGuard

    guard = FloodGuard(limit=5, window=30.0)
    for uid in range(10_050):
        assert guard.check(uid, 0.0) == "ok"
    assert len(guard._times) == 10_050  # all active: nobody forgotten
    assert guard._next_prune == 30.0  # pruned once (found nobody), not again within the window
    # a window later one update prunes everyone gone quiet, once
    assert guard.check(99_999, 31.0) == "ok"
    assert len(guard._times) == 1
    # the limit still holds for a person, after the prune as before it
    assert [guard.check(7, 32.0) for _ in range(7)] == ["ok"] * 5 + ["warn", "drop"]
