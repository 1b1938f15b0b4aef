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
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.demo.worlds import SUPERUSER, bind_groups, codes_of, open_services, record_start, tree
from bot.emulator import Emulator, Sent
from bot.emulator.balancer import free_port, webhook_env
from tests.conftest import database_target
from tests.dbdump import is_pg, sql_rows

__all__ = ["SUPERUSER", "bind_groups", "codes_of", "open_services", "tree"]  # the suite's world
BOTPROC = Path(__file__).with_name("botproc.py")
ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """`botproc.py` as a child process; `start()` waits until it polls the emulator."""

    #: the Bot API call that shows the process is up (start-up done), and what it not coming says
    ready_call = "deleteWebhook"
    not_ready = "did not start"

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
            lambda: any(c.method == self.ready_call for c in self.em.calls[mark:]),
            timeout,
            f"bot process #{self.runs} {self.not_ready}",
            self,
        )

    def _spawn(self, url: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOWERBOT_")}
        args = ["--db", str(self.db), "--api", url, "--token", self.em.token]
        args += ["--superuser", str(SUPERUSER), "--rate", str(self.rate)]
        return self._popen([str(BOTPROC), *args], env)

    def _popen(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """`python args...` in `logs`, its output in `logs/bot<run>.log`."""
        with open(self.logs / f"bot{self.runs}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, *args],
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


class WebhookBot(BotProcess):
    """`towerbot run` in webhook mode on its own port of loopback, published as `public` (a
    load balancer's URL) or else as its own URL; `settings` become TOWERBOT_* variables.
    `start()` waits for its setWebhook."""

    ready_call = "setWebhook"
    not_ready = "did not set its webhook"
    secret = "fault-suite_webhook-secret-0123456789"

    def __init__(
        self,
        em: Emulator,
        db: Path,
        logs: Path,
        *,
        rate: float = 200.0,
        port: int | None = None,
        public: str | None = None,
        settings: dict[str, object] | None = None,
    ) -> None:
        logs.mkdir(exist_ok=True)
        super().__init__(em, db, logs, rate=rate)
        self.port = port or free_port()
        self.url = public or f"http://127.0.0.1:{self.port}/telegram"
        self.settings = settings or {}

    def _spawn(self, url: str) -> subprocess.Popen[bytes]:
        env = webhook_env(
            self.em,
            self.db,
            root=ROOT,
            port=self.port,
            public=self.url,
            secret=self.secret,
            superuser=SUPERUSER,
            **self.settings,
        )
        return self._popen(["-m", "bot", "run"], env)


async def kill_and_settle(bot: BotProcess, settle: float = 0.5) -> None:
    """kill -9, then let the requests the bot wrote before it died reach the emulator (they sit
    in the socket until this loop reads them): Telegram would accept those too."""
    bot.kill()
    await asyncio.sleep(settle)


def accepted_but_pending(em: Emulator, db: Path, ref_like: str, got: dict[int, int]) -> int:
    """Messages Telegram accepted whose outbox rows were still pending (the bot just died):
    the bound on duplicates after a restart or a takeover."""
    pending = {
        chat
        for (chat,) in sql(
            db, "SELECT chat_id FROM outbox WHERE ref LIKE ? AND status = 'pending'", (ref_like,)
        )
    }
    return sum(1 for chat in pending if got.get(chat, 0) > 0)


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


def one_copy_each(
    em: Emulator,
    db: Path | str,
    copy: Callable[[Sent], bool],
    chats: Iterable[int],
    in_flight: int,
    label: str,
) -> Counter[int]:
    """After a kill and the recovery: every chat got the announcement's copy, duplicates no more
    than the messages in flight at the kill, and the /announce was handled once."""
    got = sends(em, copy)
    duplicates = sum(n - 1 for n in got.values())
    print(f"\n{label}: {len(got)} chats got the copy; duplicates {duplicates} (bound: {in_flight})")
    assert set(got) == set(chats)
    assert duplicates <= in_flight
    assert sql(db, "SELECT COUNT(*) FROM announcements") == [(1,)]
    return got


def has_button(prefix: str) -> Callable[[Sent], bool]:
    def pick(sent: Sent) -> bool:
        markup = sent.reply_markup or {}
        return any(
            (b.get("callback_data") or "").startswith(prefix)
            for row in markup.get("inline_keyboard", [])
            for b in row
        )

    return pick


@asynccontextmanager
async def served(
    tmp_path: Path,
    *,
    rate: float = 200.0,
    hold: float | None = None,
    process: type[BotProcess] = BotProcess,
    **limits: Any,
) -> AsyncIterator[tuple[Emulator, Path | str, BotProcess]]:
    """The emulator served over HTTP (no global rate limit; `limits` for its other ones), the
    database path in `tmp_path` and a not yet started `process` (rate `rate`) on it; `hold`
    makes a call the tests fail with "timeout" hang that many seconds first. On the way out
    the bot is killed and the emulator closed."""
    em = Emulator(global_per_second=None, **limits)
    if hold is not None:
        em.http_timeout_delay = hold
    await em.serve()
    db = await database_target(tmp_path, "tower.sqlite3")  # a file, or PostgreSQL
    bot = process(em, db, tmp_path, rate=rate)
    try:
        yield em, db, bot
    finally:
        bot.kill()
        await em.close()


async def bound_world(
    em: Emulator, db: Path, shape: dict, codes: list[str], members: list[int]
) -> dict[str, dict]:
    """`shape` imported into the database at `db` and one group with `members` bound to each
    of `codes`, through services that are closed again; the groups by code."""
    services = await open_services(em, db)
    try:
        await services.tower.import_tree(shape)
        return await bind_groups(services, em, codes, members)
    finally:
        await services.db.close()


@asynccontextmanager
async def held(
    em: Emulator, bot: BotProcess, method: str, what: str, **where: Any
) -> AsyncIterator[None]:
    """Make the bot's next `method` call (the one with `where`'s fields, e.g. chat_id=...) fail
    with "timeout", which first hangs for `em.http_timeout_delay`; the block sends the update
    that leads to it, and on leaving waits up to 60 s (failing with `what`) for that call."""
    em.inject(method, error="timeout", times=1, **where)
    mark = len(em.calls)
    yield
    await wait_for(lambda: any(c.method == method for c in em.calls[mark:]), 60, what, bot)


def branch_tree(count: int) -> dict:
    """A two-level tree: the root `d` (区团委) and `count` branches `d.b0`, `d.b1`, ..."""
    return {
        "code": "d",
        "name": "区团委",
        "children": [{"code": f"d.b{i}", "name": f"团支部{i}"} for i in range(count)],
    }


async def remind_secretaries(
    em: Emulator,
    db: Path,
    count: int,
    due: Callable[[float, int], float],
    shape: dict | None = None,
) -> dict[int, int]:
    """Through services opened on `db` (after importing `shape`, when given): for each of the
    branches `d.b0` .. `d.b{count - 1}` of `d`, a new secretary `书记{i}` who started the bot,
    a campaign `述职{i}` of `d`, due in 7 days, that the branch owes, and its "before:604800"
    reminder due at `due(now, i)`. The campaign id -> its secretary's user id."""
    from storage import campaigns as campaign_repo
    from storage import users as user_repo

    secretaries: dict[int, int] = {}
    services = await open_services(em, db)
    try:
        if shape is not None:
            await services.tower.import_tree(shape)
        root = await services.tower.org_by_code("d")
        now = services.clock.time()
        async with services.db.transaction() as tx:
            for i in range(count):
                org = await services.tower.org_by_code(f"d.b{i}")
                person = em.add_user(f"书记{i}")
                em.started.add(person["id"])
                await record_start(tx, person, tg_lang="zh-hans", now=now)
                await user_repo.set_role(
                    tx, org_id=org.id, user_id=person["id"], role="secretary", by=SUPERUSER, now=now
                )
                campaign = await campaign_repo.insert(
                    tx,
                    org_id=root.id,
                    title=f"述职{i}",
                    due_at=now + 7 * 86400,
                    scope="children",
                    created_by=SUPERUSER,
                    now=now,
                    owing=[org.id],
                )
                added = await services.reminders.add(
                    tx, "campaign", campaign.id, "before:604800", due(now, i)
                )
                assert added
                secretaries[campaign.id] = person["id"]
    finally:
        await services.db.close()
    return secretaries
