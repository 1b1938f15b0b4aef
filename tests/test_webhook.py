"""Webhook mode end to end: the emulator POSTs to our Starlette/uvicorn server on loopback.

A real PTB Application built by `build_application` runs behind `bot.web.serve`; the emulator
is served over HTTP and set as the bot's Bot API server, so setWebhook, delivery with the secret
header and every reply travel over real sockets. Forged requests go straight to the server.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Update

from bot.app import build_application
from bot.emulator import Emulator
from bot.settings import Settings
from bot.web.serve import bind, serve
from tests import helpers
from tests.conftest import SUPERUSER_ID
from tests.dbdump import volatile
from tests.test_settings_cli import towerbot

SECRET = "Tower_Secret-4f9c2b7a1d8e"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Hooked:
    """The emulator, the bot serving its webhook, and an HTTP client aimed at the server."""

    def __init__(self, em: Emulator, settings: Settings, client: httpx.AsyncClient) -> None:
        self.em = em
        self.settings = settings
        self.client = client
        self.db = Path(settings.db)

    async def post(
        self, body: bytes | dict[str, Any], headers: Any = None, path: str = "/telegram"
    ) -> httpx.Response:
        """POST as a stranger would: only the headers given (default: the right secret)."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        if headers is None:
            headers = {HEADER: SECRET}
        return await self.client.post(path, content=content, headers=headers)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, read as another program would."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            out = {
                t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
            }
        finally:
            conn.close()
        # the heartbeat and lease timers are the writers that run on their own
        return {t: [r for r in rows if not volatile(t, r)] for t, rows in out.items()}

    def detached(self, user: dict, chat: dict | None, text: str) -> dict[str, Any]:
        """An update the emulator builds but does not deliver (we post it ourselves)."""
        update = self.em.text(user, chat, text)
        self.em.pending_updates.remove(update)
        return update


#: the waits here allow 10 s (the bot answers through its own webhook server)
until = functools.partial(helpers.until, timeout=10.0)


@pytest.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[Hooked]:
    em = Emulator(per_chat_burst=20)
    api = await em.serve()
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    settings = Settings(
        _env_file=None,
        token=em.token,
        db=str(tmp_path / "towerbot.sqlite3"),
        superusers=[SUPERUSER_ID],
        api_base_url=api + "/bot",
        flood_limit=10_000,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SECRET,
    )
    app = build_application(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, settings, sock=sock, stop=stop))
    await until(lambda: em.webhook_url == settings.webhook_url or task.done())
    assert not task.done(), task.exception()
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        yield Hooked(em, settings, client)
    finally:
        stop.set()
        await client.aclose()
        await asyncio.wait_for(task, 30)
        await em.close()


async def test_start_and_help_answered_through_the_webhook(hooked: Hooked) -> None:
    em = hooked.em
    assert em.webhook_secret == SECRET and set(em.allowed_updates) == set(Update.ALL_TYPES)
    user = em.add_user("晓明")
    em.text(user, None, "/start")
    await until(lambda: em.last_to(user) is not None)
    welcome = em.last_to(user)
    assert welcome is not None and welcome.text
    em.text(user, None, "/help")
    await until(lambda: len(em.messages_to(user)) == 2)
    assert em.messages_to(user)[1].text != welcome.text
    assert {status for _, status in em.webhook_attempts} == {200}
    await until(lambda: hooked.dump()["inbox"] and all(r[4] for r in hooked.dump()["inbox"]))
    assert len(hooked.dump()["inbox"]) == 2


def _one_off(secret: str, at: int) -> str:
    return secret[:at] + ("x" if secret[at] != "x" else "y") + secret[at + 1 :]


