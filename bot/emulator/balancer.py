"""Several webhook instances of the bot behind one URL, as a load balancer puts them.

`Balancer` serves one webhook URL on loopback and forwards each POST to the instances' ports
in turn (round-robin); an instance that does not answer is skipped, and when none answers the
delivery gets 502 (Telegram, here the emulator, tries again later). `webhook_env` is the
environment that runs `towerbot run` as one such instance. Used by the multi-instance fault
test and `bench/multi_instance.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .core import Emulator


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Balancer:
    """Round-robin over the instances' ports; `served` records which took each delivery."""

    def __init__(self, ports: list[int], path: str = "/telegram") -> None:
        self.ports = ports
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._turn = itertools.cycle(range(len(ports)))
        self.served: list[int] = []
        self._client = httpx.AsyncClient(timeout=30)

    async def forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        for _ in self.ports:
            index = next(self._turn)
            target = f"http://127.0.0.1:{self.ports[index]}{self.path}"
            try:
                answer = await self._client.post(target, content=body, headers=headers)
            except httpx.TransportError:
                continue  # a dead instance: the next one
            self.served.append(index)
            return Response(answer.content, status_code=answer.status_code)
        return Response("no instance answered", status_code=502)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Balancer]:
        app = Starlette(routes=[Route(self.path, self.forward, methods=["POST"])])
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        try:
            yield self
        finally:
            server.should_exit = True
            await task
            await self._client.aclose()


def webhook_env(
    em: Emulator,
    db: str | Path,
    *,
    root: Path,
    port: int,
    public: str,
    secret: str,
    superuser: int,
    **settings: object,
) -> dict[str, str]:
    """The environment of `towerbot run` as one webhook instance: Telegram is `em` (served),
    the database `db`, listening on `port` of loopback, published as `public`; `settings`
    become more TOWERBOT_* variables (rate=50 -> TOWERBOT_RATE=50)."""
    assert em.base_url, "serve the emulator first"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWERBOT_")}
    env.update(
        PYTHONPATH=str(root),
        TOWERBOT_TOKEN=em.token,
        TOWERBOT_DB=str(db),
        TOWERBOT_API_BASE_URL=em.base_url.rstrip("/") + "/bot",
        TOWERBOT_SUPERUSERS=str(superuser),
        TOWERBOT_FLOOD_LIMIT="10000",
        TOWERBOT_WEBHOOK_URL=public,
        TOWERBOT_WEBHOOK_LISTEN="127.0.0.1",
        TOWERBOT_WEBHOOK_PORT=str(port),
        TOWERBOT_WEBHOOK_SECRET=secret,
    )
    env.update({f"TOWERBOT_{k.upper()}": str(v) for k, v in settings.items()})
    return env
