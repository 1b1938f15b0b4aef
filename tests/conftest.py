"""Test harness: the real PTB Application, driven through the project's Bot API emulator."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.app import services_of
from bot.demo.worlds import SUPERUSER, YANSHAN_ORGS, found_tower, in_process, settings_for
from bot.domain.clock import Clock
from bot.emulator import Emulator
from bot.settings import Settings
from tests.pg import Cluster, in_thread, start_cluster

SUPERUSER_ID = SUPERUSER


# --- storage engines ---------------------------------------------------------------------------
# A test that uses the `engine` fixture (every `tb` test does, and modules that mark
# `pytest.mark.usefixtures("engine")`) runs once per engine: SQLite, then PostgreSQL.
# TOWERBOT_TEST_ENGINES=sqlite (or =postgresql) runs one only. tests/pg.py finds PostgreSQL.

#: what a broken constraint or a RAISE(ABORT) trigger raises, on either engine
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
try:
    import asyncpg

    INTEGRITY_ERRORS += (asyncpg.IntegrityConstraintViolationError,)
except ImportError:  # pragma: no cover - the PostgreSQL tests skip then
    pass

ENGINES = [
    e.strip()
    for e in os.environ.get("TOWERBOT_TEST_ENGINES", "sqlite,postgresql").split(",")
    if e.strip()
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ENGINES, indirect=True)


class _Current:
    """The engine of the running test and the PostgreSQL databases it made (dropped after)."""

    engine = "sqlite"
    cluster: Cluster | None = None
    made: ClassVar[list[str]] = []
    named: ClassVar[dict[str, str]] = {}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    found = start_cluster()
    if isinstance(found, str):
        pytest.skip(found)
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """'sqlite' or 'postgresql': where this test's databases are made (see database_target)."""
    name = getattr(request, "param", "sqlite")
    # first: without PostgreSQL this skips, and nothing of this test may stay behind
    cluster = request.getfixturevalue("pg_cluster") if name == "postgresql" else None
    _Current.engine, _Current.cluster, _Current.made, _Current.named = name, cluster, [], {}
    try:
        yield name
    finally:
        cluster, made = _Current.cluster, _Current.made
        _Current.engine, _Current.cluster, _Current.made, _Current.named = "sqlite", None, [], {}
        if cluster is not None and made:

            async def drop() -> None:
                for url in made:
                    await cluster.drop(url)

            in_thread(drop)


async def database_target(tmp_path: Path, name: str = "towerbot.sqlite3") -> str:
    """A fresh database on the current test's engine: a file in tmp_path, or a new
    PostgreSQL database (a copy of the migrated template)."""
    if _Current.engine == "postgresql":
        assert _Current.cluster is not None
        if name not in _Current.named:  # the same name again: the same database (a restart)
            url = await _Current.cluster.create(name.split(".")[0])
            _Current.made.append(url)
            _Current.named[name] = url
        return _Current.named[name]
    return str(tmp_path / name)


@pytest.fixture
async def db_target(engine: str, tmp_path: Path) -> str:
    """A fresh database (path or URL) on each engine."""
    return await database_target(tmp_path)


