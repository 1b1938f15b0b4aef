"""Benchmark: subtree hour totals (behind /stats and /export hours) against a plain SUM scan.

Builds a district of 500 orgs in 4 levels, 20,000 people and 200,000 hour entries (bulk
inserts straight into SQLite; with `--db pg` or `--db postgresql://…`, built in SQLite and
copied into a database `rollup` on that PostgreSQL server, dropped and created anew), then, in
the same run and on the same database:

* times one plain whole-table `SUM(quarters)` (`storage.hours.total_quarters`),
* times `Hours.rollup` (the product's own subtree totals, rolled up the tree) for the root and
  for each direct child of the root; it reads `hour_totals`, per-org-and-year sums kept by
  triggers (approved entries are immutable, so they stay exact; the run checks them against a
  recount from the entries, which it also times),
* prints rollup/scan ratios (target <= 2),
* times the /stats figures (`Stats.figures`, every figure of a subtree: hours from
  `hour_totals`, volunteers, members, chats, ...) for the root and for each direct child, and
  prints their ratio to the same scan (`stats_ratio`),
* times writing the 200,000-row export (`export_hours.subtree_workbook`, streamed by
  xlsxwriter in constant_memory mode), wall clock (`export_s`, target < 20 s) and CPU time
  (`export_cpu_s`, steadier on a busy machine),
* measures the export's memory in fresh subprocesses, one per size: each opens the database,
  writes the export once and reports its peak resident set (VmHWM, which counts what
  tracemalloc misses: SQLite's cache, zlib, xlsxwriter's buffers). `export_mem_mb` is that peak
  for the full export, `small_export_mem_mb` for a 2,000-entry district built beside it, and
  `mem_delta_mb` the difference (target <= 50: the export streams, so its size barely shows),
* reports the whole run's peak memory (`peak_mb`, ru_maxrss).

The scan, the product's rollups and the export run as three sides interleaved by
bench/runner.py (one warm-up round, then `--pairs` rounds); each timing inside a side is the
median of `--repeat` calls. Prints `rollup ratio=… spread=… stats_ratio=… ... export_s=…
export_spread=… ... export_mem_mb=… small_export_mem_mb=… mem_delta_mb=…`.

    python bench/rollup.py            # full size
    python bench/rollup.py --quick    # 50 orgs, 2,000 people, 20,000 entries
    python bench/rollup.py --quick --db pg    # a throwaway PostgreSQL cluster (tests/pg.py)
    python bench/rollup.py --quick --db postgresql://postgres@127.0.0.1:5432/postgres
        # on a server whose user may CREATE DATABASE: `rollup` and `rollup_small` (the
        # 2,000-entry district) are dropped and created anew, and `rollup_small` dropped after
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.runner import Figures, Round, add_options, collect, databases, interleave, summary
from bot.app import build_services
from bot.demo.worlds import hour_district
from bot.domain import export_hours as xl
from bot.domain.clock import Clock
from bot.settings import Settings
from storage import hours as hours_repo
from storage import orgs as org_repo
from storage.db import engine_of, open_database


async def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Median of `repeat` timed runs after one warm-up."""
    await fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def check(services: Any, root: Any, kids: list[Any]) -> None:
    """The trigger-kept totals and the /stats hour figures agree with a recount."""
    db, hours, stats = services.db, services.hours, services.stats
    year = hours.today().year
    kept = await hours_repo.totals_by_org(db.reader, root.path, year=year)
    recount = await hours_repo.totals_from_entries(db.reader, root.path, year=year)
    assert sorted(kept, key=lambda s: s.org_id) == sorted(recount, key=lambda s: s.org_id)
    rolled = (await hours.rollup(root))[0].subtree
    approved = await db.fetchone("SELECT SUM(quarters) FROM hour_entries WHERE status = 'approved'")
    assert rolled == approved[0], (rolled, approved[0])
    year_start = f"{year:04d}-01-01"
    for org in (root, *kids):
        fig = await stats.figures(org)
        want = await db.fetchone(
            "SELECT COALESCE(SUM(e.quarters), 0),"
            " COALESCE(SUM(CASE WHEN e.served_on >= ? THEN e.quarters END), 0),"
            " COUNT(DISTINCT e.user_id) FROM hour_entries e JOIN orgs o ON o.id = e.org_id"
            " WHERE e.status = 'approved' AND o.path >= ? AND o.path < ?",
            (year_start, *hours_repo.subtree_range(org.path)),
        )
        got = (fig.quarters_all, fig.quarters_year, fig.volunteers)
        assert got == tuple(want), (org.code, got, tuple(want))


