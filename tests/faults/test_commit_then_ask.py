"""kill -9 between a commit and the question or confirmation that follows it (issue "Trust",
item 12): the hours reject-reason prompt and /forgetme.

Reject commits the reason flow and, in the same transaction, the question as an outbox stand-in
(`Outbox.guard`); /forgetme queues a stand-in that asks for the finishing press before its
hooks and erasure commit, and the erasure deletes it. Each test kills the bot while the Bot API
holds the call that follows a commit, restarts it, and checks that the person is asked (once)
and that finishing the step leaves everything consistent. About 40 s each (`GUARD_GRACE`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.demo.worlds import register_people
from bot.emulator import Emulator, Sent
from tests.faults.conftest import (
    SUPERUSER,
    has_button,
    held,
    open_services,
    served,
    sql,
    tree,
    wait_for,
)

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


async def _world(em: Emulator, db: Path | str, users: list[dict[str, Any]]) -> Any:
    """The tree, `users` registered at its root, and their services (closed by the caller)."""
    services = await open_services(em, db)
    await services.tower.import_tree(tree(4))
    root = await services.tower.org_by_code("d")
    async with services.db.transaction() as tx:
        await register_people(tx, users, root.id, real_name=lambda u: f"{u['first_name']}全名")
    return services


def _to(em: Emulator, user: dict[str, Any], pick: Any = None) -> list[Sent]:
    """Messages the bot sent to a user's private chat (those `pick` accepts)."""
    return [s for s in em.messages_to(user["id"]) if pick is None or pick(s)]


def _press(em: Emulator, user: dict[str, Any], sent: Sent, data: str) -> None:
    message = em.message(user["id"], sent.message_id or 0)
    assert message is not None
    em.press(user, message, data)


