"""/me round trips from 50 users: TowerBot (default and one-at-a-time) versus a bare PTB echo bot.

Both bots poll the same kind of emulator over HTTP on loopback (getUpdates long polling, replies
by sendMessage). Throughput = replies per second from the first update queued to the last reply
seen. Per-chat flood limits are off for both: this measures the bot's processing, not
Telegram's pacing. Sides run interleaved by bench/runner.py; prints
`roundtrip ratio=… spread=… tuned_ratio=… sequential_ratio=… towerbot_rps=… bare_rps=…`.

`--emulator process` (the default) runs the emulator in a process of its own, as Telegram is a
server of its own: the bots' processes do only their own work (and a bot that handles several
chats at once overlaps its requests, as it would with Telegram). `--emulator inproc` runs it
inside the bench's process, where it shares the bots' core (it then parses the longer HTML
replies of TowerBot on TowerBot's time, and concurrency can only cost).

    python bench/roundtrip.py [--round-trips 2000 --users 50] [--pairs 5] [--quick] [--db pg|URL]
                              [--emulator process|inproc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bench.runner import (
    Databases,
    Figures,
    add_options,
    collect,
    databases,
    interleave,
    summary,
    with_bot_collector,
)
from bot.app import build_application
from bot.demo.worlds import polling, register_people
from bot.emulator import Emulator
from bot.settings import Settings
from storage import orgs as org_repo
from storage.db import open_database


async def wait_replies(em: Emulator, count: int, timeout: float, mark: int = 0) -> None:
    """Wait until the emulator has accepted `count` sendMessage calls after record `mark`
    (counting only the records added since the last look: a rescan of every record each
    10 ms cost the slower side more)."""
    deadline = time.perf_counter() + timeout
    seen, replies = mark, 0
    while True:
        fresh = em.sent[seen:]
        seen += len(fresh)
        replies += sum(1 for s in fresh if s.method == "sendMessage")
        if replies >= count:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError("replies did not arrive")
        await asyncio.sleep(0.01)


def make_world(users: int) -> tuple[Emulator, list[dict]]:
    """An emulator without limits and `users` people who started the bot."""
    em = Emulator(limits=False)
    people = [em.add_user(f"用户{i}", username=f"u{i}") for i in range(users)]
    for user in people:
        em.started.add(user["id"])
    return em, people


async def queue_and_wait(em: Emulator, people: list[dict], total: int) -> float:
    """Queue `total` /me updates round-robin over people; seconds until every reply is sent."""
    mark = len(em.sent)
    start = time.perf_counter()
    for i in range(total):
        em.text(people[i % len(people)], None, "/me")
    await wait_replies(em, total, timeout=120, mark=mark)
    return time.perf_counter() - start


@dataclass
class Telegram:
    """One run's emulator as a bot sees it: its URL and token, its people, and `go(total)`
    (queue `total` /me, the seconds until every reply is in)."""

    url: str
    token: str
    people: list[dict]
    go: Callable[[int], Awaitable[float]]


@asynccontextmanager
async def telegram(users: int, where: str) -> AsyncIterator[Telegram]:
    """The emulator for one run: in this process, or a child process (`--emulator-child`)
    spoken to over its stdin/stdout."""
    if where == "inproc":
        em, people = make_world(users)
        url = await em.serve()
        try:
            yield Telegram(url, em.token, people, lambda total: queue_and_wait(em, people, total))
        finally:
            await em.close()
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--emulator-child",
        str(users),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    stdin, stdout = child.stdin, child.stdout

    async def ask(line: str) -> dict:
        stdin.write(line.encode() + b"\n")
        await stdin.drain()
        return dict(json.loads(await stdout.readline()))

    async def go(total: int) -> float:
        return float((await ask(f"go {total}"))["seconds"])

    try:
        hello = json.loads(await stdout.readline())
        yield Telegram(hello["url"], hello["token"], hello["people"], go)
    finally:
        if child.returncode is None:
            stdin.write(b"quit\n")
            await stdin.drain()
            await child.wait()


async def emulator_child(users: int) -> None:
    """--emulator-child USERS: serve an emulator; say its URL, token and people as one JSON
    line; then per `go N` line on stdin answer {"seconds": …}; stop at `quit` or EOF."""
    em, people = make_world(users)
    url = await em.serve()
    print(json.dumps({"url": url, "token": em.token, "people": people}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        words = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not words or words[0] != "go":
            break
        seconds = await queue_and_wait(em, people, int(words[1]))
        print(json.dumps({"seconds": seconds}), flush=True)
    await em.close()


async def drive(tg: Telegram, app: Application, total: int) -> float:
    """Poll while `total` /me are queued and answered; replies per second."""
    async with polling(app):
        return total / await tg.go(total)


async def bare(total: int, users: int, where: str) -> Figures:
    """The bare PTB echo bot: one CommandHandler answering /me."""
    async with telegram(users, where) as tg:

        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await update.effective_message.reply_text("me")

        app = Application.builder().token(tg.token).base_url(tg.url + "/bot").build()
        app.add_handler(CommandHandler("me", echo))
        return {"rps": await drive(tg, app, total)}


async def towerbot(
    dbs: Databases, total: int, users: int, where: str, concurrency: int = 8
) -> Figures:
    """TowerBot answering /me for registered members (registered straight into storage)."""
    async with telegram(users, where) as tg, dbs.fresh("roundtrip") as target:
        # 40 /me a person in seconds is a flood by design
        settings = Settings(
            _env_file=None,
            token=SecretStr(tg.token),
            db=str(target),
            superusers=[],
            api_base_url=tg.url + "/bot",
            flood_limit=10_000,
            concurrency=concurrency,
        )
        # register everyone first (migrating the database), as real members would be
        db = await open_database(target).connect()
        try:
            async with db.transaction() as tx:
                org = await org_repo.insert(
                    tx, code="bench", name="基准区团委", kind=None, parent=None, now=time.time()
                )
                await register_people(tx, tg.people, org.id, real_name=lambda u: "某某")
        finally:
            await db.close()
        return {"rps": await drive(tg, build_application(settings), total)}


async def main(dbs: Databases, total: int, users: int, pairs: int, warmup: int, where: str) -> str:
    """Interleave TowerBot (default, then one at a time) with the bare bot; the summary line."""
    rounds = await interleave(
        {
            "towerbot": lambda: towerbot(dbs, total, users, where),
            "sequential": lambda: towerbot(dbs, total, users, where, concurrency=1),
            "bare": lambda: bare(total, users, where),
            "bare_tuned": with_bot_collector(lambda: bare(total, users, where)),
        },
        pairs,
        warmup,
    )
    figures = collect(
        rounds,
        {
            "ratio": lambda r: r["towerbot"]["rps"] / r["bare"]["rps"],
            "tuned_ratio": lambda r: r["towerbot"]["rps"] / r["bare_tuned"]["rps"],
            "sequential_ratio": lambda r: r["sequential"]["rps"] / r["bare"]["rps"],
            "towerbot_rps": lambda r: r["towerbot"]["rps"],
            "bare_rps": lambda r: r["bare"]["rps"],
        },
    )
    # the targets of issue 15: the bot's own work weighs more next to a server's round trips
    target = 0.75 if dbs.engine == "sqlite" else 0.6
    return summary(
        "roundtrip",
        figures,
        {
            "round_trips": total,
            "users": users,
            "pairs": pairs,
            "emulator": where,
            "target": target,
            "db": dbs.engine,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--emulator", choices=("process", "inproc"), default="process")
    parser.add_argument("--emulator-child", type=int, metavar="USERS", help=argparse.SUPPRESS)
    add_options(parser, "200 round trips")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("towerbot.updates").setLevel(logging.WARNING)
    if args.emulator_child is not None:
        asyncio.run(emulator_child(args.emulator_child))
        sys.exit(0)
    total = 200 if args.quick else args.round_trips
    with databases(args.db) as dbs:
        print(asyncio.run(main(dbs, total, args.users, args.pairs, args.warmup, args.emulator)))
