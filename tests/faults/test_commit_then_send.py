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

from tests.faults.conftest import (
    SUPERUSER,
    bound_world,
    codes_of,
    has_button,
    held,
    sends,
    served,
    sql,
    tree,
    wait_for,
)

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


async def test_kill_9_between_activity_commit_and_card_reply(tmp_path: Path) -> None:
    # the direct reply hangs until the kill
    async with served(tmp_path, hold=120.0) as (em, db, bot):
        boss = em.add_user("晓明", user_id=SUPERUSER)
        member = em.add_user("小红")
        shape = tree(4)
        groups = await bound_world(em, db, shape, codes_of(shape)[:1], [boss["id"], member["id"]])
        group = next(iter(groups.values()))
        await bot.start()
        when = datetime.fromtimestamp(time.time() + 3 * 86400, ZoneInfo("Asia/Shanghai"))
        line = f"/activity 植树 | {when:%Y-%m-%d %H:%M} | 2 | 5 | 雁山公园"
        async with held(em, bot, "sendMessage", "the direct card reply", chat_id=group["id"]):
            em.text(boss, group, line)
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
