"""The Starlette app: `POST <webhook path>` (fails closed) and `GET /healthz`.

The webhook endpoint checks, in this order, before anything is stored or handled: the secret
header (compared with `hmac.compare_digest`; missing or wrong → 403), the body size (→ 413), and
that the body is a JSON object with an integer `update_id` (→ 400). An accepted update is
committed to the inbox before the 200 goes out; a re-delivered update_id is answered 200 and
ignored.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Bot, Update

from bot.concurrency import chat_key
from bot.domain.inbox import Inbox
from storage.db import DatabaseLocked

log = logging.getLogger(__name__)

SECRET_HEADER = b"x-telegram-bot-api-secret-token"
#: Telegram's updates are a few kB; a megabyte leaves room and stops floods of junk early.
MAX_BODY = 1_000_000
_MAX_UPDATE_ID = 2**63 - 1  # SQLite's INTEGER


class Worker(Protocol):
    """What the endpoints need of the inbox worker."""

    @property
    def running(self) -> bool:
        """Whether the worker is feeding the Application."""
        ...

    def wake(self) -> None:
        """A new row is committed."""
        ...


def _status(code: int) -> Response:
    return Response(status_code=code)


class TelegramWebhook:
    """The endpoint Telegram POSTs updates to."""

    def __init__(
        self,
        secret: str,
        inbox: Inbox,
        bot: Bot,
        on_accept: Callable[[], None],
        max_body: int = MAX_BODY,
    ) -> None:
        if not secret:
            raise ValueError("a webhook secret is required")
        self._secret = secret.encode("ascii")
        self.inbox = inbox
        self.bot = bot
        self.on_accept = on_accept
        self.max_body = max_body

    def authentic(self, request: Request) -> bool:
        """Exactly one secret header, equal to ours (constant-time on the bytes)."""
        given = [value for name, value in request.scope["headers"] if name == SECRET_HEADER]
        return len(given) == 1 and hmac.compare_digest(given[0], self._secret)

    async def _body(self, request: Request) -> bytes | None:
        """The body, or None when it is larger than `max_body`."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _chat_key(self, data: dict[str, Any]) -> int:
        try:
            return chat_key(Update.de_json(data, self.bot))
        except (TypeError, ValueError, KeyError, AttributeError):  # unreadable: stored anyway
            return 0

    async def handle(self, request: Request) -> Response:
        """Check, store, answer; handling happens later in the inbox worker."""
        if not self.authentic(request):
            log.warning(
                "webhook: refused a request without the right secret from %s",
                request.client.host if request.client else "?",
            )
            return _status(403)
        body = await self._body(request)
        if body is None:
            return _status(413)
        try:
            text = body.decode("utf-8")
            data = json.loads(text)
        except ValueError:
            return _status(400)
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if type(update_id) is not int or not 0 <= update_id <= _MAX_UPDATE_ID:
            return _status(400)
        try:
            new = await self.inbox.accept(update_id, self._chat_key(data), text)
        except DatabaseLocked:
            return _status(503)  # not stored: Telegram delivers it again later
        if new:
            self.on_accept()
        return _status(200)


class Health:
    """`GET /healthz`: liveness and backlog, no personal data."""

    def __init__(self, inbox: Inbox, worker: Worker) -> None:
        self.inbox = inbox
        self.worker = worker

    async def handle(self, request: Request) -> Response:
        """200 with the inbox figures while the worker runs, else 503."""
        figures = await self.inbox.figures()
        last = figures.last_received_at
        ok = self.worker.running
        return JSONResponse(
            {
                "ok": ok,
                "mode": "webhook",
                "inbox_pending": figures.pending,
                "last_update_at": None
                if last is None
                else datetime.fromtimestamp(last, tz=UTC).isoformat(timespec="seconds"),
            },
            status_code=200 if ok else 503,
        )


def webhook_path(url: str) -> str:
    """The path part of the public webhook URL ('/' when it has none)."""
    return urlsplit(url).path or "/"


def core_routes(path: str, hook: TelegramWebhook, health: Health) -> list[BaseRoute]:
    """The webhook and the health check; other features append their own routes."""
    return [
        Route(path, hook.handle, methods=["POST"], name="telegram_webhook"),
        Route("/healthz", health.handle, methods=["GET"], name="healthz"),
    ]


def build_web_app(routes: Sequence[BaseRoute]) -> Starlette:
    """The ASGI app serving `routes` (gzip for clients that accept it: the Mini App's files)."""
    return Starlette(
        debug=False, routes=list(routes), middleware=[Middleware(GZipMiddleware, minimum_size=500)]
    )
