"""An announcement down a 4-level tower of 1,000 chats, then 5,000 acknowledgements.

The real bot (handlers, domain, outbox, sender) runs against the Bot API emulator served over
HTTP on loopback, with Telegram's per-chat and per-group limits on (429 + retry_after when
broken; no global limit, as in bench/fanout.py). The tower (1 + 10 + 100 + 889 orgs, each with
a bound group) is written straight into the database; everything else goes through updates.

Measured from the moment the /announce update is handed to the bot until the last copy is
accepted: the theoretical minimum at RATE is chats / RATE (each chat gets one copy, so the
per-chat limits do not bind). Efficiency = minimum / measured. Then every chat's 5 members
press "收到" (5,000 callback queries through the bot) and `/announce status` must read
1000 delivered, 1000 chats acknowledged, 5000 people.

    python bench/broadcast.py [--chats 1000 --acks-per-chat 5 --rate 200] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram.request import HTTPXRequest

from bot.app import running, services_of
from bot.emulator import Emulator
from bot.settings import Settings
from storage import chats as chat_repo

SUPERUSER = 5820137746


def tree(chats: int) -> dict:
    """A 4-level tree of exactly `chats` orgs: root, ~1 %, ~10 %, the rest."""
    second = max(1, chats // 100)
    third = max(1, chats // 10)
    fourth = chats - 1 - second - third
    root: dict = {"code": "d", "name": "区团委", "children": []}
    level2 = [{"code": f"d.s{i}", "name": f"乡镇团委{i}", "children": []} for i in range(second)]
    level3 = [{"code": f"d.s{i % second}.b{i}", "name": f"团支部{i}", "children": []}
              for i in range(third)]
    for i, node in enumerate(level3):
        level2[i % second]["children"].append(node)
    for i in range(max(0, fourth)):
        parent = level3[i % third]
        parent["children"].append({"code": f"{parent['code']}.g{i}", "name": f"团小组{i}"})
    root["children"] = level2
    return root


def walk(node: dict, out: list[str]) -> list[str]:
    out.append(node["code"])
    for child in node.get("children") or []:
        walk(child, out)
    return out


async def run(chats: int, acks_per_chat: int, rate: float) -> dict:
    em = Emulator(limits=True, global_per_second=None)
    url = await em.serve()
    tmp = tempfile.TemporaryDirectory()
    settings = Settings(token=em.token, db=str(Path(tmp.name) / "broadcast.sqlite3"),
                        superusers=[SUPERUSER], rate=rate, api_base_url=url + "/bot")
    request = HTTPXRequest(connection_pool_size=96, read_timeout=10.0)
    result: dict = {}
    async with running(settings, request=request) as app:
        services = services_of(app)
        boss = em.add_user("晓明", user_id=SUPERUSER)
        shape = tree(chats)
        await services.tower.import_tree(shape)
        codes = walk(shape, [])
        groups: dict[str, dict] = {}
        members: dict[int, list[dict]] = {}
        now = services.clock.time()
        async with services.db.transaction() as tx:
            for code in codes:
                people = [em.add_user(f"团员{code}-{k}") for k in range(acks_per_chat)]
                group = em.add_group(f"{code} 群", members=[boss["id"]] + [p["id"] for p in people],
                                     type="supergroup")
                org = await services.tower.org_by_code(code)
                await chat_repo.upsert(tx, chat_id=group["id"], type="supergroup",
                                       title=group["title"], active=True, is_admin=False, now=now)
                await chat_repo.bind(tx, group["id"], org.id)
                groups[code] = group
                members[group["id"]] = people
        root = groups["d"]
        em.pending_updates.clear()

        # the broadcast
        update = em.text(boss, root, "/announce 周六上午9点各支部组织志愿者到社区集合")
        started = time.perf_counter()
        await em.deliver(app, update)
        posted = time.perf_counter()
        await services.sender.drain(max(60.0, 20 * chats / rate))
        delivered_at = time.perf_counter()
        copies = {s.chat_id: s for s in em.sent
                  if s.method == "sendMessage" and s.text and "#1" in s.text
                  and s.reply_markup and "inline_keyboard" in s.reply_markup}
        result["seconds"] = delivered_at - started
        result["post"] = posted - started
        result["delivered"] = sum(1 for g in groups.values() if g["id"] in copies)
        result["duplicates"] = sum(
            1 for s in em.sent if s.method == "sendMessage" and s.text and "#1" in s.text
            and s.reply_markup) - len(copies)
        result["rejected"] = sum(1 for c in em.calls if c.method == "sendMessage"
                                 and c.status == 429)

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
        expected = (f"{chats} 个群，已送达 {chats}，并入汇总待发 0，等待发送 0，失败 0；"
                    f"{chats} 个群已确认，共 {chats * acks_per_chat} 人确认")
        result["status_ok"] = int(expected in board)
        result["board_head"] = board.splitlines()[0] if board else ""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # keep-alive sockets cut at close
    await em.close()
    tmp.cleanup()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--acks-per-chat", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--small", action="store_true", help="100 chats, 500 acknowledgements")
    args = parser.parse_args(argv)
    if args.small:
        args.chats = 100
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("towerbot.updates").setLevel(logging.WARNING)

    r = asyncio.run(run(args.chats, args.acks_per_chat, args.rate))
    minimum = args.chats / args.rate
    efficiency = minimum / r["seconds"]
    acks = args.chats * args.acks_per_chat
    print(f"tower: 4 levels, {args.chats} chats; rate={args.rate:g}/s")
    print(f"/announce handled (1 transaction) {r['post']:.3f} s")
    print(f"delivered in                      {r['seconds']:.3f} s   (theoretical minimum "
          f"{minimum:.3f} s)")
    print(f"429 answers from emulator         {r['rejected']}")
    print(f"duplicates                        {r['duplicates']}")
    print(f"acknowledgements                  {r['acks']}/{acks} in {r['ack_seconds']:.2f} s "
          f"({r['acks'] / max(r['ack_seconds'], 1e-9):.0f}/s)")
    print(f"status board                      {r['board_head']}")
    print(f"broadcast efficiency={efficiency:.2f} delivered={r['delivered']}/{args.chats} "
          f"acks={r['acks']} status_ok={r['status_ok']} chats={args.chats}")
    ok = r["delivered"] == args.chats and r["acks"] == acks and r["status_ok"] == 1 \
        and r["duplicates"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
