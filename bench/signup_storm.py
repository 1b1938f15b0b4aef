"""Sign-up storm: how close does a full sign-up press get to a bare answerCallbackQuery?

One emulator (Telegram's limits on) serves two applications in the same run:
  * bare  — a PTB app with one CallbackQueryHandler that only answers the query;
  * bot   — the real TowerBot (every handler, the database, the outbox, the card editor).
An activity of capacity C is posted with `| cascade` into K chats; P registered users (rows
inserted in bulk through storage) press Sign up on their chat's copy, all at once, and the
same P users press a button of the bare app. Ratio = bare time / bot time (target >= 0.6).
Then the coalesced card edits are awaited and checked: every copy shows the final count, no
edit was refused with 429, and no group got more than 20 edits in any minute. Each side builds
its own world per run; bench/runner.py interleaves them (bare, bot, bare, bot, ...).

    python bench/signup_storm.py [--presses 2000 --capacity 100 --chats 5] [--pairs 5] [--quick]
                                 [--transport http|inproc] [--db pg|URL]

`inproc` (default) calls the emulator in-process: no network at all, so a round trip costs
almost nothing and the bot's own work shows fully (the harshest ratio). `http` talks to it over
loopback HTTP like a real Bot API server (there the emulator's HTTP server dominates both).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes
from telegram.request import HTTPXRequest

from bench.runner import (
    Databases,
    Figures,
    databases,
    params,
    parse_options,
    run_and_report,
    with_bot_collector,
)
from bot.app import running, services_of
from bot.context import Services
from bot.demo.worlds import SUPERUSER, register_people, settings_for
from bot.emulator import Emulator
from bot.settings import Settings
from storage import activities as act_repo

WARM = 100


def _request(em: Emulator, url: str | None, pool: int):  # type: ignore[no-untyped-def]
    """The in-process transport, or HTTPX to the emulator's loopback server."""
    if url is None:
        return em.request(read_timeout=30.0)
    return HTTPXRequest(connection_pool_size=pool, read_timeout=30.0, pool_timeout=30.0)


async def say(em: Emulator, app, user: dict, chat, text: str) -> None:  # type: ignore[no-untyped-def]
    """A person types `text`; the bot handles it before this returns."""
    await em.deliver(app, em.text(user, chat, text))


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """The most events inside any `window` seconds."""
    best, q = 0, deque()  # type: ignore[var-annotated]
    for t in sorted(times):
        q.append(t)
        while q and q[0] <= t - window:
            q.popleft()
        best = max(best, len(q))
    return best


async def storm(em: Emulator, target: object, updates: list[dict]) -> float:
    """Deliver every press at once; seconds until all are handled."""
    began = time.perf_counter()
    await asyncio.gather(*(em.deliver(target, u) for u in updates))
    return time.perf_counter() - began


async def bare_side(presses: int, chats: int, transport: str) -> Figures:
    """A PTB app with one CallbackQueryHandler that only answers, pressed by P users."""
    em = Emulator(per_chat_burst=20, group_per_minute=None)
    url = await em.serve() if transport == "http" else None

    async def only_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()

    builder = ApplicationBuilder().token(em.token)
    if url:
        builder = builder.base_url(url + "/bot").request(_request(em, url, 256))
    else:
        builder = builder.request(em.request(30.0))
    bare = builder.build()
    bare.add_handler(CallbackQueryHandler(only_answer))
    await bare.initialize()
    groups = [em.add_group(f"Branch {i}", members=[SUPERUSER]) for i in range(chats)]
    button = InlineKeyboardMarkup([[InlineKeyboardButton("Sign up", callback_data="noop")]])
    cards = [await bare.bot.send_message(g["id"], "Storm", reply_markup=button) for g in groups]

    def make_presses(who: list[dict]) -> list[dict]:
        return [
            em.press(u, em.message(cards[i % chats].chat_id, cards[i % chats].message_id), "noop")
            for i, u in enumerate(who)
        ]

    users = [em.add_user(f"V{i}") for i in range(presses)]
    warmers = [em.add_user(f"W{i}") for i in range(WARM)]
    em.pending_updates.clear()
    await storm(em, bare, make_presses(warmers))  # connections and code paths
    answered0 = len(em.callback_answers)
    updates = make_presses(users)
    em.pending_updates.clear()  # delivered directly: no emulator queue to search per press
    seconds = await storm(em, bare, updates)
    answered = len(em.callback_answers) - answered0
    await bare.shutdown()
    await em.close()
    return {"seconds": seconds, "answered": answered}


