"""An announcement down a 4-level tower of 1,000 chats, then 5,000 acknowledgements.

The real bot (handlers, domain, outbox, sender) runs against the Bot API emulator served over
HTTP on loopback, with Telegram's per-chat and per-group limits on (429 + retry_after when
broken; no global limit, as in bench/fanout.py). The tower (1 + 10 + 100 + 889 orgs, each with
a bound group) is written straight into the database; everything else goes through updates.

Measured from the moment the /announce update is handed to the bot until the last copy is
accepted: the theoretical minimum at RATE is chats / RATE (each chat gets one copy, so the
per-chat limits do not bind). Efficiency = minimum / measured. Then every chat's 5 members
press "收到" (5,000 callback queries through the bot) and `/announce status` must read
1000 delivered, 1000 chats acknowledged, 5000 people. One side, so bench/runner.py repeats
the run after a warm-up; `broadcast ratio=` is the median efficiency, with its spread.

    python bench/broadcast.py [--chats 1000 --acks-per-chat 5 --rate 200] [--pairs 5] [--quick]
                              [--db pg|URL]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.request import HTTPXRequest

from bench.runner import (
    Databases,
    Figures,
    Round,
    Side,
    databases,
    params,
    parse_options,
    run_and_report,
)
from bot.app import running, services_of
from bot.demo.worlds import SUPERUSER, bind_groups, codes_of, settings_for, tree
from bot.emulator import Emulator


async def run(dbs: Databases, chats: int, acks_per_chat: int, rate: float) -> Figures:
    """One announcement down a fresh tower of `chats` chats, then every acknowledgement."""
    async with dbs.fresh("broadcast") as target:
        return await run_on(target, chats, acks_per_chat, rate)


async def run_on(target: str, chats: int, acks_per_chat: int, rate: float) -> Figures:
    """`run` on the database at `target`."""
    em = Emulator(limits=True, global_per_second=None)
    url = await em.serve()
    settings = settings_for(em, target, rate=rate, api_base_url=url + "/bot")
    request = HTTPXRequest(connection_pool_size=96, read_timeout=10.0)
    result: Figures = {}
    async with running(settings, request=request) as app:
        services = services_of(app)
        boss = em.add_user("晓明", user_id=SUPERUSER)
        shape = tree(chats)
        await services.tower.import_tree(shape)
        codes = codes_of(shape)
        people_of = {
            code: [em.add_user(f"团员{code}-{k}") for k in range(acks_per_chat)] for code in codes
        }
        groups = await bind_groups(
            services, em, codes, lambda code: [boss["id"]] + [p["id"] for p in people_of[code]]
        )
        members = {groups[code]["id"]: people_of[code] for code in codes}
        root = groups["d"]
        em.pending_updates.clear()

        # the broadcast
        update = em.text(boss, root, "/announce 周六上午9点各支部组织志愿者到社区集合")
        started = time.perf_counter()
        await em.deliver(app, update)
        posted = time.perf_counter()
        await services.sender.drain(max(60.0, 20 * chats / rate))
        delivered_at = time.perf_counter()
        copies = {
            s.chat_id: s
            for s in em.sent
            if s.method == "sendMessage"
            and s.text
            and "#1" in s.text
            and s.reply_markup
            and "inline_keyboard" in s.reply_markup
        }
        result["seconds"] = delivered_at - started
        result["post"] = posted - started
        result["delivered"] = sum(1 for g in groups.values() if g["id"] in copies)
        result["duplicates"] = sum(
            1
            for s in em.sent
            if s.method == "sendMessage" and s.text and "#1" in s.text and s.reply_markup
        ) - len(copies)
        result["rejected"] = sum(
            1 for c in em.calls if c.method == "sendMessage" and c.status == 429
        )

        # the acknowledgements
        presses = []
        for chat_id, people in members.items():
            sent = copies.get(chat_id)
            if sent is None:
                continue
            stored = em.message(chat_id, sent.message_id)
            presses.extend(em.press(p, stored, "ann:1:ack") for p in people)
        em.pending_updates.clear()
        mark = len(em.callback_answers)
        began = time.perf_counter()
        for press in presses:
            await em.deliver(app, press)
        result["ack_seconds"] = time.perf_counter() - began
        answers = em.callback_answers[mark:]
        result["acks"] = sum(1 for a in answers if a["text"] and "谢谢" in a["text"])

        # the status board, as staff reads it
        mark = len(em.sent)
        await em.deliver(app, em.text(boss, root, "/announce status 1"))
        board = next((s.text for s in em.sent[mark:] if s.chat_id == root["id"]), "") or ""
        # the board speaks plainly: no zero counters (nothing waiting, nothing failed)
        expected = (
            f"已送达 {chats}/{chats} 个群，{chats} 个群已确认（共 {chats * acks_per_chat} 人）"
        )
        result["status_ok"] = int(expected in board)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # keep-alive sockets cut at close
    await em.close()
    return result


#: the sizes (each a --name option), and what --quick shrinks them to
SIZES = {"chats": 1000, "acks_per_chat": 5, "rate": 200.0}
QUICK, SMALL = "100 chats, 200 acknowledgements", {"chats": 100, "acks_per_chat": 2}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the summary line; 1 when a copy or an ack went missing."""
    args = parse_options(__doc__, argv, QUICK, SIZES, SMALL)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("towerbot.updates").setLevel(logging.WARNING)

    acks = args.chats * args.acks_per_chat
    with databases(args.db) as dbs:
        _, figures = report(args, lambda: run(dbs, args.chats, args.acks_per_chat, args.rate))
    ok = (
        min(figures["delivered"]) == args.chats
        and min(figures["acks"]) == acks
        and min(figures["status_ok"]) == 1
        and max(figures["duplicates"]) == 0
    )
    return 0 if ok else 1


def report(args: argparse.Namespace, side: Side) -> tuple[list[Round], dict[str, list[float]]]:
    """Run `side` as the one side; print the summary line."""
    minimum = args.chats / args.rate
    return run_and_report(
        "broadcast",
        args,
        {"broadcast": side},
        {
            "ratio": lambda r: minimum / r["broadcast"]["seconds"],
            "seconds": lambda r: r["broadcast"]["seconds"],
            "post_s": lambda r: r["broadcast"]["post"],
            "ack_rps": lambda r: r["broadcast"]["acks"] / max(r["broadcast"]["ack_seconds"], 1e-9),
            "delivered": lambda r: r["broadcast"]["delivered"],
            "acks": lambda r: r["broadcast"]["acks"],
            "duplicates": lambda r: r["broadcast"]["duplicates"],
            "rejected": lambda r: r["broadcast"]["rejected"],
            "status_ok": lambda r: r["broadcast"]["status_ok"],
        },
        params(
            args, "chats", "acks_per_chat", rate=f"{args.rate:g}", pairs=args.pairs, target=0.95
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
