"""Big event: an activity of many posts, its card in many chats, many presses in bursts.

One emulator (Telegram's limits on) serves two applications in the same run:
  * bare  — `bench.signup_storm.bare_side`: a PTB app that only answers each press;
  * bot   — the real TowerBot: a tower of C orgs, each with its bound chat (bot/demo/worlds.py),
    an activity with P posts of N places each posted with `| cascade` into all C chats, and
    `presses` registered people (rows inserted in bulk through storage) each pressing one
    post's button on their chat's copy, delivered in bursts of `burst` with asyncio.gather.
Ratio = bare time / bot time for the same number of presses (target >= 0.5). Then the card
copies' coalesced edits are awaited: every copy must show every post's final fill; the time
that takes (which Telegram's per-group limits govern, not the presses) is `settle_seconds`.
`overbooked` counts places taken beyond a post's capacity (from the sign-ups themselves);
`lost` counts presses unanswered or with no sign-up row. The defaults are the issue's event:
20 posts of 500 places, 200 chats, 12,000 presses in bursts of 1,000.

    python bench/big_event.py [--posts 20 --places 500 --chats 200 --presses 12000
                               --burst 1000] [--pairs 5] [--quick] [--db pg|URL]
                              [--transport http|inproc]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.runner import (
    Databases,
    Figures,
    databases,
    params,
    parse_options,
    run_and_report,
    with_bot_collector,
)
from bench.signup_storm import (
    bare_side,
    in_three_days,
    max_in_window,
    pressers,
    say,
    transport_option,
)
from bot.app import running, services_of
from bot.demo.worlds import SUPERUSER, bind_groups, codes_of, settings_for, tree
from bot.emulator import Emulator
from bot.texts import t
from storage import activities as act_repo
from storage import activity_posts as post_repo


async def bot_side(dbs: Databases, args: argparse.Namespace) -> Figures:
    """The real TowerBot on a fresh database."""
    async with dbs.fresh("big_event") as target:
        return await bot_run(target, args)


def post_names(posts: int) -> list[str]:
    """The posts' names: P1, P2, ..."""
    return [f"P{i + 1}" for i in range(posts)]


async def bot_run(target: str, args: argparse.Namespace) -> Figures:
    """`bot_side` on the database at `target`."""
    posts, places, chats = args.posts, args.places, args.chats
    presses, burst, transport = args.presses, args.burst, args.transport
    em = Emulator(per_chat_burst=20, group_per_minute=None)
    url = await em.serve() if transport == "http" else None
    settings = settings_for(
        em, target, chat_daily_budget=1000, api_base_url=(url + "/bot") if url else None
    )
    kwargs = {"request": em.request(30.0), "get_updates_request": em.request()}
    if url:
        from bench.signup_storm import _request

        kwargs = {"request": _request(em, url, 256), "get_updates_request": _request(em, url, 8)}

    async with running(settings, **kwargs) as app:
        services = services_of(app)
        boss = em.add_user("Boss", user_id=SUPERUSER, language_code="en")
        await say(em, app, boss, None, "/start")
        shape = tree(chats)
        await services.tower.import_tree(shape)
        codes = codes_of(shape)
        groups = await bind_groups(services, em, codes, [boss["id"]])
        root = await services.tower.org_by_code(codes[0])
        users, warmers = await pressers(em, services, root.id, presses)
        start = in_three_days(settings)
        names = post_names(posts)
        line = ", ".join(f"{n} {places}" for n in names)
        await say(
            em,
            app,
            boss,
            groups[codes[0]],
            f"/activity Big event | {start} | 4 | - | Stadium | cascade | posts {line}",
        )
        activity_id = int((await services.db.fetchone("SELECT MAX(id) FROM activities"))[0])
        await services.sender.drain(max(60.0, chats / 2))
        await services.activities.cards.resolve([activity_id])
        cards = {c.chat_id: c for c in await act_repo.cards_of(services.db.reader, [activity_id])}
        assert len(cards) == chats and all(c.message_id for c in cards.values()), len(cards)
        chat_ids = list(cards)
        em.pending_updates.clear()

        def press(i: int, who: dict, data: str) -> dict:
            cid = chat_ids[i % chats]
            return em.press(who, em.message(cid, cards[cid].message_id), data)

        # warm the full path with other users: a Cancel press by someone not signed up
        await asyncio.gather(
            *(
                em.deliver(app, press(i, u, f"act:{activity_id}:leave"))
                for i, u in enumerate(warmers)
            )
        )
        updates = [
            press(i, u, f"act:{activity_id}:join:{i % posts + 1}") for i, u in enumerate(users)
        ]
        em.pending_updates.clear()  # delivered directly: no emulator queue to search per press
        edits_mark = len(em.sent)
        answered1 = len(em.callback_answers)
        began = time.perf_counter()
        for k in range(0, len(updates), burst):
            await asyncio.gather(*(em.deliver(app, u) for u in updates[k : k + burst]))
        seconds = time.perf_counter() - began
        answered = len(em.callback_answers) - answered1

        counted = await post_repo.recount(services.db.reader, activity_id)
        final = await act_repo.get(services.db.reader, activity_id)
        assert final is not None
        overbooked = sum(max(0, c - places) for c, _ in counted.values())
        listed = sum(c + w for c, w in counted.values())
        drift = sum(  # the posts' counters against the sign-ups they count
            1 for p in final.posts if counted.get(p.post_no, (0, 0)) != (p.confirmed, p.waiting)
        )
        expected = [
            {
                f"{p.name} "
                + t(
                    lang, "act_count", confirmed=p.confirmed, capacity=p.capacity, waiting=p.waiting
                )
                for p in final.posts
            }
            for lang in ("en", "zh")
        ]

        def settled() -> bool:
            for cid, card in cards.items():
                text = (em.message(cid, card.message_id) or {}).get("text", "")
                if not any(all(e in text for e in want) for want in expected):
                    return False
            return True

        settle_began = time.perf_counter()
        while not settled() and time.perf_counter() - settle_began < 600:
            await asyncio.sleep(0.2)
        settle_seconds = time.perf_counter() - settle_began
        edits = [s for s in em.sent[edits_mark:] if s.method == "editMessageText"]
        per_chat: dict[int, list[float]] = {}
        for s in edits:
            per_chat.setdefault(int(s.chat_id), []).append(float(s.date))
        result = {
            "seconds": seconds,
            "answered": answered,
            "listed": listed,
            "overbooked": overbooked,
            "drift": drift,
            "edits": len(edits),
            "worst_minute": max((max_in_window(v) for v in per_chat.values()), default=0),
            "rejected": sum(
                1 for c in em.calls if c.method == "editMessageText" and c.status == 429
            ),
            "settled": float(settled()),
            "settle": settle_seconds,
        }
    await em.close()
    return result