async def bot_side(
    dbs: Databases, presses: int, capacity: int, chats: int, transport: str
) -> Figures:
    """The real TowerBot: an activity in `chats` chats, P registered users press Sign up."""
    async with dbs.fresh("storm") as target:
        return await bot_run(target, presses, capacity, chats, transport)


async def pressers(
    em: Emulator, services: Services, org_id: int, presses: int
) -> tuple[list[dict], list[dict]]:
    """`presses` registered people of `org_id` and WARM more to warm the path with, written
    in bulk through storage (as /register leaves them) and known to have started the bot."""
    users = [em.add_user(f"V{i}", language_code="en") for i in range(presses)]
    warmers = [em.add_user(f"W{i}", language_code="en") for i in range(WARM)]
    em.started.update(u["id"] for u in users + warmers)
    async with services.db.transaction() as tx:
        await register_people(tx, users + warmers, org_id, real_name=lambda u: f"Real {u['id']}")
    return users, warmers


def in_three_days(settings: Settings) -> str:
    """The start of the bench's activity: three days ahead, on the minute, local."""
    at = math.ceil((time.time() + 3 * 86400) / 60) * 60
    return datetime.fromtimestamp(at, settings.tz).strftime("%Y-%m-%d %H:%M")


async def bot_run(target: str, presses: int, capacity: int, chats: int, transport: str) -> Figures:
    """`bot_side` on the database at `target`."""
    em = Emulator(per_chat_burst=20, group_per_minute=None)
    url = await em.serve() if transport == "http" else None
    settings = settings_for(
        em,
        target,
        chat_daily_budget=1000,
        api_base_url=(url + "/bot") if url else None,
    )
    kwargs = {"request": em.request(30.0), "get_updates_request": em.request()}
    if url:
        kwargs = {"request": _request(em, url, 256), "get_updates_request": _request(em, url, 8)}

    async with running(settings, **kwargs) as app:
        services = services_of(app)
        boss = em.add_user("Boss", user_id=SUPERUSER)
        groups = [em.add_group(f"Branch {i}", members=[SUPERUSER]) for i in range(chats)]
        await say(em, app, boss, None, "/start")
        await say(em, app, boss, groups[0], "/setup district District")
        for i in range(1, chats):
            await say(em, app, boss, groups[0], f"/org add district.b{i} Branch{i}")
            await say(em, app, boss, groups[i], f"/bind district.b{i}")
        root = await services.tower.org_by_code("district")
        users, warmers = await pressers(em, services, root.id, presses)
        start = in_three_days(settings)
        await say(
            em,
            app,
            boss,
            groups[0],
            f"/activity Storm | {start} | 2 | {capacity} | Square | cascade",
        )
        activity_id = int((await services.db.fetchone("SELECT MAX(id) FROM activities"))[0])
        await services.sender.drain(30)
        await services.activities.cards.resolve([activity_id])
        cards = {c.chat_id: c for c in await act_repo.cards_of(services.db.reader, [activity_id])}
        assert len(cards) == chats and all(c.message_id for c in cards.values()), cards
        chat_ids = [g["id"] for g in groups]
        em.pending_updates.clear()

        def make_presses(data: str, who: list[dict]) -> list[dict]:
            out = []
            for i, u in enumerate(who):
                cid = chat_ids[i % chats]
                out.append(em.press(u, em.message(cid, cards[cid].message_id), data))
            return out

        # warm the full path with other users: a Cancel press by someone not signed up (the
        # roster unchanged)
        await storm(em, app, make_presses(f"act:{activity_id}:leave", warmers))
        updates = make_presses(f"act:{activity_id}:join", users)
        em.pending_updates.clear()  # delivered directly: no emulator queue to search per press
        edits_mark = len(em.sent)
        answered1 = len(em.callback_answers)
        seconds = await storm(em, app, updates)
        answered = len(em.callback_answers) - answered1

        confirmed, waiting = await act_repo.recount(services.db.reader, activity_id)
        expected = f"{min(presses, capacity)}/{capacity}"

        async def settled() -> bool:
            for cid, card in cards.items():
                text = (em.message(cid, card.message_id) or {}).get("text", "")
                if (
                    f"{expected} · waitlist {max(0, presses - capacity)}" not in text
                    and f"{expected} · 候补 {max(0, presses - capacity)}" not in text
                ):
                    return False
            return True

        began = time.perf_counter()
        while not await settled() and time.perf_counter() - began < 120:
            await asyncio.sleep(0.1)
        settle_seconds = time.perf_counter() - began
        edits = [s for s in em.sent[edits_mark:] if s.method == "editMessageText"]
        per_chat: dict[int, list[float]] = {}
        for s in edits:
            per_chat.setdefault(int(s.chat_id), []).append(float(s.date))
        edit_times = [s.date for s in edits]
        result = {
            "seconds": seconds,
            "confirmed": confirmed,
            "waiting": waiting,
            "answered": answered,
            "edits": len(edits),
            "edit_span": (max(edit_times) - min(edit_times)) if edit_times else 0.0,
            "worst_minute": max((max_in_window(v) for v in per_chat.values()), default=0),
            "rejected": sum(
                1 for c in em.calls if c.method == "editMessageText" and c.status == 429
            ),
            "settled": float(await settled()),
            "settle": settle_seconds,
        }
    await em.close()
    return result