async def measure(path: str, repeat: int, pairs: int, warmup: int) -> tuple[list[Round], str, int]:
    """Check the figures once, then interleave scan, rollups and export; (rounds, plan, kids)."""
    settings = Settings(db=path, token=None)
    db = await open_database(path).connect()
    try:
        services = build_services(settings, db, Clock())
        hours, stats = services.hours, services.stats
        root = await org_repo.root(db.reader)
        assert root is not None
        kids = await org_repo.children(db.reader, root.id)
        await check(services, root, kids)
        year = hours.today().year

        async def scan() -> Figures:
            return {"ms": 1000 * await best(lambda: hours_repo.total_quarters(db.reader), repeat)}

        async def all_children() -> None:
            for kid in kids:
                await hours.rollup(kid)

        async def all_children_stats() -> None:
            for kid in kids:
                await stats.figures(kid)

        async def rollups() -> Figures:
            per_kid = [await best(lambda k=kid: hours.rollup(k), repeat) for kid in kids]
            stats_per_kid = [await best(lambda k=kid: stats.figures(k), repeat) for kid in kids]
            timed = {
                "root": await best(lambda: hours.rollup(root), repeat),
                "kids": await best(all_children, repeat),
                "kid_max": max(per_kid),
                "stats_root": await best(lambda: stats.figures(root), repeat),
                "stats_kids": await best(all_children_stats, repeat),
                "stats_kid_max": max(stats_per_kid),
                "recount": await best(
                    lambda: hours_repo.totals_from_entries(db.reader, root.path, year=year), repeat
                ),
            }
            return {key: 1000 * value for key, value in timed.items()}

        async def export() -> Figures:
            start, cpu = time.perf_counter(), time.process_time()
            data = await xl.subtree_workbook(hours, root, year=None, lang="zh")
            return {
                "s": time.perf_counter() - start,
                "cpu_s": time.process_time() - cpu,
                "mb": len(data) / 1e6,
            }

        rounds = await interleave(
            {"rollup": rollups, "scan": scan, "export": export}, pairs, warmup
        )
        query = (
            "SELECT t.org_id, SUM(t.quarters) FROM orgs o JOIN hour_totals t"
            " ON t.org_id = o.id WHERE o.path >= ? AND o.path < ? GROUP BY t.org_id"
        )
        if engine_of(path) == "postgresql":
            plan = [
                str(r[0]).strip() for r in await db.fetchall(f"EXPLAIN {query}", ("/1/", "/10"))
            ]
        else:
            plan = [
                str(r[3]) for r in await db.fetchall(f"EXPLAIN QUERY PLAN {query}", ("/1/", "/10"))
            ]
    finally:
        await db.close()
    return rounds, "; ".join(plan), len(kids)


SMALL_EXPORT = (50, 2_000, 2_000)  # orgs, people, entries of the district memory is compared to
MEM_TARGET_MB = 50
EXPORT_TARGET_S = 20


def rss_mb() -> float:
    """This process's peak resident set so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def status_mb(field: str) -> float:
    """A size from /proc/self/status in MB (Linux; elsewhere ru_maxrss, the peak so far).

    VmHWM is this program's own peak: ru_maxrss survives exec, so a subprocess started by a
    big parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return rss_mb()


async def export_once(path: str) -> dict[str, float]:
    """The body of a memory subprocess: one export of the whole district, and peak RSS."""
    db = await open_database(path).connect()
    try:
        services = build_services(Settings(db=path, token=None), db, Clock())
        root = await org_repo.root(db.reader)
        assert root is not None
        before = status_mb("VmRSS")
        data = await xl.subtree_workbook(services.hours, root, year=None, lang="zh")
        return {"before_mb": before, "peak_mb": status_mb("VmHWM"), "file_mb": len(data) / 1e6}
    finally:
        await db.close()