#: the sizes (each a --name option), and what --quick shrinks them to
SIZES = {"posts": 20, "places": 500, "chats": 200, "presses": 12000, "burst": 1000}
QUICK = "4 posts of 50 places, 20 chats, 1,200 presses"
SMALL = {"posts": 4, "places": 50, "chats": 20, "presses": 1200, "burst": 300}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the summary line; 1 on overbooking, a lost press, a 429,
    a counter out of step or a copy that never settled."""
    args = parse_options(__doc__, argv, QUICK, SIZES, SMALL, transport_option)
    logging.basicConfig(level=logging.WARNING)
    if not 1 <= args.posts <= 20:
        raise SystemExit("--posts: 1 to 20 (a card's buttons)")

    def lost(r: dict[str, Figures]) -> float:
        bot = r["bot"]
        return (args.presses - bot["listed"]) + (args.presses - bot["answered"])

    with databases(args.db) as dbs:
        rounds, figures = run_and_report(
            "big_event",
            args,
            {
                "bare": lambda: bare_side(args.presses, args.chats, args.transport),
                "bare_tuned": with_bot_collector(
                    lambda: bare_side(args.presses, args.chats, args.transport)
                ),
                "bot": lambda: bot_side(dbs, args),
            },
            {
                "ratio": lambda r: r["bare"]["seconds"] / r["bot"]["seconds"],
                "tuned_ratio": lambda r: r["bare_tuned"]["seconds"] / r["bot"]["seconds"],
                "overbooked": lambda r: r["bot"]["overbooked"],
                "lost": lost,
                "settle_seconds": lambda r: r["bot"]["settle"],
                "bare_rps": lambda r: args.presses / r["bare"]["seconds"],
                "bot_rps": lambda r: args.presses / r["bot"]["seconds"],
                "edits": lambda r: r["bot"]["edits"],
                "worst_minute": lambda r: r["bot"]["worst_minute"],
                "rejected": lambda r: r["bot"]["rejected"],
                "drift": lambda r: r["bot"]["drift"],
            },
            params(
                args,
                "posts",
                "places",
                "chats",
                "presses",
                "burst",
                "transport",
                "pairs",
                target=0.5,
            ),
        )
    ok = (
        max(figures["overbooked"]) == 0
        and max(figures["lost"]) == 0
        and max(figures["rejected"]) == 0
        and max(figures["drift"]) == 0
        and max(figures["worst_minute"]) <= 20
        and all(r["bot"]["settled"] for r in rounds)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
