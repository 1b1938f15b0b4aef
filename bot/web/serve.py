"""Webhook mode: start the Application without polling, serve our ASGI app, stop on SIGTERM.

The order matters: the socket is bound first (a busy port fails before Telegram is touched),
the Application and its services start, the inbox worker picks up what a crash left, uvicorn
serves, and only then is the webhook registered with Telegram. Stopping runs it backwards,
except that the webhook stays set: Telegram keeps updates queued until the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn
from starlette.routing import BaseRoute
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import services_of
from bot.domain.inbox import Inbox
from bot.settings import Settings
from bot.web.dashboard import dashboard_routes
from bot.web.inbox import InboxWorker
from bot.web.server import Health, TelegramWebhook, build_web_app, core_routes, webhook_path

log = logging.getLogger(__name__)


class ServeError(Exception):
    """Webhook mode cannot start; the message is one line for the operator."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` owns SIGTERM/SIGINT and the order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host has a colon)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    handled = (signal.SIGTERM, signal.SIGINT)
    for sig in handled:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def serve(
    app: Application[Any, Any, Any, Any, Any, Any],
    settings: Settings,
    *,
    sock: socket.socket | None = None,
    stop: asyncio.Event | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> None:
    """Run webhook mode until SIGTERM/SIGINT (or until `stop` is set, when one is given)."""
    if not settings.webhook_url or settings.webhook_secret is None:
        raise ServeError("TOWERBOT_WEBHOOK_URL and TOWERBOT_WEBHOOK_SECRET are both required")
    sock = sock or bind(settings.webhook_listen, settings.webhook_port)
    if stop is None:
        stop = asyncio.Event()
        with _signals(stop):
            await _run(app, settings, sock, stop, extra_routes)
    else:
        await _run(app, settings, sock, stop, extra_routes)


async def _run(
    app: Application[Any, Any, Any, Any, Any, Any],
    settings: Settings,
    sock: socket.socket,
    stop: asyncio.Event,
    extra: Sequence[BaseRoute],
) -> None:
    assert settings.webhook_url and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    worker: InboxWorker | None = None
    server: _Server | None = None
    served: asyncio.Task[None] | None = None
    await app.initialize()
    try:
        if app.post_init is not None:  # bot/app.py startup: database, services, timers
            await app.post_init(app)
        services = services_of(app)
        assert services.leader is not None
        inbox = Inbox(
            services.db,
            services.clock,
            owner=services.leader.instances.id,
            ttl=settings.lease_seconds,
        )
        worker = InboxWorker(app, inbox, max_in_flight=4 * settings.concurrency)
        await app.start()
        await worker.start()
        hook = TelegramWebhook(secret, inbox, app.bot, worker.wake)
        routes = [
            *core_routes(webhook_path(settings.webhook_url), hook, Health(inbox, worker)),
            *dashboard_routes(app),  # the Mini App shares the webhook's port
            *extra,
        ]
        server = _Server(
            uvicorn.Config(
                build_web_app(routes),
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=10,
            )
        )
        served = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
        while not server.started:
            if served.done():
                served.result()
                raise ServeError("the web server stopped during start-up")
            await asyncio.sleep(0.01)
        try:
            await app.bot.set_webhook(
                settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
            )
        except TelegramError as exc:
            raise ServeError(f"setWebhook failed: {exc}") from None
        log.info(
            "webhook mode: serving %s on %s:%s",
            webhook_path(settings.webhook_url),
            *sock.getsockname()[:2],
        )
        waiting = asyncio.create_task(stop.wait())
        await asyncio.wait({waiting, served}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
    finally:
        if server is not None and served is not None:
            server.should_exit = True  # finishes requests in flight: their rows are committed
            with contextlib.suppress(Exception):
                await served
        sock.close()
        if worker is not None:
            await worker.stop()
        if app.running:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:  # bot/app.py shutdown: sender, database
            await app.post_shutdown(app)
