"""Fault suite helpers: the bot in a child process, the emulator served over HTTP here."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.demo.worlds import SUPERUSER, bind_groups, codes_of, open_services, tree
from bot.emulator import Emulator, Sent
from tests.dbdump import is_pg, sql_rows

__all__ = ["SUPERUSER", "bind_groups", "codes_of", "open_services", "tree"]  # the suite's world
BOTPROC = Path(__file__).with_name("botproc.py")
ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """`botproc.py` as a child process; `start()` waits until it polls the emulator."""

    def __init__(self, em: Emulator, db: Path | str, logs: Path, *, rate: float = 200.0) -> None:
        self.em = em
        self.db = db
        self.logs = logs
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 90.0) -> None:
        assert self.em.base_url, "serve the emulator first"
        self.runs += 1
        mark = len(self.em.calls)
        self.proc = self._spawn(self.em.base_url)
        # start-up (database, sender, timers) is done before the updater's first call
        await wait_for(
            lambda: any(c.method == "deleteWebhook" for c in self.em.calls[mark:]),
            timeout,
            f"bot process #{self.runs} did not start",
            self,
        )

    def _spawn(self, url: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOWERBOT_")}
        with open(self.logs / f"bot{self.runs}.log", "wb") as log:
            return subprocess.Popen(
                [
                    sys.executable,
                    str(BOTPROC),
                    "--db",
                    str(self.db),
                    "--api",
                    url,
                    "--token",
                    self.em.token,
                    "--superuser",
                    str(SUPERUSER),
                    "--rate",
                    str(self.rate),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.logs,
                env=env,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM (PTB stops cleanly), SIGKILL if that takes too long."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logs.glob("bot*.log")):
            text = path.read_text(errors="replace").splitlines()
            out.append(f"--- {path.name} (last {lines} lines)\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


async def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    bot: BotProcess | None = None,
    interval: float = 0.02,
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if bot is not None and not bot.alive():
            raise AssertionError(f"{what}: the bot process exited\n{bot.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} within {timeout:.0f} s"
                + (f"\n{bot.log_tail()}" if bot is not None else "")
            )
        await asyncio.sleep(interval)


def sql(db: Path | str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the database (a SQLite file or a PostgreSQL URL) the way another program would."""
    if is_pg(db):
        return sql_rows(db, query, params)
    conn = sqlite3.connect(str(db), timeout=30)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def sends(em: Emulator, pick: Callable[[Sent], bool]) -> Counter[int]:
    """How many accepted sendMessage calls of a kind each chat got."""
    return Counter(s.chat_id for s in em.sent if s.method == "sendMessage" and pick(s))


def has_button(prefix: str) -> Callable[[Sent], bool]:
    def pick(sent: Sent) -> bool:
        markup = sent.reply_markup or {}
        return any(
            (b.get("callback_data") or "").startswith(prefix)
            for row in markup.get("inline_keyboard", [])
            for b in row
        )

    return pick
