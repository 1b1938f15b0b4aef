"""/me round trips from 50 users: TowerBot (default and one-at-a-time) versus a bare PTB echo bot.

Both bots poll the same kind of emulator over HTTP on loopback (getUpdates long polling, replies
by sendMessage). Throughput = replies per second from the first update queued to the last reply
seen. Per-chat flood limits are off for both: this measures the bot's processing, not
Telegram's pacing. Sides run interleaved by bench/runner.py; prints
`roundtrip ratio=… spread=… sequential_ratio=… towerbot_rps=… bare_rps=…`.

    python bench/roundtrip.py [--round-trips 2000 --users 50] [--pairs 5] [--quick] [--db pg|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
from bot.app import build_application, running, services_of
from bot.demo.worlds import polling, register_people, settings_for
from bot.emulator import Emulator
from storage import orgs as org_repo


async def wait_replies(em: Emulator, count: int, timeout: float) -> None:
    """Wait until the emulator has accepted `count` sendMessage calls (counting only the
    records added since the last look: a rescan of every record each 10 ms cost the slower
    side more)."""
    deadline = time.perf_counter() + timeout
    seen = replies = 0
    while True:
        fresh = em.sent[seen:]
        seen += len(fresh)
        replies += sum(1 for s in fresh if s.method == "sendMessage")
        if replies >= count:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError("replies did not arrive")
        await asyncio.sleep(0.01)


async def drive(em: Emulator, app: Application, users: list[dict], total: int) -> float:
    """Queue `total` /me updates round-robin over users; seconds until every reply is sent."""
    async with polling(app):
        start = time.perf_counter()
        for i in range(total):
            em.text(users[i % len(users)], None, "/me")
        await wait_replies(em, total, timeout=120)
        return time.perf_counter() - start


def make_world(users: int) -> tuple[Emulator, list[dict]]:
    """An emulator without limits and `users` people who started the bot."""
    em = Emulator(limits=False)
    people = [em.add_user(f"用户{i}", username=f"u{i}") for i in range(users)]
    for user in people:
        em.started.add(user["id"])
    return em, people


async def bare(total: int, users: int) -> Figures:
    """The bare PTB echo bot: one CommandHandler answering /me."""
    em, people = make_world(users)
    url = await em.serve()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("me")

    app = Application.builder().token(em.token).base_url(url + "/bot").build()
    app.add_handler(CommandHandler("me", echo))
    try:
        return {"rps": total / await drive(em, app, people, total)}
    finally:
        await em.close()


async def towerbot(dbs: Databases, total: int, users: int, concurrency: int = 8) -> Figures:
    """TowerBot answering /me for registered members (registered straight into storage)."""
    em, people = make_world(users)
    url = await em.serve()
    async with dbs.fresh("roundtrip") as target:
        # 40 /me a person in seconds is a flood by design
        settings = settings_for(
            em,
            target,
            superusers=[],
            api_base_url=url + "/bot",
            _env_file=None,
            flood_limit=10_000,
            concurrency=concurrency,
        )
        # register everyone first, as real members would be
        async with running(settings, request=em.request(), get_updates_request=em.request()) as app:
            services = services_of(app)
            async with services.db.transaction() as tx:
                org = await org_repo.insert(
                    tx, code="bench", name="基准区团委", kind=None, parent=None, now=time.time()
                )
                await register_people(tx, people, org.id, real_name=lambda u: "某某")
        try:
            return {"rps": total / await drive(em, build_application(settings), people, total)}
        finally:
            await em.close()


async def main(dbs: Databases, total: int, users: int, pairs: int, warmup: int) -> str:
    """Interleave TowerBot (default, then one at a time) with the bare bot; the summary line."""
    rounds = await interleave(
        {
            "towerbot": lambda: towerbot(dbs, total, users),
            "sequential": lambda: towerbot(dbs, total, users, concurrency=1),
            "bare": lambda: bare(total, users),
            "bare_tuned": with_bot_collector(lambda: bare(total, users)),
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
        {"round_trips": total, "users": users, "pairs": pairs, "target": target, "db": dbs.engine},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50)
    add_options(parser, "200 round trips")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("towerbot.updates").setLevel(logging.WARNING)
    total = 200 if args.quick else args.round_trips
    with databases(args.db) as dbs:
        print(asyncio.run(main(dbs, total, args.users, args.pairs, args.warmup)))