# header lists (None: no header at all); each must be refused with nothing stored or handled
BAD_SECRETS: list[tuple[str, list[tuple[str, bytes]]]] = [
    ("missing", []),
    ("empty", [(HEADER, b"")]),
    ("last char off", [(HEADER, _one_off(SECRET, -1).encode())]),
    ("first char off", [(HEADER, _one_off(SECRET, 0).encode())]),
    ("middle char off", [(HEADER, _one_off(SECRET, len(SECRET) // 2).encode())]),
    ("other case", [(HEADER, SECRET.swapcase().encode())]),
    ("upper case", [(HEADER, SECRET.upper().encode())]),
    ("prefix", [(HEADER, SECRET[:-1].encode())]),
    ("extended", [(HEADER, (SECRET + "0").encode())]),
    ("very long", [(HEADER, (SECRET * 300).encode())]),
    ("unicode", [(HEADER, "秘密令牌🔑".encode())]),
    ("cyrillic lookalike", [(HEADER, SECRET.replace("e", "е").encode())]),
    ("latin-1 byte", [(HEADER, SECRET.encode() + b"\xe9")]),
    ("inner space", [(HEADER, (SECRET[:5] + " " + SECRET[5:]).encode())]),
    ("bot token", [(HEADER, b"123456:AAE-bot-token")]),
    ("right one twice", [(HEADER, SECRET.encode()), (HEADER, SECRET.encode())]),
    ("wrong then right", [(HEADER, b"wrong"), (HEADER, SECRET.encode())]),
    ("other header name", [("X-Telegram-Bot-Api-Secret", SECRET.encode())]),
    ("as bearer token", [("Authorization", b"Bearer " + SECRET.encode())]),
]


async def test_bad_secrets_are_refused_and_change_nothing(hooked: Hooked) -> None:
    em = hooked.em
    boss = em.add_user("晓明", user_id=SUPERUSER_ID)
    group = em.add_group("雁山区团委工作群", members=[boss["id"]])
    forged = [
        hooked.detached(boss, None, "/start"),
        hooked.detached(boss, group, "/setup forged 伪造组织"),
    ]
    before, sent = hooked.dump(), len(em.sent)
    for name, headers in BAD_SECRETS:
        for update in forged:
            response = await hooked.post(update, headers=headers)
            assert response.status_code == 403, name
    await asyncio.sleep(0.2)  # anything wrongly accepted would be handled by now
    assert hooked.dump() == before
    assert len(em.sent) == sent == 0
    print(f"\n{len(BAD_SECRETS)} bad secret headers x {len(forged)} forged updates refused")

    # the control: with the secret the same two updates do create the org
    for update in forged:
        assert (await hooked.post(update)).status_code == 200
    await until(lambda: len(em.messages_to(group["id"])) == 1)
    assert [r[2] for r in hooked.dump()["orgs"]] == ["伪造组织"]


async def test_forged_superuser_update_without_secret_creates_no_org(hooked: Hooked) -> None:
    em = hooked.em
    boss = em.add_user("晓明", user_id=SUPERUSER_ID)
    group = em.add_group("雁山区团委工作群", members=[boss["id"]])
    before = hooked.dump()
    for update in (
        hooked.detached(boss, None, "/start"),
        hooked.detached(boss, group, "/setup yanshan 雁山区团委"),
    ):
        for headers in ({}, {HEADER: "x" * 24}, {"Content-Type": "application/json"}):
            assert (await hooked.post(update, headers=headers)).status_code == 403
    await asyncio.sleep(0.2)
    after = hooked.dump()
    assert after == before and after["orgs"] == [] and after["inbox"] == []
    assert em.sent == []


BAD_BODIES: list[tuple[str, bytes, int]] = [
    ("not json", b"hello", 400),
    ("empty", b"", 400),
    ("truncated", b'{"update_id": 5', 400),
    ("not utf-8", b'{"update_id": 5, "x": "\xff"}', 400),
    ("array", b"[1, 2]", 400),
    ("string", b'"update"', 400),
    ("null", b"null", 400),
    ("no update_id", b'{"message": {}}', 400),
    ("string id", b'{"update_id": "5"}', 400),
    ("bool id", b'{"update_id": true}', 400),
    ("float id", b'{"update_id": 5.0}', 400),
    ("negative id", b'{"update_id": -1}', 400),
    ("huge id", b'{"update_id": 99999999999999999999999}', 400),
    ("infinite id", b'{"update_id": 1e400}', 400),
    ("over 1 MB", b'{"update_id": 5, "pad": "' + b"a" * 1_000_000 + b'"}', 413),
]


async def test_malformed_bodies_are_refused(hooked: Hooked) -> None:
    before = hooked.dump()
    for name, body, status in BAD_BODIES:
        assert (await hooked.post(body)).status_code == status, name

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"update_id": 6, "pad": "'
        for _ in range(20):
            yield b"b" * 100_000
        yield b'"}'

    chunked = await hooked.client.post("/telegram", content=chunks(), headers={HEADER: SECRET})
    assert chunked.status_code == 413
    # without the secret the size and shape are never looked at
    assert (await hooked.post(BAD_BODIES[-1][1], headers={})).status_code == 403
    assert (await hooked.client.get("/telegram", headers={HEADER: SECRET})).status_code == 405
    assert (await hooked.post({"update_id": 7}, path="/other")).status_code == 404
    await asyncio.sleep(0.1)
    assert hooked.dump() == before and hooked.em.sent == []


async def test_duplicate_update_id_is_handled_once(hooked: Hooked) -> None:
    em = hooked.em
    user = em.add_user("李娜")
    update = em.text(user, None, "/help")  # delivered by the emulator, with the secret
    await until(lambda: len(em.messages_to(user)) == 1)
    for _ in range(3):  # Telegram re-delivers after a timeout: same update_id
        assert (await hooked.post(update)).status_code == 200
    fresh = hooked.detached(user, None, "/start")
    assert (await hooked.post(fresh)).status_code == 200
    # one chat's updates run in order: a duplicate handled would come before the /start answer
    await until(lambda: len(em.messages_to(user)) >= 2)
    await asyncio.sleep(0.1)
    assert len(em.messages_to(user)) == 2
    ids = [r[0] for r in hooked.dump()["inbox"]]
    assert ids == sorted([update["update_id"], fresh["update_id"]])


async def test_healthz(hooked: Hooked) -> None:
    first = await hooked.client.get("/healthz")
    assert first.status_code == 200
    assert first.json() == {
        "ok": True,
        "mode": "webhook",
        "inbox_pending": 0,
        "last_update_at": None,
    }
    user = hooked.em.add_user("陈小红", username="xiaohong")
    hooked.em.text(user, None, "/start")
    await until(lambda: hooked.em.last_to(user) is not None)
    await until(lambda: hooked.dump()["inbox"][0][4] is not None)
    after = await hooked.client.get("/healthz")
    body = after.json()
    assert body["ok"] is True and body["inbox_pending"] == 0
    assert body["last_update_at"] and body["last_update_at"].endswith("+00:00")
    for personal in ("陈小红", "xiaohong", str(user["id"]), "/start"):
        assert personal not in after.text
    assert (await hooked.client.post("/healthz")).status_code == 405


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({}, "TOWERBOT_WEBHOOK_SECRET"),
        ({"TOWERBOT_WEBHOOK_SECRET": ""}, "TOWERBOT_WEBHOOK_SECRET"),
        ({"TOWERBOT_WEBHOOK_SECRET": "not allowed: spaces!"}, "TOWERBOT_WEBHOOK_SECRET"),
        ({"TOWERBOT_WEBHOOK_SECRET": "short"}, "TOWERBOT_WEBHOOK_SECRET"),
        (
            {
                "TOWERBOT_WEBHOOK_SECRET": SECRET,
                "TOWERBOT_WEBHOOK_URL": "http://bot.example.org/telegram",
            },
            "TOWERBOT_WEBHOOK_URL",
        ),
    ],
)
def test_run_in_webhook_mode_refuses_without_a_good_secret(
    tmp_path: Path, env: dict[str, str], fragment: str
) -> None:
    full = {
        "TOWERBOT_TOKEN": "123456:AAE-test",
        "TOWERBOT_DB": str(tmp_path / "t.sqlite3"),
        "TOWERBOT_WEBHOOK_URL": "https://bot.example.org/telegram",
        **env,
    }
    result = towerbot("run", env=full, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and fragment in result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr
    assert not (tmp_path / "t.sqlite3").exists()  # refused before anything was opened


def test_run_on_a_busy_port_exits_2(tmp_path: Path) -> None:
    with bind("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        result = towerbot(
            "run",
            cwd=tmp_path,
            env={
                "TOWERBOT_TOKEN": "123456:AAE-test",
                "TOWERBOT_DB": str(tmp_path / "t.sqlite3"),
                "TOWERBOT_WEBHOOK_URL": "https://bot.example.org/telegram",
                "TOWERBOT_WEBHOOK_SECRET": SECRET,
                "TOWERBOT_WEBHOOK_LISTEN": "127.0.0.1",
                "TOWERBOT_WEBHOOK_PORT": str(port),
            },
        )
    # (the lines before are start-up logging: the database was opened and migrated)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and last.startswith("towerbot: cannot listen on 127.0.0.1")
    assert "Traceback" not in result.stderr
