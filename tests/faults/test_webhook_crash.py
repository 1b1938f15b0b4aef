"""Webhook mode under kill -9: an update answered 200 is never lost.

The bot runs as `python -m bot run` (the real CLI) in webhook mode in a child process; the
emulator, served over HTTP here, POSTs updates to it like Telegram does. Telegram forgets an
update once it got a 2xx, so the only copy after the answer is the bot's inbox table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.emulator import Emulator
from tests.faults.conftest import (
    WebhookBot,
    open_services,
    served,
    sql,
    wait_for,
)

SECRET = WebhookBot.secret

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


def replied(em: Emulator, users: list[dict]) -> set[int]:
    return {u["id"] for u in users if em.last_to(u) is not None}


async def test_kill_9_after_the_200_loses_no_update(tmp_path: Path) -> None:
    async with served(tmp_path, process=WebhookBot) as (em, db, bot):
        await bot.start()
        assert em.webhook_url == bot.url and em.webhook_secret == SECRET
        users = [em.add_user(f"志愿者{i}") for i in range(20)]
        # every answer stalls (no reply; PTB gives up after 5 s): the updates are accepted and
        # committed, and the handlers are all still waiting when the process dies
        em.http_timeout_delay = 60.0
        em.inject("sendMessage", error="timeout", times=None)
        ids = [em.text(u, None, "/start")["update_id"] for u in users]
        await wait_for(lambda: not em.pending_updates, 30, "all updates accepted", bot)
        accepted = sql(
            db, "SELECT update_id FROM inbox WHERE handled_at IS NULL ORDER BY update_id"
        )
        bot.kill()
        assert [i for (i,) in accepted] == ids, "each update committed, none handled yet"
        assert {status for _, status in em.webhook_attempts} == {200}
        assert replied(em, users) == set()
        print(f"\nkill -9 with {len(accepted)} updates answered 200 and not yet handled")

        em.faults.clear()
        await bot.start()  # Telegram has nothing left to send: only the inbox knows
        await wait_for(
            lambda: replied(em, users) == {u["id"] for u in users},
            60,
            "every accepted update answered after the restart",
            bot,
        )
        await wait_for(
            lambda: sql(db, "SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL") == [(0,)],
            30,
            "inbox drained",
            bot,
        )
        assert all(len(em.messages_to(u)) == 1 for u in users)

        bot.stop()  # SIGTERM: a clean stop
        assert bot.proc is not None and bot.proc.returncode == 0, bot.log_tail()
        assert "Traceback" not in (tmp_path / "bot2.log").read_text(errors="replace")


async def test_restart_handles_rows_left_in_the_inbox_in_order(tmp_path: Path) -> None:
    """Rows a crash left unhandled go first at start-up, one chat's in update_id order."""
    async with served(tmp_path, process=WebhookBot) as (em, db, bot):
        from bot.domain.inbox import Inbox

        user = em.add_user("晓明", language_code="en")
        updates = [em.text(user, None, text) for text in ("/start", "/help", "/help")]
        em.pending_updates.clear()  # Telegram got its 200 for these before the crash
        services = await open_services(em, db)
        try:
            inbox = Inbox(services.db, services.clock)
            for update in reversed(updates):  # stored out of order: handled by update_id
                assert await inbox.accept(update["update_id"], user["id"], json.dumps(update))
        finally:
            await services.db.close()

        await bot.start()
        await wait_for(lambda: len(em.messages_to(user)) == 3, 60, "three answers", bot)
        texts = [m.text or "" for m in em.messages_to(user)]
        assert texts[0] != texts[1] == texts[2], texts  # welcome first, as sent
        await wait_for(
            lambda: sql(db, "SELECT COUNT(*) FROM inbox WHERE handled_at IS NULL") == [(0,)],
            30,
            "inbox drained",
            bot,
        )