#: the sizes (each a --name option), and what --quick shrinks them to
SIZES = {"presses": 2000, "capacity": 100, "chats": 5}
QUICK, SMALL = "200 presses, capacity 20", {"presses": 200, "capacity": 20}


def transport_option(parser: argparse.ArgumentParser) -> None:
    """--transport: the bot's Bot API over HTTP or in-process (the default)."""
    parser.add_argument("--transport", choices=("http", "inproc"), default="inproc")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the summary line; 1 on overbooking, a lost press, a 429."""
    args = parse_options(__doc__, argv, QUICK, SIZES, SMALL, transport_option)
    logging.basicConfig(level=logging.WARNING)

    def lost(r: dict[str, Figures]) -> float:
        bot = r["bot"]
        unlisted = args.presses - (bot["confirmed"] + bot["waiting"])
        return unlisted + (args.presses - bot["answered"])

    with databases(args.db) as dbs:
        rounds, figures = run_and_report(
            "signup_storm",
            args,
            {
                "bare": lambda: bare_side(args.presses, args.chats, args.transport),
                "bare_tuned": with_bot_collector(
                    lambda: bare_side(args.presses, args.chats, args.transport)
                ),
                "bot": lambda: bot_side(
                    dbs, args.presses, args.capacity, args.chats, args.transport
                ),
            },
            {
                "ratio": lambda r: r["bare"]["seconds"] / r["bot"]["seconds"],
                "tuned_ratio": lambda r: r["bare_tuned"]["seconds"] / r["bot"]["seconds"],
                "bare_rps": lambda r: args.presses / r["bare"]["seconds"],
                "bot_rps": lambda r: args.presses / r["bot"]["seconds"],
                "overbooked": lambda r: max(0.0, r["bot"]["confirmed"] - args.capacity),
                "lost": lost,
                "edits": lambda r: r["bot"]["edits"],
                "worst_minute": lambda r: r["bot"]["worst_minute"],
                "rejected": lambda r: r["bot"]["rejected"],
                "settle_s": lambda r: r["bot"]["settle"],
            },
            params(args, "presses", "capacity", "chats", "transport", "pairs", target=0.6),
        )
    ok = (
        max(figures["overbooked"]) == 0
        and max(figures["lost"]) == 0
        and max(figures["rejected"]) == 0
        and max(figures["worst_minute"]) <= 20
        and all(r["bot"]["settled"] for r in rounds)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
