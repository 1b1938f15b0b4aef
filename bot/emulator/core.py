"""The :class:`Emulator` facade: one object that is the world, the Bot API and its transports.

It composes the mixins of the package (world state, producers, faults, rate limits, the method
families, webhook delivery), routes a method name to its handler (:meth:`Emulator.call`), and
starts the transports (:meth:`Emulator.request`, :meth:`Emulator.serve`).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from . import methods_bot, methods_chats, methods_files, methods_manage, methods_messages, webhook
from .faults import Faults
from .methods_bot import BotMethods
from .methods_chats import ChatMethods
from .methods_files import FileMethods
from .methods_manage import ManageMethods
from .producers import Producers
from .records import ApiError, Call, Described, JSONDict, TransportFault, Upload, coerce, snap
from .transport import EmulatorRequest, HttpServer
from .webhook import Webhook

_METHOD_TABLES = (
    methods_bot.METHODS,
    webhook.METHODS,
    methods_messages.METHODS,
    methods_chats.METHODS,
    methods_files.METHODS,
    methods_manage.METHODS,
)


class Emulator(Producers, Faults, ManageMethods, FileMethods, ChatMethods, BotMethods, Webhook):
    """The emulated Telegram world plus a Bot API dispatcher (:meth:`call`)."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_id: int = 7481203956,
        bot_username: str = "TowerTestBot",
        bot_name: str = "塔群助手测试",
        clock: Callable[[], float] = time.time,
        *,
        limits: bool = True,
        per_chat_per_second: float | None = 1.0,
        per_chat_burst: int = 3,
        group_per_minute: int | None = 20,
        group_edits_per_minute: int | None = 20,
        global_per_second: float | None = None,
        privacy_mode: bool = True,
        seed: int | None = 0,
    ) -> None:
        super().__init__(
            bot_id, bot_username, bot_name, clock, privacy_mode=privacy_mode, seed=seed
        )
        self.token = token
        self._init_limits(
            limits=limits,
            per_chat_per_second=per_chat_per_second,
            per_chat_burst=per_chat_burst,
            group_per_minute=group_per_minute,
            group_edits_per_minute=group_edits_per_minute,
            global_per_second=global_per_second,
        )
        self._init_faults()
        self._init_webhook()
        self.latency = 0.0
        #: Seconds the HTTP server stalls on an injected ``timeout`` before dropping the socket.
        self.http_timeout_delay = 30.0
        self.base_url: str | None = None
        self._http: HttpServer | None = None
        self._handlers: dict[str, tuple[str, Callable[..., Any]]] = {
            name.lower(): (name, getattr(self, attr))
            for table in _METHOD_TABLES
            for name, attr in table.items()
        }

    # ------------------------------------------------------------------ dispatch

    async def call(
        self, method: str, params: JSONDict, files: dict[str, Upload] | None = None
    ) -> tuple[int, JSONDict]:
        """Run one Bot API method; return (HTTP status, JSON body).

        Raises :class:`TransportFault` for injected ``timeout``/``network`` faults.
        """
        if self.latency:
            await asyncio.sleep(self.latency)
        entry = self._handlers.get(method.lower())
        name = entry[0] if entry else method
        params = coerce(params)
        chat_id = params.get("chat_id")
        status, body = 200, {}
        try:
            fault = self._take_fault(name, chat_id)
            if fault is not None and fault.error != "timeout_after":
                self._raise_fault(fault, chat_id)
            if entry is None:
                raise ApiError(404, "Not Found")
            result = entry[1](params, files or {})
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Described):
                body = {
                    "ok": True,
                    "result": snap(result.result),
                    "description": result.description,
                }
            else:
                body = {"ok": True, "result": snap(result)}
            if fault is not None:
                raise TransportFault("timeout")
        except ApiError as exc:
            status, body = exc.code, exc.body()
            self.errors_returned += 1
        except TransportFault:
            self.calls.append(Call(name, chat_id, 0))
            raise
        self.calls.append(Call(name, chat_id, status))
        return status, body

    async def handle(
        self, token: str, method: str, params: JSONDict, files: dict[str, Upload] | None = None
    ) -> tuple[int, JSONDict]:
        """:meth:`call` behind a token check (401 for a wrong token), as transports use it."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        return await self.call(method, params, files)

    def file_bytes(self, token: str, path: str) -> bytes | None:
        """Content served at ``/file/bot<token>/<path>`` (None: 404)."""
        if token != self.token:
            return None
        for stored in self.files.values():
            if stored.file_path == path:
                return stored.data
        return None

    # ------------------------------------------------------------------ transports

    def request(self, read_timeout: float | None = 5.0) -> EmulatorRequest:
        """A PTB ``BaseRequest`` that calls this emulator in-process."""
        return EmulatorRequest(self, read_timeout)

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the loopback HTTP server; return its base url (``http://host:port``)."""
        self._http = HttpServer(self)
        self.base_url = await self._http.start(host, port)
        return self.base_url

    async def close(self) -> None:
        """Stop webhook delivery and the HTTP server, dropping open connections."""
        await self.stop_webhook()
        if self._http is None:
            return
        await self._http.close()
        self._http = None