def export_memory(path: str) -> dict[str, float]:
    """Peak memory of one export in a fresh interpreter (nothing left over from the timings)."""
    out = subprocess.run(
        [sys.executable, __file__, "--export-mem", path],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def migrate_at(path: str) -> None:
    """An empty database with every migration applied."""
    await (await open_database(path).connect()).close()


def db_name(url: str) -> str:
    """The database name of a PostgreSQL URL."""
    return url.rpartition("/")[2].partition("?")[0]


def named(url: str, name: str) -> str:
    """The URL of database `name` on the server of `url` (same user, same options)."""
    base, _, rest = url.rpartition("/")
    _, mark, query = rest.partition("?")
    return f"{base}/{name}{mark}{query}"


def beside(url: str, suffix: str) -> str:
    """The URL of a database named like the one of `url` plus `suffix` (same server)."""
    return named(url, db_name(url) + suffix)


async def recreate_pg(url: str, *, drop_only: bool = False) -> None:
    """Drop the PostgreSQL database of `url` (and create it anew, empty), through the server's
    `postgres` maintenance database."""
    from tests.pg import recreate

    await recreate(named(url, "postgres"), db_name(url), create=not drop_only)


def fresh(target: str) -> None:
    """An empty, migrated database at `target` (a file path, or a PostgreSQL URL)."""
    if engine_of(target) == "postgresql":
        asyncio.run(recreate_pg(target))
    else:
        Path(target).unlink(missing_ok=True)
    asyncio.run(migrate_at(target))


def main() -> int:
    """Build the district, measure, print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "a tenth of the size")
    parser.add_argument("--repeat", type=int, default=5, help="calls per timing (median)")
    parser.add_argument("--export-mem", metavar="DB", help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args()
    if args.export_mem:
        print(json.dumps(asyncio.run(export_once(args.export_mem))))
        return 0
    orgs, people, entries = (50, 2_000, 20_000) if args.quick else (500, 20_000, 200_000)
    with tempfile.TemporaryDirectory() as tmp, databases(args.db) as dbs:
        # SQLite: a temporary file; PostgreSQL (--db pg or a URL): a database named `rollup`
        # on that server, dropped and created anew
        admin = dbs.admin_url
        path = str(Path(tmp) / "rollup.sqlite3") if admin is None else admin.rsplit("/", 1)[0]
        path += "/rollup" if admin is not None else ""
        pg = engine_of(path) == "postgresql"
        fresh(path)
        start = time.perf_counter()
        hour_district(path, orgs, people, entries)
        print(
            f"setup: {time.perf_counter() - start:.1f}s to load {orgs} orgs, {people} people, "
            f"{entries} entries"
        )
        rounds, plan, nkids = asyncio.run(measure(path, args.repeat, args.pairs, args.warmup))
        # the small district on the same engine (a second database beside a PostgreSQL one)
        small = beside(path, "_small") if pg else str(Path(tmp) / "small.sqlite3")
        fresh(small)
        try:
            hour_district(small, *SMALL_EXPORT)
            big_mem, small_mem = export_memory(path), export_memory(small)
        finally:
            if pg:
                asyncio.run(recreate_pg(small, drop_only=True))
    print(f"query plan: {plan}")
    for label, mem in ((f"{entries} entries", big_mem), (f"{SMALL_EXPORT[2]} entries", small_mem)):
        print(
            f"export memory, {label}: peak {mem['peak_mb']:.0f} MB"
            f" ({mem['before_mb']:.0f} MB resident before the export), file {mem['file_mb']:.1f} MB"
        )

    def over_scan(*keys: str) -> Any:
        return lambda r: max(r["rollup"][k] for k in keys) / r["scan"]["ms"]

    figures = collect(
        rounds,
        {
            "ratio": over_scan("root", "kids"),
            "stats_ratio": over_scan("stats_root", "stats_kids"),
            "kid_max_ratio": over_scan("kid_max"),
            "recount_ratio": over_scan("recount"),
            "scan_ms": lambda r: r["scan"]["ms"],
            "root_ms": lambda r: r["rollup"]["root"],
            "kids_ms": lambda r: r["rollup"]["kids"],
            "stats_root_ms": lambda r: r["rollup"]["stats_root"],
            "export_s": lambda r: r["export"]["s"],
            "export_cpu_s": lambda r: r["export"]["cpu_s"],
        },
    )
    peak_mb = rss_mb()
    print(
        summary(
            "rollup",
            figures,
            {
                "peak_mb": f"{peak_mb:.0f}",
                "export_mem_mb": f"{big_mem['peak_mb']:.0f}",
                "small_export_mem_mb": f"{small_mem['peak_mb']:.0f}",
                "mem_delta_mb": f"{big_mem['peak_mb'] - small_mem['peak_mb']:.0f}",
                "mem_target_mb": MEM_TARGET_MB,
                "export_target_s": EXPORT_TARGET_S,
                "orgs": orgs,
                "kids": nkids,
                "people": people,
                "entries": entries,
                "pairs": args.pairs,
                "target": 2,
            },
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
