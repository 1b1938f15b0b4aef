"""Reminders at scale: start-up restore with many pending rows, and a burst due in one second.

The real app (PTB Application, APScheduler timer, outbox sender) runs against the project's
Bot API emulator on a temporary SQLite file (or, with `--db pg|URL`, a fresh PostgreSQL
database per run).

1. restore: the app starts on one database holding PENDING future reminders and, as the other
   side (interleaved by bench/runner.py), on an empty one; the ratio of the two start-up times
   shows what the pending rows cost. Peak memory is the process's maximum resident set size.
2. burst: BURST reminders due in the same second are scheduled while the app runs; the one
   APScheduler timer fires them and each handler queues one outbox row in the claiming
   transaction. Lateness = outbox row created_at - reminder due_at (target p99 < 0.5 s). A second
   `fire_due()` races the timer at the due second: claims must keep duplicates at 0.
3. down: the app stops, the burst-sized set comes due while it is down (minutes late, so under
   the 12 h rule), and another set is 13 h late; at start-up the first fires once, the second
   is recorded as missed.

Prints `reminders ratio=… spread=… p99_ms=… p99_spread=… duplicates=… ...` (medians, min-max).

    python bench/reminders.py [--pending 10000 --burst 1000] [--pairs 5] [--quick] [--db pg|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bot.app
from bench.runner import (
    Databases,
    Figures,
    Round,
    databases,
    params,
    parse_options,
    run_and_report,
)
from bot.app import services_of
from bot.demo.worlds import in_process, settings_for
from bot.domain.clock import Clock
from bot.domain.models_reminders import Reminder
from bot.emulator import Emulator
from bot.settings import Settings
from storage import reminders as repo
from storage.db import Conn, Database, open_database

KIND = "bench"
FAR = 10 * 365 * 86400.0  # outbox rows held back this long: the sender leaves them alone


class ShiftClock(Clock):
    """The wall clock, shifted by `offset` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def peak_mb() -> float:
    """The process's peak resident set size so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def p(values: list[float], q: float) -> float:
    """The `q` quantile (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def seed(path: str, rows: list[tuple[str, int, str, float]]) -> None:
    """Write reminder rows straight into the database (the app is not running)."""
    db = await open_database(path).connect()
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
            await services.outbox.add(
                conn,
                1_000_000 + row.ref_id,
                f"reminder {row.id}",
                ref=f"bench:{row.id}",
                not_before=clock.time() + FAR,
            )

        services.reminders.on(KIND, handler)
        return services

    return build_services


async def start(em: Emulator, db_path: str, clock: Clock) -> tuple[Any, Any, float]:
    """Start the app on `db_path`; (context, app, seconds the start-up took)."""
    ctx = in_process(em, settings_for(em, db_path, superusers=[]), clock)
    began = time.perf_counter()
    app = await ctx.__aenter__()
    return ctx, app, time.perf_counter() - began


async def outcome(db: Database, ref_ids: range) -> tuple[list[float], int, int]:
    """(lateness of each handed-over reminder, duplicates, reminders never handed over)."""
    rows = await db.fetchall(
        "SELECT r.id AS id, r.due_at AS due_at, o.created_at AS created_at FROM reminders r"
        " JOIN outbox o ON o.ref = 'bench:' || r.id"
        " WHERE r.kind = ? AND r.ref_id BETWEEN ? AND ?",
        (KIND, ref_ids.start, ref_ids.stop - 1),
    )
    per: dict[int, int] = {}
    late: list[float] = []
    for r in rows:
        per[r["id"]] = per.get(r["id"], 0) + 1
        late.append(float(r["created_at"]) - float(r["due_at"]))
    duplicates = sum(n - 1 for n in per.values())
    return late, duplicates, len(ref_ids) - len(per)


async def empty_start(dbs: Databases) -> Figures:
    """The baseline side: start-up on an empty (created and migrated) database."""
    em = Emulator(limits=False)
    async with dbs.fresh("empty") as target:
        await seed(target, [])
        ctx, _, seconds = await start(em, target, ShiftClock())
        await ctx.__aexit__(None, None, None)
    return {"startup_s": seconds}


async def run(dbs: Databases, pending: int, burst: int) -> Figures:
    """The measured side: restore PENDING rows, a burst due in one second, a restart after down."""
    async with dbs.fresh("reminders") as target:
        return await run_on(target, pending, burst)


async def run_on(db_path: str, pending: int, burst: int) -> Figures:
    """`run` on the database at `db_path`."""
    em = Emulator(limits=False)
    clock = ShiftClock()
    result: Figures = {}

    # 1. restore: the database is created, migrated and seeded first; only the start is timed
    now = time.time()
    await seed(db_path, [(KIND, i, "future", now + 86400 + i) for i in range(pending)])
    ctx, app, restore_seconds = await start(em, db_path, clock)
    result.update(restore_s=restore_seconds, peak_mb=peak_mb())
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
    while (
        await repo.counts(services.db.reader) != {"pending": pending, "done": burst}
        and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.05)
    late, duplicates, lost = await outcome(services.db, refs)
    result.update(
        p50=p(late, 0.50),
        p99=p(late, 0.99),
        max_late=max(late, default=0.0),
        duplicates=duplicates,
        lost=lost,
        raced=raced,
    )
    await ctx.__aexit__(None, None, None)

    # 3. down: BURST came due 5 min ago, BURST 13 h ago; start-up fires the first, misses the second
    now = time.time()
    soon = range(pending + burst, pending + 2 * burst)
    old = range(pending + 2 * burst, pending + 3 * burst)
    await seed(
        db_path,
        [(KIND, i, "down", now - 300) for i in soon]
        + [(KIND, i, "down", now - 13 * 3600) for i in old],
    )
    ctx, app, down_seconds = await start(em, db_path, clock)
    services = services_of(app)
    _, dup_down, lost_down = await outcome(services.db, soon)
    fired_old = len((await outcome(services.db, old))[0])
    counts = await repo.counts(services.db.reader)
    result.update(
        down_seconds=down_seconds,
        down_dup=dup_down,
        down_lost=lost_down,
        down_missed=counts.get("missed", 0),
        down_fired_old=fired_old,
        final_pending=counts.get("pending", 0),
    )
    await ctx.__aexit__(None, None, None)
    return result


#: the sizes (each a --name option), and what --quick shrinks them to
SIZES = {"pending": 10_000, "burst": 1_000}
QUICK, SMALL = "1,000 pending, 100 in the burst", {"pending": 1_000, "burst": 100}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the summary line; 1 when a reminder was lost or doubled."""
    args = parse_options(__doc__, argv, QUICK, SIZES, SMALL)
    logging.basicConfig(level=logging.ERROR)
    bot.app.build_services = with_bench_handler(bot.app.build_services)  # type: ignore[assignment]
    with databases(args.db) as dbs:
        _, figures = report(args, dbs)
    ok = (
        max(figures["duplicates"]) == 0
        and max(figures["lost"]) == 0
        and min(figures["down_missed"]) == args.burst
        and max(figures["down_fired_old"]) == 0
        and max(figures["p99_ms"]) < 1000
    )
    return 0 if ok else 1


def report(args: argparse.Namespace, dbs: Databases) -> tuple[list[Round], dict[str, list[float]]]:
    """Interleave the two sides on `dbs`; print the summary line."""
    return run_and_report(
        "reminders",
        args,
        {"pending": lambda: run(dbs, args.pending, args.burst), "empty": lambda: empty_start(dbs)},
        {
            "ratio": lambda r: r["pending"]["restore_s"] / r["empty"]["startup_s"],
            "restore_ms": lambda r: 1000 * r["pending"]["restore_s"],
            "empty_ms": lambda r: 1000 * r["empty"]["startup_s"],
            "p50_ms": lambda r: 1000 * r["pending"]["p50"],
            "p99_ms": lambda r: 1000 * r["pending"]["p99"],
            "max_late_ms": lambda r: 1000 * r["pending"]["max_late"],
            "duplicates": lambda r: r["pending"]["duplicates"] + r["pending"]["down_dup"],
            "lost": lambda r: r["pending"]["lost"] + r["pending"]["down_lost"],
            "down_ms": lambda r: 1000 * r["pending"]["down_seconds"],
            "down_missed": lambda r: r["pending"]["down_missed"],
            "down_fired_old": lambda r: r["pending"]["down_fired_old"],
            "peak_mb": lambda r: r["pending"]["peak_mb"],
        },
        params(args, "pending", "burst", "pairs", p99_target_ms=500),
    )


if __name__ == "__main__":
    sys.exit(main())
