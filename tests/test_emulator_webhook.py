"""Webhook mode of the emulator: setWebhook/deleteWebhook/getWebhookInfo, 409 on getUpdates,
delivery by POST (secret header, retries, drop_pending_updates), and a PTB app fed by it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest
from telegram import Bot, Update
from telegram.error import BadRequest, Conflict
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from bot.emulator import Emulator
from tests.helpers import until

pytestmark = pytest.mark.asyncio

START = 1795140300.0
CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
    "to delete the webhook first"
)


@dataclass
class Received:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    update: dict[str, Any]


class Receiver:
    """A tiny HTTP server standing in for the bot's webhook endpoint.

    It answers the statuses in ``statuses`` one request after another, then 200; each update
    it accepts (2xx) is passed to ``on_update`` when set.
    """

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self.on_update: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.url = ""
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                _, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b""):
                    key, _, value = raw.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                update = json.loads(body)
                self.received.append(Received(path, headers, update))
                status = self.statuses.pop(0) if self.statuses else 200
                if status < 300 and self.on_update is not None:
                    await self.on_update(update)
                writer.write(
                    f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                    "Content-Length: 0\r\n\r\n".encode("latin-1")
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def update_ids(self) -> list[int]:
        return [r.update["update_id"] for r in self.received]


@pytest.fixture
async def em() -> AsyncIterator[Emulator]:
    emulator = Emulator(clock=lambda: START)
    yield emulator
    await emulator.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.close()


@pytest.fixture(params=["inproc", "http"])
async def bot(request: pytest.FixtureRequest, em: Emulator) -> AsyncIterator[Bot]:
    """A PTB Bot talking to the emulator, once per transport."""
    if request.param == "http":
        url = await em.serve()
        b = Bot(em.token, base_url=url + "/bot", base_file_url=url + "/file/bot")
    else:
        b = Bot(em.token, request=em.request(), get_updates_request=em.request())
    await b.initialize()
    yield b
    await b.shutdown()


async def test_set_delete_and_info_shapes(em: Emulator, bot: Bot, receiver: Receiver) -> None:
    assert (await em.call("getWebhookInfo", {}))[1]["result"] == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 0,
    }
    assert await bot.set_webhook(
        receiver.url,
        secret_token="s3cret_-X",
        max_connections=5,
        allowed_updates=["message", "callback_query"],
    )
    info = await bot.get_webhook_info()
    assert info.url == receiver.url and info.has_custom_certificate is False
    assert info.pending_update_count == 0 and info.max_connections == 5
    assert info.ip_address == "127.0.0.1" and info.last_error_date is None
    assert info.allowed_updates == ("message", "callback_query")
    assert (await em.call("setWebhook", {"url": receiver.url}))[1] == {
        "ok": True,
        "result": True,
        "description": "Webhook is already set",
    }
    assert (await em.call("deleteWebhook", {}))[1] == {
        "ok": True,
        "result": True,
        "description": "Webhook was deleted",
    }
    assert (await em.call("deleteWebhook", {}))[1]["description"] == "Webhook is already deleted"
    info = await bot.get_webhook_info()
    assert info.url == "" and info.max_connections is None


async def test_get_updates_conflicts_while_webhook_is_set(
    em: Emulator, bot: Bot, receiver: Receiver
) -> None:
    polling = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.05)
    await bot.set_webhook(receiver.url)
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await polling  # the long poll in progress ends too
    status, body = await em.call("getUpdates", {})
    assert status == 409 and body == {"ok": False, "error_code": 409, "description": CONFLICT}
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_delivers_by_post_with_the_secret_header(em: Emulator, receiver: Receiver) -> None:
    user = em.add_user("晓明")
    await em.call("setWebhook", {"url": receiver.url, "secret_token": "tower-secret_1"})
    first = em.text(user, None, "/start")
    second = em.text(user, None, "你好")
    await until(lambda: len(receiver.received) == 2)
    assert [r.update for r in receiver.received] == [first, second]
    got = receiver.received[0]
    assert got.path == "/hook" and got.headers["content-type"] == "application/json"
    assert got.headers["x-telegram-bot-api-secret-token"] == "tower-secret_1"
    await until(lambda: not em.pending_updates)
    info = (await em.call("getWebhookInfo", {}))[1]["result"]
    assert info["pending_update_count"] == 0 and "last_error_message" not in info

    await em.call("setWebhook", {"url": receiver.url})  # no secret: no header
    em.text(user, None, "again")
    await until(lambda: len(receiver.received) == 3)
    assert "x-telegram-bot-api-secret-token" not in receiver.received[2].headers


async def test_failed_delivery_is_retried_and_reported(em: Emulator, receiver: Receiver) -> None:
    user = em.add_user("李娜")
    receiver.statuses = [500, 502]
    await em.call("setWebhook", {"url": receiver.url})
    first = em.text(user, None, "one")
    second = em.text(user, None, "two")
    await until(lambda: len(em.webhook_attempts) == 4 and not em.pending_updates)
    # kept in order: the first update is retried until accepted before the second goes out
    assert receiver.update_ids() == [first["update_id"]] * 3 + [second["update_id"]]
    assert [status for _, status in em.webhook_attempts] == [500, 502, 200, 200]
    info = (await em.call("getWebhookInfo", {}))[1]["result"]
    assert info["last_error_date"] == int(START)
    assert info["last_error_message"] == "Wrong response from the webhook: 502 Bad Gateway"


async def test_unreachable_webhook_keeps_updates_pending(em: Emulator) -> None:
    user = em.add_user("晓明")
    closed = Receiver()
    url = await closed.start()
    await closed.close()  # nothing listens there any more
    await em.call("setWebhook", {"url": url})
    em.text(user, None, "hello?")
    await until(lambda: len(em.webhook_attempts) >= 2)
    info = (await em.call("getWebhookInfo", {}))[1]["result"]
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Connection refused"
    await em.call("deleteWebhook", {"drop_pending_updates": True})
    assert em.pending_updates == [] and em.webhook_url == ""


async def test_drop_pending_updates(em: Emulator, receiver: Receiver) -> None:
    user = em.add_user("晓明")
    em.text(user, None, "old 1")
    em.text(user, None, "old 2")
    await em.call("setWebhook", {"url": receiver.url, "drop_pending_updates": True})
    fresh = em.text(user, None, "new")
    await until(lambda: len(receiver.received) == 1)
    await asyncio.sleep(0.05)
    assert receiver.update_ids() == [fresh["update_id"]]


async def test_allowed_updates_filter_the_deliveries(em: Emulator, receiver: Receiver) -> None:
    user = em.add_user("晓明")
    await em.call("setWebhook", {"url": receiver.url, "allowed_updates": '["callback_query"]'})
    em.text(user, None, "not wanted")
    _, sent = await em.call("sendMessage", {"chat_id": user["id"], "text": "card"})
    press = em.press(user, sent["result"], "act:1:join")
    await until(lambda: not em.pending_updates)
    await asyncio.sleep(0.05)
    assert receiver.update_ids() == [press["update_id"]] and em.pending_updates == []


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"url": "ftp://example.org/hook"},
            "bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            {"url": "https://example.org/hook", "secret_token": "bot:token"},
            "secret token contains unallowed characters",
        ),
    ],
)
async def test_set_webhook_rejects_bad_parameters(
    em: Emulator, params: dict[str, Any], message: str
) -> None:
    status, body = await em.call("setWebhook", params)
    assert status == 400 and body["description"] == f"Bad Request: {message}"
    bot = Bot(em.token, request=em.request(), get_updates_request=em.request())
    with pytest.raises(BadRequest):  # PTB rewords the description a little
        await bot.set_webhook(**params)
    assert em.webhook_url == ""


async def test_ptb_application_served_by_webhook(em: Emulator, receiver: Receiver) -> None:
    """A real PTB Application fed by the webhook answers; producers are the same as polling."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("欢迎")

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(em.token)
        .request(em.request())
        .get_updates_request(em.request())
        .updater(None)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:

        async def feed(data: dict[str, Any]) -> None:
            await app.process_update(Update.de_json(data, app.bot))

        receiver.on_update = feed
        await app.bot.set_webhook(receiver.url, secret_token="abc")
        user = em.add_user("晓明")
        em.text(user, None, "/start")
        await until(lambda: em.last_to(user) is not None)
        reply = em.last_to(user)
        assert reply is not None and reply.text == "欢迎"
        await app.bot.delete_webhook()
