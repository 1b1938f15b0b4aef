"""Webhook mode under kill -9: an update answered 200 is never lost.

The bot runs as `python -m bot run` (the real CLI) in webhook mode in a child process; the
emulator, served over HTTP here, POSTs updates to it like Telegram does. Telegram forgets an
update once it got a 2xx, so the only copy after the answer is the bot's inbox table.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.emulator import Emulator
from tests.conftest import database_target
from tests.faults.conftest import ROOT, SUPERUSER, BotProcess, open_services, sql, wait_for

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

SECRET = "fault-suite_webhook-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebhookBot(BotProcess):
    """`towerbot run` with TOWERBOT_WEBHOOK_*; `start()` waits for its setWebhook."""

    def __init__(self, em: Emulator, db: Path, logs: Path) -> None:
        super().__init__(em, db, logs)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"

    async def start(self, timeout: float = 90.0) -> None:
        self.runs += 1
        mark = len(self.em.calls)
        assert self.em.base_url
        self.proc = self._spawn(self.em.base_url)
        await wait_for(
            lambda: any(c.method == "setWebhook" for c in self.em.calls[mark:]),
            timeout,
            f"bot process #{self.runs} did not set its webhook",
            self,
        )

    def _spawn(self, url: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOWERBOT_")}
        env.update(
            PYTHONPATH=str(ROOT),
            TOWERBOT_TOKEN=self.em.token,
            TOWERBOT_DB=str(self.db),
            TOWERBOT_API_BASE_URL=url.rstrip("/") + "/bot",
            TOWERBOT_SUPERUSERS=str(SUPERUSER),
            TOWERBOT_FLOOD_LIMIT="10000",
            TOWERBOT_WEBHOOK_URL=self.url,
            TOWERBOT_WEBHOOK_LISTEN="127.0.0.1",
            TOWERBOT_WEBHOOK_PORT=str(self.port),
            TOWERBOT_WEBHOOK_SECRET=SECRET,
        )
        with open(self.logs / f"bot{self.runs}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.logs,
                env=env,
            )


def replied(em: Emulator, users: list[dict]) -> set[int]:
    return {u["id"] for u in users if em.last_to(u) is not None}


async def test_kill_9_after_the_200_loses_no_update(tmp_path: Path) -> None:
    em = Emulator(global_per_second=None)
    await em.serve()
    db = await database_target(tmp_path, "tower.sqlite3")
    bot = WebhookBot(em, db, tmp_path)
    try:
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
    finally:
        bot.kill()
        await em.close()


async def test_restart_handles_rows_left_in_the_inbox_in_order(tmp_path: Path) -> None:
    """Rows a crash left unhandled go first at start-up, one chat's in update_id order."""
    em = Emulator(global_per_second=None)
    await em.serve()
    db = await database_target(tmp_path, "tower.sqlite3")
    bot = WebhookBot(em, db, tmp_path)
    try:
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
    finally:
        bot.kill()
        await em.close()
