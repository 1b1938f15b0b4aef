"""2,000 `/me` round trips from 50 users: TowerBot versus a bare PTB echo bot, same emulator.

Both bots poll the same kind of emulator over HTTP on loopback (getUpdates long polling, replies
by sendMessage), one after the other in one run. Throughput = replies per second from the first
update queued to the last reply seen. Per-chat flood limits are off for both: this measures the
bot's processing, not Telegram's pacing. Prints `roundtrip ratio=… towerbot_rps=… bare_rps=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update  # noqa: E402
from telegram.ext import Application, CommandHandler, ContextTypes  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.emulator import Emulator  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import users as user_repo  # noqa: E402


async def wait_replies(em: Emulator, count: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while sum(1 for s in em.sent if s.method == "sendMessage") < count:
        if time.perf_counter() > deadline:
            raise TimeoutError("replies did not arrive")
        await asyncio.sleep(0.01)


async def drive(em: Emulator, app: Application, users: list[dict], total: int) -> float:
    """Queue `total` /me updates round-robin over users; seconds until every reply is sent."""
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)
    try:
        start = time.perf_counter()
        for i in range(total):
            em.text(users[i % len(users)], None, "/me")
        await wait_replies(em, total, timeout=120)
        return time.perf_counter() - start
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_shutdown:
            await app.post_shutdown(app)
        await app.shutdown()


def make_world(users: int) -> tuple[Emulator, list[dict]]:
    em = Emulator(limits=False)
    people = [em.add_user(f"用户{i}", username=f"u{i}") for i in range(users)]
    for user in people:
        em.started.add(user["id"])
    return em, people


async def bare(total: int, users: int) -> float:
    em, people = make_world(users)
    url = await em.serve()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("me")

    app = Application.builder().token(em.token).base_url(url + "/bot").build()
    app.add_handler(CommandHandler("me", echo))
    try:
        return await drive(em, app, people, total)
    finally:
        await em.close()


async def towerbot(total: int, users: int, folder: Path, concurrency: int = 8) -> float:
    em, people = make_world(users)
    url = await em.serve()
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(token=em.token, db=str(folder / "roundtrip.sqlite3"),
                        api_base_url=url + "/bot", _env_file=None,
                        flood_limit=10_000, concurrency=concurrency)  # 40 /me a person in seconds is a flood by design
    app = build_application(settings)
    # register everyone first, as real members would be
    from bot.app import startup, shutdown, services_of

    await app.initialize()
    await startup(app)
    services = services_of(app)
    tower = services.tower
    async with services.db.transaction() as tx:
        from storage import orgs as org_repo

        org = await org_repo.insert(tx, code="bench", name="基准区团委", kind=None, parent=None,
                                    now=time.time())
        for user in people:
            await user_repo.upsert_user(tx, user_id=user["id"], first_name=user["first_name"],
                                        username=user["username"], tg_lang="zh", started=True,
                                        now=time.time())
            await user_repo.save_person(tx, user_id=user["id"], real_name="某某", phone=None,
                                        org_id=org.id, now=time.time())
    del tower
    await shutdown(app)
    await app.shutdown()
    app = build_application(settings)
    try:
        return await drive(em, app, people, total)
    finally:
        await em.close()


async def main(total: int, users: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        t_bare = await bare(total, users)
        t_tower = await towerbot(total, users, Path(folder) / "a")
        t_seq = await towerbot(total, users, Path(folder) / "b", concurrency=1)
    bare_rps, tower_rps, seq_rps = total / t_bare, total / t_tower, total / t_seq
    ratio = tower_rps / bare_rps
    print(f"bare PTB echo          : {total} round trips in {t_bare:.2f} s = {bare_rps:.0f}/s")
    print(f"TowerBot /me (default) : {total} round trips in {t_tower:.2f} s = {tower_rps:.0f}/s")
    print(f"TowerBot /me (one at a time, TOWERBOT_CONCURRENCY=1): {t_seq:.2f} s = {seq_rps:.0f}/s"
          f", ratio {seq_rps / bare_rps:.2f}")
    print(f"roundtrip ratio={ratio:.2f} sequential_ratio={seq_rps / bare_rps:.2f} "
          f"towerbot_rps={tower_rps:.0f} bare_rps={bare_rps:.0f} "
          f"round_trips={total} users={users} target=0.6")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--small", action="store_true", help="200 round trips (for tests)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("towerbot.updates").setLevel(logging.WARNING)
    asyncio.run(main(200 if args.small else args.round_trips, args.users))
