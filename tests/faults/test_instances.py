"""Three webhook instances on one database behind a round-robin load balancer, one killed.

Each instance is `towerbot run` (webhook mode) in its own process, listening on its own port;
a small load balancer here forwards Telegram's POSTs to them in turn (a dead one answers 502
and Telegram tries again). Mid-announcement the instance that sends the outbox is killed with
kill -9: a standby takes the sender lease when it expires and finishes, every chat gets its
copy, duplicates are no more than the messages in flight; one chat's updates are answered in
order although they land on different instances; reminders due meanwhile fire once each.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.emulator import Emulator
from tests.faults.conftest import (
    ROOT,
    SUPERUSER,
    BotProcess,
    bound_world,
    branch_tree,
    codes_of,
    has_button,
    remind_secretaries,
    sends,
    served,
    sql,
    wait_for,
)

SECRET = "fault-suite_instances-secret-0123456789"
LEASE = 2  # seconds: a killed sender's lease expires quickly
CHATS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Balancer:
    """Round-robin over the instances' ports; a backend that does not answer is skipped."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        self._turn = itertools.cycle(range(len(ports)))
        self.served: list[int] = []  # which backend took each delivery
        self._client = httpx.AsyncClient(timeout=30)

    async def forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        for _ in self.ports:
            index = next(self._turn)
            try:
                answer = await self._client.post(
                    f"http://127.0.0.1:{self.ports[index]}/telegram", content=body, headers=headers
                )
            except httpx.TransportError:
                continue  # dead backend: the next one
            self.served.append(index)
            return Response(answer.content, status_code=answer.status_code)
        return Response("no backend", status_code=502)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Balancer]:
        app = Starlette(routes=[Route("/telegram", self.forward, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            yield self
        finally:
            server.should_exit = True
            await task
            await self._client.aclose()


class Instance(BotProcess):
    """`towerbot run` in webhook mode on its own port, published as the balancer's URL."""

    ready_call = "setWebhook"
    not_ready = "did not set its webhook"

    def __init__(self, em: Emulator, db: Path, logs: Path, port: int, public: str) -> None:
        logs.mkdir(exist_ok=True)
        super().__init__(em, db, logs, rate=200)
        self.port = port
        self.public = public

    def _spawn(self, url: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOWERBOT_")}
        env.update(
            PYTHONPATH=str(ROOT),
            TOWERBOT_TOKEN=self.em.token,
            TOWERBOT_DB=str(self.db),
            TOWERBOT_API_BASE_URL=url.rstrip("/") + "/bot",
            TOWERBOT_SUPERUSERS=str(SUPERUSER),
            TOWERBOT_FLOOD_LIMIT="10000",
            TOWERBOT_RATE="200",
            TOWERBOT_LEASE_SECONDS=str(LEASE),
            TOWERBOT_WEBHOOK_URL=self.public,
            TOWERBOT_WEBHOOK_LISTEN="127.0.0.1",
            TOWERBOT_WEBHOOK_PORT=str(self.port),
            TOWERBOT_WEBHOOK_SECRET=SECRET,
        )
        with open(self.logs / f"bot{self.runs}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.logs,
                env=env,
            )


def sender_pid(db: Path) -> int | None:
    rows = sql(db, "SELECT owner FROM leases WHERE name = 'sender'")
    return int(rows[0][0].split(":")[-2]) if rows else None


async def test_three_instances_one_killed_mid_announcement(tmp_path: Path) -> None:
    async with served(tmp_path) as (em, db, _unused):
        boss = em.add_user("晓明", user_id=SUPERUSER)
        shape = branch_tree(CHATS - 1)  # the root and its branches: one chat each
        groups = await bound_world(em, db, shape, codes_of(shape), [boss["id"]])
        secretaries = await remind_secretaries(em, db, 30, lambda now, i: now + 25.0 + i * 0.2)
        ports = [free_port() for _ in range(3)]
        async with Balancer(ports).running() as lb:
            bots = [
                Instance(em, db, tmp_path / f"i{n}", port, lb.url) for n, port in enumerate(ports)
            ]
            try:
                for bot in bots:
                    await bot.start()
                await wait_for(lambda: sender_pid(db) is not None, 30, "a sender elected")
                ids = {row[0] for row in sql(db, "SELECT id FROM instances")}
                assert len(ids) == 3, ids
                leader = next(b for b in bots if b.pid == sender_pid(db))

                # one chat's updates, round-robin over the instances, answered in order
                user = em.add_user("小明", language_code="en")
                for text in ("/start", "/help", "/me", "/help", "/me", "/help"):
                    em.text(user, None, text)
                await wait_for(lambda: len(em.messages_to(user)) >= 6, 60, "six answers")
                answers = [m.text or "" for m in em.messages_to(user)][:6]
                assert answers[1] == answers[3] == answers[5] and answers[2] == answers[4]
                assert answers[1] != answers[2] and answers[0] not in answers[1:]
                assert len(set(lb.served)) == 3, "the deliveries went to every instance"

                em.text(boss, groups["d"], "/announce 周六上午9点各支部组织志愿者到社区集合 MULTI")
                copy = has_button("ann:")
                await wait_for(lambda: len(sends(em, copy)) >= 60, 90, "copies", interval=0.002)
                leader.kill()
                got = sends(em, copy)
                pending = {
                    chat
                    for (chat,) in sql(
                        db,
                        "SELECT chat_id FROM outbox WHERE ref LIKE 'announce:%'"
                        " AND status = 'pending'",
                    )
                }
                in_flight = sum(1 for chat in pending if got.get(chat, 0) > 0)
                at_kill = len(got)
                assert 0 < at_kill < CHATS, "the kill must land mid-announcement"

                await wait_for(lambda: len(sends(em, copy)) >= CHATS, 120, "every copy")
                await wait_for(lambda: sender_pid(db) not in (None, leader.pid), 30, "a new sender")
                people = set(secretaries.values())
                await wait_for(
                    lambda: set(sends(em, lambda s: s.chat_id in people)) == people,
                    90,
                    "every reminder",
                )
                await wait_for(
                    lambda: not sql(db, "SELECT 1 FROM outbox WHERE status = 'pending'"),
                    60,
                    "outbox drained",
                )
                await asyncio.sleep(0.3)
                got = sends(em, copy)
                duplicates = sum(n - 1 for n in got.values())
                print(
                    f"\n3 instances, sender killed at {at_kill}/{CHATS}: duplicates "
                    f"{duplicates} (in flight at the kill: {in_flight}); deliveries per "
                    f"instance {[lb.served.count(i) for i in range(3)]}"
                )
                assert set(got) == {g["id"] for g in groups.values()}
                assert duplicates <= in_flight
                assert sql(db, "SELECT COUNT(*) FROM announcements") == [(1,)]
                reminded = sends(em, lambda s: s.chat_id in people)
                assert all(n == 1 for n in reminded.values()), reminded
                rows = sql(db, "SELECT status FROM reminders WHERE kind = 'campaign'")
                assert {s for (s,) in rows} == {"done"} and len(rows) == 30
                assert all(b.alive() for b in bots if b is not leader)
            finally:
                for bot in bots:
                    bot.kill()
