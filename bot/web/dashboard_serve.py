"""Polling deployments: the bot's web server for the Mini App alone (no webhook), started with
the Application and stopped with it, when TOWERBOT_WEB_URL is set.

Webhook mode needs none of this: bot/web/serve.py mounts the dashboard on the webhook's port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import uvicorn
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram.ext import Application

from bot.settings import Settings
from bot.web.dashboard import dashboard_routes
from bot.web.serve import ServeError, _Server, bind
from bot.web.server import build_web_app

log = logging.getLogger(__name__)
App = Application[Any, Any, Any, Any, Any, Any]


async def _health(request: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "mode": "polling"})


class WebServer:
    """uvicorn serving the dashboard (and /healthz) on one socket, as a task of the bot's loop."""

    def __init__(self, app: App, sock: socket.socket) -> None:
        routes = [Route("/healthz", _health, methods=["GET"]), *dashboard_routes(app)]
        self.sock = sock
        self.server = _Server(
            uvicorn.Config(build_web_app(routes), log_config=None, access_log=False, lifespan="off")
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]), name="web")
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise ServeError("the web server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task
        self.sock.close()


def attach(app: App, settings: Settings) -> None:
    """Serve the dashboard on web_port while `app` runs (after start-up, until it stops)."""
    sock = bind(settings.webhook_listen, settings.web_port)
    web = WebServer(app, sock)
    started, stopped = app.post_init, app.post_stop

    async def post_init(application: App) -> None:
        if started is not None:
            await started(application)
        await web.start()
        log.info("dashboard: serving /dashboard/ on %s:%s", *sock.getsockname()[:2])

    async def post_stop(application: App) -> None:
        await web.stop()
        if stopped is not None:
            await stopped(application)

    app.post_init = post_init
    app.post_stop = post_stop
