"""Reminders at scale: start-up restore with many pending rows, and a burst due in one second.

The real app (PTB Application, APScheduler timer, outbox sender) runs against the project's
Bot API emulator on a temporary SQLite file.

1. restore: the app starts on an empty database and, side by side, on one holding PENDING
   future reminders; the ratio of the two start-up times shows what the pending rows cost.
   Peak memory is the process's maximum resident set size after that start.
2. burst: BURST reminders due in the same second are scheduled while the app runs; the one
   APScheduler timer fires them and each handler queues one outbox row in the claiming
   transaction. Lateness = outbox row created_at - reminder due_at (target p99 < 1 s). A second
   `fire_due()` races the timer at the due second: claims must keep duplicates at 0.
3. down: the app stops, the burst-sized set comes due while it is down (minutes late, so under
   the 12 h rule), and another set is 13 h late; at start-up the first fires once, the second
   is recorded as missed.

    python bench/reminders.py [--pending 10000 --burst 1000] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bot.app
from bot.app import running, services_of
from bot.domain.clock import Clock
from bot.domain.models_reminders import Reminder
from bot.emulator import Emulator
from bot.settings import Settings
from storage import reminders as repo
from storage.db import Conn, Database

KIND = "bench"
FAR = 10 * 365 * 86400.0  # outbox rows held back this long: the sender leaves them alone


class ShiftClock(Clock):
    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def seed(path: Path, rows: list[tuple[str, int, str, float]]) -> None:
    """Write reminder rows straight into the database (the app is not running)."""
    db = await Database(path).connect()
    try:
        async with db.transaction() as tx:
            for kind, ref_id, step, due_at in rows:
                await repo.add(tx, kind, ref_id, step, due_at)
    finally:
        await db.close()


def with_bench_handler(build: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the composition root so the bench handler exists before start-up's restore,
    as a feature's handler does: one outbox row per reminder, in the claiming transaction."""

    def build_services(settings: Settings, db: Database, clock: Clock) -> Any:
        services = build(settings, db, clock)

        async def handler(conn: Conn, row: Reminder) -> None:
            await services.outbox.add(conn, 1_000_000 + row.ref_id, f"reminder {row.id}",
                                      ref=f"bench:{row.id}", not_before=clock.time() + FAR)

        services.reminders.on(KIND, handler)
        return services

    return build_services


async def start(em: Emulator, db_path: Path, clock: Clock) -> tuple[Any, Any, float]:
    settings = Settings(token=em.token, db=str(db_path), superusers=[])
    ctx = running(settings, request=em.request(), get_updates_request=em.request(), clock=clock)
    began = time.perf_counter()
    app = await ctx.__aenter__()
    return ctx, app, time.perf_counter() - began


async def outcome(db: Database, ref_ids: range) -> tuple[list[float], int, int]:
    """(lateness of each handed-over reminder, duplicates, reminders never handed over)."""
    rows = await db.fetchall(
        "SELECT r.id AS id, r.due_at AS due_at, o.created_at AS created_at FROM reminders r"
        " JOIN outbox o ON o.ref = 'bench:' || r.id"
        " WHERE r.kind = ? AND r.ref_id BETWEEN ? AND ?",
        (KIND, ref_ids.start, ref_ids.stop - 1))
    per: dict[int, int] = {}
    late: list[float] = []
    for r in rows:
        per[r["id"]] = per.get(r["id"], 0) + 1
        late.append(float(r["created_at"]) - float(r["due_at"]))
    duplicates = sum(n - 1 for n in per.values())
    return late, duplicates, len(ref_ids) - len(per)


