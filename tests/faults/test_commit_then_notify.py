"""kill -9 between a commit and the notices it queued (issue 14): one world, one kill.

Five changes are made through the bot process, each committing and then calling Telegram for
what it tells; the emulator holds one call of each, unanswered, and the process is killed with
them all in flight (every other message sent and recorded first, so that none can be sent
twice): an occurrence of a series cancelled (its people told privately, the next occurrence's
card posted), a capacity lowered (the demoted told), attendance marked present after /close
(the hours credited, the volunteer told), an approved entry revoked (the volunteer told), and a
series created with `| cascade` (its card, held as the direct reply, and its copy below).

The restarted process sends each of them exactly once, and the database says what was done.
About 45 s per engine: the series' card waits out its outbox stand-in's grace (`GUARD_GRACE`).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.demo.worlds import register_people
from bot.domain.activities import parse_activity
from bot.emulator import Emulator
from tests.faults.conftest import (
    SUPERUSER,
    bind_groups,
    has_button,
    held,
    open_services,
    sends,
    served,
    sql,
    wait_for,
)

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

TZ = ZoneInfo("Asia/Shanghai")
SHAPE = {
    "code": "d",
    "name": "区团委",
    "children": [
        {"code": "d.b0", "name": "团支部", "children": [{"code": "d.b0.g0", "name": "团小组"}]}
    ],
}
#: the words of each notice (zh)
CANCELLED, EDITED, DEMOTED = "已被组织者取消", "有变动", "移回候补"
CREDITED, REVOKED = "组织者已确认你参加了", "已被撤销"


def day(days: int) -> date:
    return datetime.now(TZ).date() + timedelta(days=days)


def texts(em: Emulator, user: dict[str, Any], words: str) -> list[str]:
    return [s.text or "" for s in em.messages_to(user["id"]) if words in (s.text or "")]


async def _world(em: Emulator, db: Path | str, boss: dict, people: list[dict]) -> dict[str, Any]:
    """The tree with a chat per org; `people` registered at the root; the activities the
    bot will change (cards queued for the bot to send); an approved entry to revoke."""
    services = await open_services(em, db)
    try:
        await services.tower.import_tree(SHAPE)
        root = await services.tower.org_by_code("d")
        groups = await bind_groups(services, em, ["d", "d.b0", "d.b0.g0"], [boss["id"]])
        async with services.db.transaction() as tx:
            await register_people(tx, [boss, *people], root.id, real_name=lambda u: u["first_name"])
        em.started.update(u["id"] for u in (boss, *people))
        acts, now, chat = services.activities, services.clock.time(), groups["d"]["id"]

        def line(text: str) -> Any:
            return parse_activity(text, now, services.settings)

        v1, v2, v3, v4, v5, v6 = people
        series = await acts.create_series(
            SUPERUSER,
            chat,
            line(f"七彩四点半 | {day(3)} 16:30 | 1.5 | 5 | 青年之家 | 日期 {day(3)},{day(4)}"),
            "zh",
            origin_by_outbox=True,
        )
        edited = await acts.create(
            SUPERUSER, chat, line(f"植树 | {day(5)} 09:00 | 2 | 3 | 雁山公园"), "zh",
            origin_by_outbox=True,
        )  # fmt: skip
        soon = datetime.fromtimestamp(now + 1800, TZ).strftime("%Y-%m-%d %H:%M")
        closed = await acts.create(
            SUPERUSER, chat, line(f"义诊 | {soon} | 2 | 3 | 村委"), "zh", origin_by_outbox=True
        )
        await acts.join(v1["id"], series.activity.id)
        for person in (v2, v3, v4):
            await acts.join(person["id"], edited.activity.id)
        await acts.join(v5["id"], closed.activity.id)
        await acts.close(SUPERUSER, chat, closed.activity.id)  # v5 did not check in: no-show
        async with services.db.transaction() as tx:
            entry = await services.hours.credit(
                tx,
                user_id=v6["id"],
                org_id=root.id,
                hours=2,
                served_on=day(-2).isoformat(),
                description="社区服务",
                source="test",
                by=SUPERUSER,
            )
    finally:
        await services.db.close()
    return {
        "groups": groups,
        "series": series.activity.id,
        "edited": edited.activity.id,
        "closed": closed.activity.id,
        "entry": entry,
    }


def pending_chats(db: Path | str) -> list[int]:
    return sorted(c for (c,) in sql(db, "SELECT chat_id FROM outbox WHERE status = 'pending'"))


async def test_kill_9_between_commits_and_their_notices(tmp_path: Path) -> None:
    async with served(tmp_path, hold=120.0) as (em, db, bot):
        boss = em.add_user("晓明", user_id=SUPERUSER)
        people = [em.add_user(f"志愿者{i}") for i in range(1, 7)]
        v1, v2, v3, v4, v5, v6 = people
        w = await _world(em, db, boss, people)
        root, branch, below = (w["groups"][c]["id"] for c in ("d", "d.b0", "d.b0.g0"))
        await bot.start()
        await wait_for(lambda: not pending_chats(db), 60, "the world's cards sent", bot)
        s1, ed, cl = w["series"], w["edited"], w["closed"]
        s2 = s1 + 1

        # 1. one occurrence of the series cancelled: v1 is told (held); the next card is posted
        async with held(em, bot, "sendMessage", "v1's cancel notice", chat_id=v1["id"]):
            em.text(boss, w["groups"]["d"], f"/activity cancel {s1}")
        # 2. the capacity lowered to 1: v3 and v4 back on the waitlist (v4's notices held)
        async with held(em, bot, "sendMessage", "v4's notice", chat_id=v4["id"]):
            em.text(boss, w["groups"]["d"], f"/activity edit {ed} | 人数 1")
        # 3. after /close, v5 marked present on the roster: credited and told (held)
        present = has_button(f"att:p:{cl}:{v5['id']}:")
        em.text(boss, w["groups"]["d"], f"/attendance {cl}")
        await wait_for(lambda: bool(sends(em, present)), 60, "the roster", bot)
        roster = next(s for s in em.sent if present(s))
        async with held(em, bot, "sendMessage", "v5's credit notice", chat_id=v5["id"]):
            message = em.message(boss["id"], roster.message_id or 0)
            assert message is not None
            em.press(boss, message, f"att:p:{cl}:{v5['id']}:0")
        # 4. an approved entry revoked: v6 is told (held)
        async with held(em, bot, "sendMessage", "v6's revoke notice", chat_id=v6["id"]):
            em.text(boss, None, f"/hours revoke {w['entry']} 重复录入")
        # 5. a series created with cascade in the branch's chat: its card (the direct reply)
        # and its copy in the chat below both held
        line = f"周末支教 | {day(6)} 09:00 | 2 | 4 | 希望小学 | cascade | 日期 {day(6)},{day(13)}"
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(
                held(em, bot, "sendMessage", "the copy below", chat_id=below)
            )
            await stack.enter_async_context(
                held(em, bot, "sendMessage", "the series' card", chat_id=branch)
            )
            em.text(boss, w["groups"]["d.b0"], f"/activity {line}")
        # every other message sent and recorded (none may go twice); the held ones pending:
        # v4's two (the second waits behind the first), and the series' card stand-in
        held_chats = sorted([v1["id"], v4["id"], v4["id"], v5["id"], v6["id"], below, branch])
        await wait_for(lambda: pending_chats(db) == held_chats, 60, "only the held left", bot)
        committed = sql(db, "SELECT COUNT(*) FROM activity_series")[0][0]
        assert committed == 2  # the world's and the new one
        bot.kill()
        for user, words in ((v1, CANCELLED), (v4, DEMOTED), (v5, CREDITED), (v6, REVOKED)):
            assert not texts(em, user, words), (user["first_name"], words)
        ((first,),) = sql(db, "SELECT MIN(id) FROM activities WHERE title = ?", ("周末支教",))
        new_card = has_button(f"act:{first}:join")  # the new series' first occurrence
        assert not sends(em, new_card)

        await bot.start()
        await wait_for(lambda: not pending_chats(db), 90, "every held message sent", bot)
        # exactly once each
        assert len(texts(em, v1, CANCELLED)) == 1
        for user in (v2, v3, v4):
            assert len(texts(em, user, EDITED)) == 1, user["first_name"]
        assert texts(em, v2, DEMOTED) == []
        assert len(texts(em, v3, DEMOTED)) == len(texts(em, v4, DEMOTED)) == 1
        assert "候补第 2 位" in texts(em, v4, DEMOTED)[0]
        assert len(texts(em, v5, CREDITED)) == 1 and "义诊" in texts(em, v5, CREDITED)[0]
        assert len(texts(em, v6, REVOKED)) == 1 and "重复录入" in texts(em, v6, REVOKED)[0]
        assert sends(em, new_card) == {branch: 1, below: 1}
        assert sends(em, has_button(f"act:{s2}:join")) == {root: 1}  # the next occurrence's
        # and the database says what was done, once
        assert sql(
            db, "SELECT id, status FROM activities WHERE id IN (?, ?) ORDER BY id", (s1, s2)
        ) == [
            (s1, "cancelled"),
            (s2, "open"),
        ]
        assert sql(
            db, "SELECT capacity, confirmed, waiting FROM activities WHERE id = ?", (ed,)
        ) == [(1, 1, 2)]
        assert sql(
            db,
            "SELECT status, evidence FROM hour_entries WHERE user_id = ? AND source = ?",
            (v5["id"], f"activity:{cl}"),
        ) == [("approved", "marked")]
        assert sql(
            db,
            "SELECT attendance FROM activity_signups WHERE activity_id = ? AND user_id = ?",
            (cl, v5["id"]),
        ) == [("present",)]
        assert sql(db, "SELECT status FROM hour_entries WHERE id = ?", (w["entry"],)) == [
            ("revoked",)
        ]
        assert sql(db, "SELECT COUNT(*) FROM activity_series")[0][0] == 2
        assert sql(db, "SELECT COUNT(*) FROM activities WHERE title = ?", ("周末支教",)) == [(2,)]
        assert sql(
            db,
            "SELECT chat_id FROM activity_cards WHERE activity_id = ? ORDER BY chat_id",
            (first,),
        ) == sorted([(branch,), (below,)])
