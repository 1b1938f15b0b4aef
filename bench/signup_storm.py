"""Sign-up storm: how close does a full sign-up press get to a bare answerCallbackQuery?

One emulator (Telegram's limits on) serves two applications in the same run:
  * bare  — a PTB app with one CallbackQueryHandler that only answers the query;
  * bot   — the real TowerBot (every handler, the database, the outbox, the card editor).
An activity of capacity C is posted with `| cascade` into K chats; P registered users (rows
inserted in bulk through storage) press Sign up on their chat's copy, all at once, and the
same P users press a button of the bare app. Ratio = bare time / bot time (target >= 0.5).
Then the coalesced card edits are awaited and checked: every copy shows the final count, no
edit was refused with 429, and no group got more than 20 edits in any minute.

    python bench/signup_storm.py [--presses 2000 --capacity 100 --chats 5] [--small]
                                 [--transport http|inproc]

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
import tempfile
import time
from collections import deque
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.app import running, services_of  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import activities as act_repo  # noqa: E402
from storage import users as users_repo  # noqa: E402

SUPERUSER = 5820137746
WARM = 100


def _request(em: Emulator, url: str | None, pool: int):  # type: ignore[no-untyped-def]
    if url is None:
        return em.request(read_timeout=30.0)
    return HTTPXRequest(connection_pool_size=pool, read_timeout=30.0, pool_timeout=30.0)


async def say(em: Emulator, app, user: dict, chat, text: str) -> None:  # type: ignore[no-untyped-def]
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


async def run(presses: int, capacity: int, chats: int, transport: str) -> dict[str, float]:
    em = Emulator(per_chat_burst=20, group_per_minute=None)
    url = await em.serve() if transport == "http" else None
    pool = 256
    tmp = tempfile.TemporaryDirectory()
    settings = Settings(token=em.token, db=str(Path(tmp.name) / "storm.sqlite3"),
                        superusers=[SUPERUSER], chat_daily_budget=1000,
                        api_base_url=(url + "/bot") if url else None)
    kwargs = {} if url else {"request": em.request(30.0), "get_updates_request": em.request()}
    if url:
        kwargs = {"request": _request(em, url, pool), "get_updates_request": _request(em, url, 8)}

    # --- the bare app -------------------------------------------------------------------------
    async def only_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer()

    builder = ApplicationBuilder().token(em.token)
    if url:
        builder = builder.base_url(url + "/bot").request(_request(em, url, pool))
    else:
        builder = builder.request(em.request(30.0))
    bare = builder.build()
    bare.add_handler(CallbackQueryHandler(only_answer))
    await bare.initialize()

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
        # registered users, inserted in bulk
        users = [em.add_user(f"V{i}") for i in range(presses)]
        warmers = [em.add_user(f"W{i}") for i in range(WARM)]
        em.started.update(u["id"] for u in users + warmers)
        now = time.time()
        async with services.db.transaction() as tx:
            for u in users + warmers:
                await users_repo.upsert_user(tx, user_id=u["id"], first_name=u["first_name"],
                                             username=None, tg_lang="en", started=True, now=now)
                await users_repo.save_person(tx, user_id=u["id"], real_name=f"Real {u['id']}",
                                             phone=None, org_id=root.id, now=now)
        start = datetime.fromtimestamp(math.ceil((time.time() + 3 * 86400) / 60) * 60,
                                       settings.tz).strftime("%Y-%m-%d %H:%M")
        await say(em, app, boss, groups[0],
                  f"/activity Storm | {start} | 2 | {capacity} | Square | cascade")
        activity_id = int((await services.db.fetchone("SELECT MAX(id) FROM activities"))[0])
        await services.sender.drain(30)
        editor = services.activities.cards
        await editor.resolve([activity_id])
        cards = {c.chat_id: c for c in await act_repo.cards_of(services.db.reader, [activity_id])}
        assert len(cards) == chats and all(c.message_id for c in cards.values()), cards
        chat_ids = [g["id"] for g in groups]
        em.pending_updates.clear()

        def make_presses(data_of, who=users) -> list[dict]:  # type: ignore[no-untyped-def]
            out = []
            for i, u in enumerate(who):
                cid = chat_ids[i % chats]
                stored = em.message(cid, cards[cid].message_id)
                out.append(em.press(u, stored, data_of(i)))
            return out

        async def storm(target, updates: list[dict]) -> float:  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            await asyncio.gather(*(em.deliver(target, u) for u in updates))
            return time.perf_counter() - began

        # warm both paths (connections, code paths) with other users: a bare answer, and a
        # Cancel press by someone not signed up (the full path, the roster unchanged)
        await storm(bare, make_presses(lambda i: "noop", warmers))
        await storm(app, make_presses(lambda i: f"act:{activity_id}:leave", warmers))
        answered0 = len(em.callback_answers)
        bare_updates = make_presses(lambda i: "noop")
        bot_updates = make_presses(lambda i: f"act:{activity_id}:join")
        edits_mark = len(em.sent)
        bare_seconds = await storm(bare, bare_updates)
        bare_answered = len(em.callback_answers) - answered0
        answered1 = len(em.callback_answers)
        edit_times: list[float] = []
        bot_seconds = await storm(app, bot_updates)
        bot_answered = len(em.callback_answers) - answered1

        confirmed, waiting = await act_repo.recount(services.db.reader, activity_id)
        expected = f"{min(presses, capacity)}/{capacity}"

        async def settled() -> bool:
            for cid, card in cards.items():
                text = (em.message(cid, card.message_id) or {}).get("text", "")
                if f"{expected} · waitlist {max(0, presses - capacity)}" not in text \
                        and f"{expected} · 候补 {max(0, presses - capacity)}" not in text:
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
        worst_minute = max((max_in_window(v) for v in per_chat.values()), default=0)
        rejected = sum(1 for c in em.calls if c.method == "editMessageText" and c.status == 429)
        result = {
            "bare": bare_seconds, "bot": bot_seconds, "confirmed": confirmed,
            "waiting": waiting, "bare_answered": bare_answered, "bot_answered": bot_answered,
            "edits": len(edits), "edit_span": (max(edit_times) - min(edit_times)) if edit_times
            else 0.0, "worst_minute": worst_minute, "rejected": rejected,
            "settled": float(await settled()), "settle": settle_seconds,
        }
    await bare.shutdown()
    await em.close()
    tmp.cleanup()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=2000)
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--chats", type=int, default=5)
    parser.add_argument("--transport", choices=("http", "inproc"), default="inproc")
    parser.add_argument("--small", action="store_true", help="200 presses, capacity 20")
    args = parser.parse_args(argv)
    if args.small:
        args.presses, args.capacity = 200, 20
    logging.basicConfig(level=logging.WARNING)
    r = asyncio.run(run(args.presses, args.capacity, args.chats, args.transport))

    ratio = r["bare"] / r["bot"]
    overbooked = max(0, int(r["confirmed"]) - args.capacity)
    lost = (args.presses - int(r["confirmed"] + r["waiting"])) + (args.presses - int(r["bot_answered"]))
    print(f"presses={args.presses} users={args.presses} capacity={args.capacity} "
          f"chats={args.chats} transport={args.transport}")
    print(f"bare answerCallbackQuery     {r['bare']:.3f} s  ({args.presses / r['bare']:.0f}/s, "
          f"answered {int(r['bare_answered'])})")
    print(f"TowerBot sign-up press       {r['bot']:.3f} s  ({args.presses / r['bot']:.0f}/s, "
          f"answered {int(r['bot_answered'])})")
    print(f"roster                       confirmed={int(r['confirmed'])} "
          f"waitlist={int(r['waiting'])}")
    print(f"card edits                   {int(r['edits'])} over {r['edit_span']:.0f} s, "
          f"worst group minute {int(r['worst_minute'])}/20, 429s {int(r['rejected'])}, "
          f"copies settled={bool(r['settled'])} ({r['settle']:.1f} s after the storm)")
    print(f"signup_storm ratio={math.floor(ratio * 100) / 100:.2f} overbooked={overbooked} "
          f"lost={lost} edits={int(r['edits'])} presses={args.presses}")
    ok = (overbooked == 0 and lost == 0 and r["rejected"] == 0 and r["worst_minute"] <= 20
          and r["settled"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
