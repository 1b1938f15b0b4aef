"""Fan-out through the outbox: N messages to C chats; achieved rate against the configured one.

The emulator serves the Bot API over HTTP on loopback with Telegram's per-chat and per-group
limits on (429 with retry_after when broken) and no global limit. N messages to C chats (half
groups, half private chats of users who started the bot) are committed in one transaction,
then the Sender (RATE msgs/s) drains them; the time runs from that commit until the
outbox has nothing due and nothing in flight (every outcome written back). The enqueue
transaction itself is timed and printed apart. The theoretical minimum time is
max(N / RATE, the per-chat constraints), where the per-chat bound is: the j-th chat to get its
first message cannot start before (j - 1) / RATE, and then needs its own spacing (1 s between
messages, 20 per 60 s in a group) — best case, the chats with the longest spacing go first.
The ratio printed is minimum / measured (= achieved / configured rate when N / RATE dominates).
Each text carries its outbox id, so a message delivered twice or never is counted.
One side, so bench/runner.py repeats the run after a warm-up and prints medians with spreads.

    python bench/fanout.py [--messages 1000 --chats 500 --rate 200] [--pairs 5] [--quick]
                           [--profile] [--db pg|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Bot
from telegram.request import HTTPXRequest

from bench.runner import Databases, collect, databases, interleave, parse_options, summary
from bot.domain.clock import Clock
from bot.domain.outbox import Outbox
from bot.emulator import Emulator
from bot.gateway.pacing import CHAT_INTERVAL, GROUP_MAX, GROUP_WINDOW
from bot.gateway.sender import Sender
from storage.db import open_database


def chat_minimum(count: int, group: bool) -> float:
    """Shortest time from the first to the last message of one chat under the limits."""
    if count <= 0:
        return 0.0
    spacing = (count - 1) * CHAT_INTERVAL
    if group and count > GROUP_MAX:
        spacing = max(spacing, ((count - 1) // GROUP_MAX) * GROUP_WINDOW)
    return spacing


async def run(
    dbs: Databases, messages: int, chats: int, rate: float, max_in_flight: int
) -> dict[str, float]:
    """One fan-out on a fresh database."""
    async with dbs.fresh("fanout") as target:
        return await run_on(target, messages, chats, rate, max_in_flight)


async def run_on(
    target: str, messages: int, chats: int, rate: float, max_in_flight: int
) -> dict[str, float]:
    """`run` on the database at `target`."""
    em = Emulator(limits=True, global_per_second=None)
    url = await em.serve()
    request = HTTPXRequest(connection_pool_size=max_in_flight + 8, read_timeout=10.0)
    bot = Bot(em.token, base_url=url + "/bot", request=request)
    await bot.initialize()
    db = await open_database(target).connect()
    clock = Clock()
    outbox = Outbox(db, clock)
    sender = Sender(bot, outbox, db, clock, rate, max_in_flight=max_in_flight)

    groups = chats // 2
    targets: list[int] = []
    for i in range(groups):
        targets.append(em.add_group(f"Branch {i}")["id"])
    for i in range(chats - groups):
        user = em.add_user(f"Volunteer {i}")
        em.text(user, None, "/start")
        targets.append(user["id"])
    em.pending_updates.clear()

    await sender.start()
    began = time.perf_counter()
    per_chat: Counter[int] = Counter()
    async with db.transaction() as conn:
        for i in range(messages):
            chat_id = targets[i % chats]
            per_chat[chat_id] += 1
            # fresh database: ids are 1..N in order, so the text can carry the id
            item_id = await outbox.add(conn, chat_id, f"outbox #{i + 1} <b>fan-out</b> test")
            assert item_id == i + 1, (item_id, i)
    # the clock starts at the commit: from then on every message is in the outbox at once
    started = time.perf_counter()
    drained = await sender.drain(timeout=max(60.0, 10 * messages / rate))
    seconds = time.perf_counter() - started
    await sender.stop()

    delivered: Counter[int] = Counter()
    for s in em.sent:
        if s.method == "sendMessage" and s.text and s.text.startswith("outbox #"):
            delivered[int(s.text.split()[1][1:])] += 1
    counts = await outbox.counts()
    lost = sum(1 for i in range(1, messages + 1) if delivered[i] == 0)
    lost = max(lost, messages - counts.get("sent", 0))
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    rejected = sum(1 for c in em.calls if c.method == "sendMessage" and c.status == 429)

    await db.close()
    await bot.shutdown()
    await em.close()

    spacings = sorted((chat_minimum(n, cid < 0) for cid, n in per_chat.items()), reverse=True)
    minimum = max(messages / rate, max((j / rate + s for j, s in enumerate(spacings)), default=0.0))
    return {
        "seconds": seconds,
        "enqueue": started - began,
        "minimum": minimum,
        "lost": lost,
        "duplicates": duplicates,
        "drained": float(drained),
        "rejected": rejected,
        "in_flight": max_in_flight,
    }


async def repeat(args: argparse.Namespace, dbs: Databases) -> tuple[str, bool]:
    """Warm-up and `--pairs` runs; the summary line and whether every run lost nothing."""
    rounds = await interleave(
        {"fanout": lambda: run(dbs, args.messages, args.chats, args.rate, args.max_in_flight)},
        args.pairs,
        args.warmup,
    )
    figures = collect(
        rounds,
        {
            "ratio": lambda r: r["fanout"]["minimum"] / r["fanout"]["seconds"],
            "lost": lambda r: r["fanout"]["lost"],
            "duplicates": lambda r: r["fanout"]["duplicates"],
            "seconds": lambda r: r["fanout"]["seconds"],
            "achieved_rps": lambda r: args.messages / r["fanout"]["seconds"],
            "enqueue_s": lambda r: r["fanout"]["enqueue"],
            "rejected": lambda r: r["fanout"]["rejected"],
        },
    )
    ok = not any(figures["lost"]) and not any(figures["duplicates"])
    line = summary(
        "fanout",
        figures,
        {
            "rate": f"{args.rate:g}",
            "messages": args.messages,
            "chats": args.chats,
            "max_in_flight": args.max_in_flight,
            "pairs": args.pairs,
            "db": dbs.engine,
        },
    )
    return line, ok


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the summary line; 1 when a message was lost or doubled."""
    args = parse_options(
        __doc__,
        argv,
        "100 messages to 50 chats",
        {"messages": 1000, "chats": 500, "rate": 200.0, "max_in_flight": 64},
        {"messages": 100, "chats": 50},
        lambda parser: parser.add_argument(
            "--profile", action="store_true", help="print the top of a cProfile"
        ),
    )
    logging.basicConfig(level=logging.WARNING)

    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    with databases(args.db) as dbs:
        line, ok = asyncio.run(repeat(args, dbs))
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