async def run(pending: int, burst: int) -> dict[str, float]:
    logging.basicConfig(level=logging.ERROR)
    bot.app.build_services = with_bench_handler(bot.app.build_services)  # type: ignore[assignment]
    em = Emulator(limits=False)
    tmp = tempfile.TemporaryDirectory()
    base = Path(tmp.name)
    clock = ShiftClock()
    result: dict[str, float] = {}

    # 1. restore: empty database vs PENDING future reminders, side by side
    # both databases are created and migrated first: only the start-up itself is timed
    await seed(base / "empty.sqlite3", [])
    empty_seconds = float("inf")
    for _ in range(2):  # the first start also warms up imports and caches
        ctx, _, seconds = await start(em, base / "empty.sqlite3", clock)
        await ctx.__aexit__(None, None, None)
        empty_seconds = min(empty_seconds, seconds)
    db_path = base / "reminders.sqlite3"
    now = time.time()
    await seed(db_path, [(KIND, i, "future", now + 86400 + i) for i in range(pending)])
    ctx, app, restore_seconds = await start(em, db_path, clock)
    result.update(restore_seconds=restore_seconds, empty_seconds=empty_seconds,
                  peak_mb=peak_mb())
    services = services_of(app)

    # 2. burst: BURST reminders due in one second, with a second fire_due() racing the timer
    due_at = math.floor(time.time()) + 2.0
    refs = range(pending, pending + burst)
    async with services.db.transaction() as tx:
        for i in refs:
            await services.reminders.add(tx, KIND, i, "burst", due_at)
    # racers wake while the timer's tick is handing over (as a second worker or an overlapping
    # tick would): the claims must keep every reminder to one hand-over
    async def racer(delay: float) -> int:
        await asyncio.sleep(max(0.0, due_at + delay - time.time()))
        return (await services.reminders.fire_due(batch=50)).fired

    raced = sum(await asyncio.gather(*(racer(d) for d in (0.0, 0.03, 0.1))))
    deadline = time.monotonic() + 30
    while await repo.counts(services.db.reader) != {"pending": pending, "done": burst} \
            and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    late, duplicates, lost = await outcome(services.db, refs)
    result.update(p50=p(late, 0.50), p99=p(late, 0.99), max_late=max(late, default=0.0),
                  duplicates=duplicates, lost=lost, raced=raced)
    await ctx.__aexit__(None, None, None)

    # 3. down: BURST came due 5 min ago, BURST 13 h ago; start-up fires the first, misses the second
    now = time.time()
    soon = range(pending + burst, pending + 2 * burst)
    old = range(pending + 2 * burst, pending + 3 * burst)
    await seed(db_path, [(KIND, i, "down", now - 300) for i in soon]
               + [(KIND, i, "down", now - 13 * 3600) for i in old])
    ctx, app, down_seconds = await start(em, db_path, clock)
    services = services_of(app)
    _, dup_down, lost_down = await outcome(services.db, soon)
    fired_old = len((await outcome(services.db, old))[0])
    counts = await repo.counts(services.db.reader)
    result.update(down_seconds=down_seconds, down_dup=dup_down, down_lost=lost_down,
                  down_missed=counts.get("missed", 0), down_fired_old=fired_old,
                  final_pending=counts.get("pending", 0))
    await ctx.__aexit__(None, None, None)
    tmp.cleanup()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--small", action="store_true", help="1,000 pending, 100 in the burst")
    args = parser.parse_args(argv)
    if args.small:
        args.pending, args.burst = 1_000, 100
    r = asyncio.run(run(args.pending, args.burst))
    ratio = r["restore_seconds"] / r["empty_seconds"] if r["empty_seconds"] else float("nan")
    print(f"start-up, empty database          {r['empty_seconds']:.3f} s")
    print(f"start-up, {args.pending} pending reminders {r['restore_seconds']:.3f} s"
          f"   (ratio to empty {ratio:.2f})")
    print(f"peak resident memory              {r['peak_mb']:.0f} MB")
    print(f"burst of {args.burst} due in one second: lateness p50 {r['p50']:.3f} s, "
          f"p99 {r['p99']:.3f} s, max {r['max_late']:.3f} s (p99 / 1 s target = "
          f"{r['p99']:.2f})")
    print(f"  handed over by the timer {args.burst - r['raced']:.0f}, by the racing fire_due "
          f"{r['raced']:.0f} (three racers); duplicates {r['duplicates']:.0f}, "
          f"never handed over {r['lost']:.0f}")
    print(f"down and restarted: {args.burst} due 5 min ago fired at start-up in "
          f"{r['down_seconds']:.3f} s (duplicates {r['down_dup']:.0f}, lost "
          f"{r['down_lost']:.0f}); {args.burst} due 13 h ago recorded missed "
          f"{r['down_missed']:.0f}, fired {r['down_fired_old']:.0f}")
    duplicates = r["duplicates"] + r["down_dup"]
    print(f"reminders restore_seconds={r['restore_seconds']:.3f} peak_mb={r['peak_mb']:.0f} "
          f"p99_lateness={r['p99']:.3f} duplicates={duplicates:.0f} pending={args.pending} "
          f"burst={args.burst}")
    ok = (duplicates == 0 and r["lost"] == 0 and r["down_lost"] == 0
          and r["down_missed"] == args.burst and r["down_fired_old"] == 0 and r["p99"] < 1.0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