async def test_kill_9_between_reject_commit_and_reason_prompt(tmp_path: Path) -> None:
    # the held call hangs until the kill
    async with served(tmp_path, hold=120.0) as (em, db, bot):
        boss = em.add_user("晓明", user_id=SUPERUSER)
        member = em.add_user("小红")
        services = await _world(em, db, [boss, member])
        try:
            logged = await services.hours.log(member["id"], "2 植树")
            assert logged.entry is not None
            entry = logged.entry.id
        finally:
            await services.db.close()
        await bot.start()
        em.text(member, None, "/start")  # the owner can be told privately
        await wait_for(lambda: bool(_to(em, member)), 60, "the owner's /start", bot)
        reject = has_button(f"hrs:no:{entry}:")
        em.text(boss, None, "/pending")
        await wait_for(lambda: bool(_to(em, boss, reject)), 60, "the /pending listing", bot)
        listing = _to(em, boss, reject)[0]
        async with held(em, bot, "sendMessage", "the direct reason question", chat_id=boss["id"]):
            _press(em, boss, listing, f"hrs:no:{entry}:0")
        assert sql(db, "SELECT name FROM flows WHERE user_id = ?", (boss["id"],)) == [
            ("hours_reason",)
        ]  # committed
        bot.kill()
        prompt = has_button(f"hrs:nr:{entry}")
        assert not _to(em, boss, prompt)

        await bot.start()
        await wait_for(lambda: bool(_to(em, boss, prompt)), 90, "the question after restart", bot)
        asked = _to(em, boss, prompt)
        assert len(asked) == 1
        # the approver answers the question the outbox asked: the entry is rejected, its
        # owner told once, and no flow or stand-in is left behind
        em.text(boss, None, "照片不清楚")
        told = "照片不清楚"
        await wait_for(
            lambda: (
                sql(db, "SELECT status FROM hour_entries WHERE id = ?", (entry,)) == [("rejected",)]
            ),
            60,
            "the entry rejected",
            bot,
        )
        await wait_for(
            lambda: any(told in (s.text or "") for s in _to(em, member)), 60, "the owner told", bot
        )
        assert sql(db, "SELECT status, reason FROM hour_entries WHERE id = ?", (entry,)) == [
            ("rejected", told)
        ]
        assert sql(db, "SELECT COUNT(*) FROM flows WHERE user_id = ?", (boss["id"],)) == [(0,)]
        await wait_for(
            lambda: sql(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == [(0,)],
            30,
            "nothing left to send (sends recorded)",
            bot,
        )
        assert sum(told in (s.text or "") for s in _to(em, member)) == 1
        assert len(_to(em, boss, prompt)) == 1


async def test_kill_9_inside_forgetme(tmp_path: Path) -> None:
    """Killed after the hooks (before the erasure): the stand-in asks, one press finishes.
    Killed after the erasure (before "done"): nothing of the person is left to ask about."""
    async with served(tmp_path, hold=120.0) as (em, db, bot):
        early, late = em.add_user("小红"), em.add_user("小刚")
        services = await _world(em, db, [early, late])
        try:
            pending = {}
            for user in (early, late):
                logged = await services.hours.log(user["id"], "2 植树")
                assert logged.entry is not None
                pending[user["id"]] = logged.entry.id
        finally:
            await services.db.close()
        yes = has_button("forget:y")
        done = "个人信息已删除"

        def person(user: dict[str, Any]) -> list[tuple[Any, ...]]:
            return sql(db, "SELECT user_id FROM people WHERE user_id = ?", (user["id"],))

        def entry(user: dict[str, Any]) -> list[tuple[Any, ...]]:
            return sql(db, "SELECT id FROM hour_entries WHERE id = ?", (pending[user["id"]],))

        await bot.start()
        # 1. `late`: the erasure commits, the "done" reply hangs
        em.text(late, None, "/forgetme")
        await wait_for(lambda: bool(_to(em, late, yes)), 60, "the question (late)", bot)
        async with held(em, bot, "sendMessage", "the direct done reply", chat_id=late["id"]):
            _press(em, late, _to(em, late, yes)[0], "forget:y")
        assert person(late) == [] and entry(late) == []  # erased
        bot.kill()

        # 2. `early`: the hooks commit (the pending entry goes), the press answer hangs
        await bot.start()
        em.text(early, None, "/forgetme")
        await wait_for(lambda: bool(_to(em, early, yes)), 60, "the question (early)", bot)
        async with held(em, bot, "answerCallbackQuery", "the press answer"):
            _press(em, early, _to(em, early, yes)[0], "forget:y")
        assert entry(early) == [] and person(early) != []  # the hooks ran, the erasure did not
        bot.kill()
        asked = len(_to(em, early, yes))

        # 3. restarted: `early` is asked to finish; `late` hears nothing more
        await bot.start()
        await wait_for(lambda: len(_to(em, early, yes)) > asked, 90, "the stand-in", bot)
        again = _to(em, early, yes)[-1]
        assert "没有完成" in (again.text or "")
        _press(em, early, again, "forget:y")
        await wait_for(
            lambda: any(done in (s.text or "") for s in _to(em, early)),
            60,
            "the deletion finished",
            bot,
        )
        assert person(early) == []
        assert sum(done in (s.text or "") for s in _to(em, early)) == 1
        await wait_for(
            lambda: sql(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == [(0,)],
            30,
            "nothing left to send",
            bot,
        )
        # `late` was erased before the kill: no stand-in, no second "done"; asking again is
        # answered truthfully (nothing is stored), and no cell names either account
        assert [s for s in _to(em, late) if "没有完成" in (s.text or "")] == []
        asked = len(_to(em, late, yes))
        em.text(late, None, "/forgetme")
        await wait_for(lambda: len(_to(em, late, yes)) > asked, 60, "the question again", bot)
        answers = len(em.callback_answers)
        _press(em, late, _to(em, late, yes)[-1], "forget:y")
        # the press closes the open question and finds nothing stored but the id: it says so
        # (an unregistered person may still have data, e.g. a guardian's consent, so the
        # erasure runs and answers truthfully)

        def told_nothing() -> bool:
            answered = any(
                "没有需要删除" in (a.get("text") or "") for a in em.callback_answers[answers:]
            )
            return answered or any("没有需要删除" in (s.text or "") for s in _to(em, late))

        await wait_for(told_nothing, 30, "the answer (late)", bot)
        for user in (early, late):
            assert sql(
                db,
                "SELECT COUNT(*) FROM outbox WHERE chat_id = ? OR user_id = ?",
                (user["id"], user["id"]),
            ) == [(0,)]