class Harness:
    """One emulator, one running bot on a temporary database, and short-hands for tests."""

    def __init__(self, em: Emulator, app: Any, settings: Settings) -> None:
        self.em = em
        self.app = app
        self.settings = settings

    @property
    def services(self) -> Any:
        return services_of(self.app)

    @property
    def db(self) -> Any:
        return self.services.db

    async def send(
        self, user: dict, chat: dict | int | None, text: str, reply_to: dict | None = None
    ) -> list:
        """A user sends `text`; returns what the bot sent in answer (direct replies only)."""
        mark = len(self.em.sent)
        update = self.em.text(user, chat, text, reply_to=reply_to)
        await self.em.deliver(self.app, update)
        return self.em.sent[mark:]

    async def deliver(self, update: dict) -> list:
        mark = len(self.em.sent)
        await self.em.deliver(self.app, update)
        return self.em.sent[mark:]

    async def press(self, user: dict, message: Any, data: str) -> list:
        """A user presses a button with `data` on a message the bot sent (a Sent record)."""
        stored = self.em.message(message.chat_id, message.message_id)
        mark = len(self.em.sent)
        await self.em.deliver(self.app, self.em.press(user, stored, data))
        return self.em.sent[mark:]

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the outbox has nothing due and nothing in flight (False on timeout)."""
        return await self.services.sender.drain(timeout)

    def texts(self, chat_id: int) -> list[str]:
        return [s.text or "" for s in self.em.messages_to(chat_id)]

    def last_text(self, chat_id: int) -> str:
        texts = self.texts(chat_id)
        return texts[-1] if texts else ""


async def start_harness(
    tmp_path: Path,
    em: Emulator | None = None,
    clock: Clock | None = None,
    db_name: str = "towerbot.sqlite3",
    **settings: Any,
) -> tuple[Any, Harness]:
    # short bursts of direct replies in one chat are tolerated by Telegram; the outbox's own
    # tests exercise the strict per-chat limit
    em = em or Emulator(per_chat_burst=20)
    # tests send many commands per second from one person; the flood guard has its own tests
    settings.setdefault("flood_limit", 10_000)
    cfg = settings_for(em, await database_target(tmp_path, db_name), **settings)
    ctx = in_process(em, cfg, clock)
    app = await ctx.__aenter__()
    return ctx, Harness(em, app, cfg)


@pytest.fixture
async def tb(engine: str, tmp_path: Path) -> AsyncIterator[Harness]:
    ctx, harness = await start_harness(tmp_path)
    try:
        yield harness
    finally:
        await ctx.__aexit__(None, None, None)


@pytest.fixture
async def tower(tb: Harness) -> AsyncIterator[dict[str, Any]]:
    """A small district: root chat, two branch chats, a superuser, staff and members registered."""
    yield await build_tower(tb)


async def register(tb: Harness, user: dict, name: str, org_code: str | None = None) -> None:
    """Walk a user through /register (deep link into org_code when given)."""
    em = tb.em
    await tb.send(
        user, None, f"/start join_{org_code.replace('.', '-')}" if org_code else "/register"
    )
    if not org_code:
        raise ValueError("register() in tests needs an org code")
    await tb.press(user, em.messages_to(user["id"])[-1], "reg:age:n")  # 14 or older
    await tb.send(user, None, name)
    await tb.send(
        user, None, "跳过" if (user.get("language_code") or "zh").startswith("zh") else "Skip"
    )
    consent = em.messages_to(user["id"])[-1]  # the summary with the notice: one tap
    await tb.press(user, consent, "reg:consent:y")


async def build_tower(tb: Harness) -> dict[str, Any]:
    em = tb.em
    boss = em.add_user("晓明", last_name="王", username="wang_xiaoming", user_id=SUPERUSER_ID)
    sec_a = em.add_user("李娜", username="lina_daxu")
    member_a = em.add_user("小红", username="xiaohong")
    member_b = em.add_user("Tom", username="tom_b", language_code="en")
    outsider = em.add_user("路人")
    root = em.add_group("雁山区团委工作群", members=[boss["id"], sec_a["id"]])
    chat_a = em.add_group("大埠乡团委工作群", members=[boss["id"], sec_a["id"], member_a["id"]])
    chat_b = em.add_group(
        "雁山街道团工委群", members=[boss["id"], member_b["id"]], type="supergroup"
    )
    await tb.send(boss, None, "/start")
    await found_tower(
        tb.send,
        boss,
        root,
        YANSHAN_ORGS[:2],
        binds=[(chat_a, "yanshan.dabu"), (chat_b, "yanshan.jiedao")],
    )
    await register(tb, boss, "王晓明", "yanshan")
    await register(tb, sec_a, "李娜", "yanshan.dabu")
    await register(tb, member_a, "陈小红", "yanshan.dabu")
    await register(tb, member_b, "Tom Li", "yanshan.jiedao")
    said = em.text(sec_a, chat_a, "大家好")["message"]
    await tb.send(boss, chat_a, "/role secretary", reply_to=said)
    return {
        "boss": boss,
        "sec_a": sec_a,
        "member_a": member_a,
        "member_b": member_b,
        "outsider": outsider,
        "root": root,
        "chat_a": chat_a,
        "chat_b": chat_b,
    }


# --- CI: a skipped test is a test that did not run ------------------------------------------
# With TOWERBOT_NO_SKIPS=1 (set by .ci/run) any skip fails the run, and the summary names them.


def _no_skips() -> bool:
    return os.environ.get("TOWERBOT_NO_SKIPS") == "1"


def _skipped(config: pytest.Config) -> list[Any]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return list(reporter.stats.get("skipped", [])) if reporter is not None else []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _no_skips() and _skipped(session.config) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    skipped = _skipped(config)
    if not (_no_skips() and skipped):
        return
    terminalreporter.section("TOWERBOT_NO_SKIPS: skipped tests fail this run", red=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.line(f"{report.nodeid}: {reason}", red=True)
