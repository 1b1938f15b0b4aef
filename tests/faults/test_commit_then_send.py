"""kill -9 between a commit and the direct reply that follows it (issue "Trust", item 12).

The bot process commits a new activity, then replies with its card; the emulator holds that
reply unanswered and the process is killed. The card was queued in the committing transaction
as an outbox stand-in (`Outbox.guard`), so the restarted bot sends it, and its buttons work.
Slow (the stand-in waits `GUARD_GRACE` seconds for the direct reply): about 45 s.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.emulator import Emulator
from tests.conftest import database_target
from tests.faults.conftest import (
    SUPERUSER,
    BotProcess,
    bind_groups,
    codes_of,
    has_button,
    open_services,
    sends,
    sql,
    tree,
    wait_for,
)

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


async def test_kill_9_between_activity_commit_and_card_reply(tmp_path: Path) -> None:
    em = Emulator(global_per_second=None)
    em.http_timeout_delay = 120.0  # the direct reply hangs until the kill
    await em.serve()
    db = await database_target(tmp_path, "tower.sqlite3")
    bot = BotProcess(em, db, tmp_path)
    try:
        boss = em.add_user("晓明", user_id=SUPERUSER)
        member = em.add_user("小红")
        services = await open_services(em, db)
        try:
            shape = tree(4)
            await services.tower.import_tree(shape)
            groups = await bind_groups(
                services, em, codes_of(shape)[:1], [boss["id"], member["id"]]
            )
        finally:
            await services.db.close()
        group = next(iter(groups.values()))
        await bot.start()
        when = datetime.fromtimestamp(time.time() + 3 * 86400, ZoneInfo("Asia/Shanghai"))
        em.inject("sendMessage", chat_id=group["id"], error="timeout", times=1)
        mark = len(em.calls)
        em.text(boss, group, f"/activity 植树 | {when:%Y-%m-%d %H:%M} | 2 | 5 | 雁山公园")
        await wait_for(
            lambda: any(c.method == "sendMessage" for c in em.calls[mark:]),
            60,
            "the direct card reply",
            bot,
        )
        assert sql(db, "SELECT COUNT(*) FROM activities")[0][0] == 1  # committed
        bot.kill()
        card = has_button("act:1:join")
        assert not sends(em, card)

        await bot.start()
        await wait_for(lambda: bool(sends(em, card)), 90, "the card after restart", bot)
        assert sends(em, card)[group["id"]] == 1
        stored = next(s for s in em.sent if card(s))
        # the outbox recorded the sent card as the activity's copy (the card editor needs it)
        await wait_for(
            lambda: sql(db, "SELECT message_id FROM activity_cards") == [(stored.message_id,)],
            10,
            "the card copy recorded",
            bot,
        )
        answers = len(em.callback_answers)
        em.press(member, em.message(group["id"], stored.message_id), "act:1:join")
        await wait_for(lambda: len(em.callback_answers) > answers, 30, "the press answer", bot)
        answer = em.callback_answers[answers].get("text") or ""
        # not "stale button": the card the outbox sent is a recorded copy of the activity
        assert "不属于这张活动卡片" not in answer, answer
    finally:
        bot.kill()
        await em.close()
