"""Benchmark: subtree hour totals (behind /stats and /export hours) against a plain SUM scan.

Builds a district of 500 orgs in 4 levels, 20,000 people and 200,000 hour entries (bulk
inserts straight into SQLite), then, in the same run and on the same database:

* times one plain whole-table `SUM(quarters)` (`storage.hours.total_quarters`),
* times `Hours.rollup` (the product's own subtree totals, rolled up the tree) for the root and
  for each direct child of the root; it reads `hour_totals`, per-org-and-year sums kept by
  triggers (approved entries are immutable, so they stay exact; the run checks them against a
  recount from the entries, which it also times),
* prints rollup/scan ratios (target <= 2),
* times the /stats figures (`Stats.figures`, every figure of a subtree: hours from
  `hour_totals`, volunteers, members, chats, ...) for the root and for each direct child, and
  prints their ratio to the same scan (`stats_ratio`),
* times writing the 200,000-row export (`export_hours.subtree_workbook`, openpyxl write_only),
* reports peak memory (ru_maxrss).

    python bench/rollup.py            # full size
    python bench/rollup.py --small    # a quick run (50 orgs, 2,000 people, 20,000 entries)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_services  # noqa: E402
from bot.domain import export_hours as xl  # noqa: E402
from bot.domain.clock import Clock  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import hours as hours_repo  # noqa: E402
from storage import orgs as org_repo  # noqa: E402
from storage.db import Database  # noqa: E402

LEVEL_SHARES = (1, 8, 56)  # root, level-1 and level-2 counts; the rest are level 3


def build_district(path: str, orgs: int, people: int, entries: int, seed: int = 7) -> None:
    """Bulk-load the tree, people and entries with executemany (setup speed, not measured)."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    now = time.time()
    rows: list[tuple] = []  # (id, code, name, parent_id, path, depth)
    levels: list[list[int]] = [[], [], [], []]
    next_id = 1

    def add(parent: tuple | None) -> tuple:
        nonlocal next_id
        oid = next_id
        next_id += 1
        depth = parent[5] + 1 if parent else 0
        path = (parent[4] if parent else "/") + f"{oid}/"
        row = (oid, f"org{oid}", f"组织{oid}", parent[0] if parent else None, path, depth)
        rows.append(row)
        levels[depth].append(oid)
        return row

    root = add(None)
    level1 = [add(root) for _ in range(min(LEVEL_SHARES[1], max(1, orgs - 1)))]
    per2 = max(1, LEVEL_SHARES[2] * orgs // 500 // max(1, len(level1)))
    level2 = [add(p) for p in level1 for _ in range(per2)]
    while len(rows) < orgs:
        add(level2[(len(rows)) % len(level2)])
    conn.executemany(
        "INSERT INTO orgs(id, code, name, kind, parent_id, path, depth, created_at)"
        " VALUES (?, ?, ?, 'branch', ?, ?, ?, ?)", [(*r, now) for r in rows])
    org_ids = [r[0] for r in rows]
    users = [(10_000 + i, f"志愿者{i}", now) for i in range(people)]
    conn.executemany("INSERT INTO users(id, first_name, updated_at) VALUES (?, ?, ?)", users)
    person_org = {u[0]: rng.choice(org_ids) for u in users}
    conn.executemany(
        "INSERT INTO people(user_id, real_name, org_id, consent_at, registered_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(uid, f"张{uid}", oid, now, now, now) for uid, oid in person_org.items()])
    today = date.today()
    uids = list(person_org)
    batch = []
    for i in range(entries):
        uid = rng.choice(uids)
        roll = rng.random()
        status = "approved" if roll < 0.8 else "pending" if roll < 0.95 else "rejected"
        served = (today - timedelta(days=rng.randrange(0, 700))).isoformat()
        batch.append((uid, person_org[uid], served, rng.randint(1, 32), f"服务 {i % 97}",
                      status, now, None if status == "pending" else 1,
                      None if status == "pending" else now))
        if len(batch) == 20_000:
            _insert_entries(conn, batch)
            batch = []
    if batch:
        _insert_entries(conn, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def _insert_entries(conn: sqlite3.Connection, batch: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO hour_entries(user_id, org_id, served_on, quarters, description, status,"
        " created_at, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)


async def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """Median of `repeat` timed runs after one warm-up."""
    await fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def measure(path: str, repeat: int) -> dict[str, float]:
    settings = Settings(db=path, token=None)
    db = await Database(path).connect()
    try:
        services = build_services(settings, db, Clock())
        hours = services.hours
        root = await org_repo.root(db.reader)
        assert root is not None
        kids = await org_repo.children(db.reader, root.id)

        scan = await best(lambda: hours_repo.total_quarters(db.reader), repeat)
        root_t = await best(lambda: hours.rollup(root), repeat)

        async def all_children() -> None:
            for kid in kids:
                await hours.rollup(kid)

        kids_t = await best(all_children, repeat)
        per_kid = [await best(lambda k=kid: hours.rollup(k), repeat) for kid in kids]

        stats = services.stats
        stats_root_t = await best(lambda: stats.figures(root), repeat)

        async def all_children_stats() -> None:
            for kid in kids:
                await stats.figures(kid)

        stats_kids_t = await best(all_children_stats, repeat)
        stats_kid_max = max([await best(lambda k=kid: stats.figures(k), repeat) for kid in kids])

        # the trigger-kept totals agree with the entries, org by org
        year = hours.today().year
        kept = await hours_repo.totals_by_org(db.reader, root.path, year=year)
        recount = await hours_repo.totals_from_entries(db.reader, root.path, year=year)
        assert sorted(kept, key=lambda s: s.org_id) == sorted(recount, key=lambda s: s.org_id)
        rolled = (await hours.rollup(root))[0].subtree
        approved = await db.fetchone(
            "SELECT SUM(quarters) FROM hour_entries WHERE status = 'approved'")
        assert rolled == approved[0], (rolled, approved[0])
        # the /stats hour figures agree with a recount from the entries
        year_start = f"{year:04d}-01-01"
        for org in (root, *kids):
            fig = await stats.figures(org)
            want = await db.fetchone(
                "SELECT COALESCE(SUM(e.quarters), 0),"
                " COALESCE(SUM(CASE WHEN e.served_on >= ? THEN e.quarters END), 0),"
                " COUNT(DISTINCT e.user_id) FROM hour_entries e JOIN orgs o ON o.id = e.org_id"
                " WHERE e.status = 'approved' AND o.path >= ? AND o.path < ?",
                (year_start, *hours_repo.subtree_range(org.path)))
            got = (fig.quarters_all, fig.quarters_year, fig.volunteers)
            assert got == tuple(want), (org.code, got, tuple(want))
        recount_t = await best(
            lambda: hours_repo.totals_from_entries(db.reader, root.path, year=year), repeat)

        start = time.perf_counter()
        data = await xl.subtree_workbook(hours, root, year=None, lang="zh")
        export_s = time.perf_counter() - start
        plan = await db.fetchall(
            "EXPLAIN QUERY PLAN SELECT t.org_id, SUM(t.quarters) FROM orgs o JOIN hour_totals t"
            " ON t.org_id = o.id WHERE o.path >= ? AND o.path < ? GROUP BY t.org_id",
            ("/1/", "/10"))
    finally:
        await db.close()
    return dict(scan=scan, root=root_t, recount=recount_t, kids=kids_t, kid_max=max(per_kid),
                nkids=len(kids), stats_root=stats_root_t, stats_kids=stats_kids_t,
                stats_kid_max=stats_kid_max,
                export=export_s, export_bytes=len(data),
                plan="; ".join(str(r[3]) for r in plan))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run at a tenth of the size")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", help="keep the database at this path (default: a temp file)")
    args = parser.parse_args()
    orgs, people, entries = (50, 2_000, 20_000) if args.small else (500, 20_000, 200_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or str(Path(tmp) / "rollup.sqlite3")
        Path(path).unlink(missing_ok=True)

        async def migrate() -> None:
            await (await Database(path).connect()).close()

        asyncio.run(migrate())
        start = time.perf_counter()
        build_district(path, orgs, people, entries)
        setup = time.perf_counter() - start
        m = asyncio.run(measure(path, args.repeat))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    root_ratio = m["root"] / m["scan"]
    kids_ratio = m["kids"] / m["scan"]
    print(f"setup: {setup:.1f}s to load {orgs} orgs, {people} people, {entries} entries")
    print(f"plain SUM(quarters) scan:          {m['scan'] * 1000:8.2f} ms")
    print(f"rollup root subtree:               {m['root'] * 1000:8.2f} ms  ratio {root_ratio:.2f}")
    print(f"rollup {m['nkids']:.0f} direct children (all): {m['kids'] * 1000:8.2f} ms  "
          f"ratio {kids_ratio:.2f} (slowest child {m['kid_max'] * 1000:.2f} ms, "
          f"ratio {m['kid_max'] / m['scan']:.2f})")
    print(f"(same totals recomputed from the entries: {m['recount'] * 1000:.2f} ms, "
          f"ratio {m['recount'] / m['scan']:.2f})")
    stats_root_ratio = m["stats_root"] / m["scan"]
    stats_kids_ratio = m["stats_kids"] / m["scan"]
    print(f"/stats figures root subtree:       {m['stats_root'] * 1000:8.2f} ms  "
          f"ratio {stats_root_ratio:.2f}")
    print(f"/stats figures {m['nkids']:.0f} children (all): {m['stats_kids'] * 1000:8.2f} ms  "
          f"ratio {stats_kids_ratio:.2f} (slowest child {m['stats_kid_max'] * 1000:.2f} ms, "
          f"ratio {m['stats_kid_max'] / m['scan']:.2f})")
    print(f"query plan: {m['plan']}")
    print(f"export {entries} rows (write_only): {m['export']:.1f}s, "
          f"{m['export_bytes'] / 1e6:.1f} MB")
    ratio = max(root_ratio, kids_ratio)
    stats_ratio = max(stats_root_ratio, stats_kids_ratio)
    print(f"rollup ratio={ratio:.2f} stats_ratio={stats_ratio:.2f} "
          f"export_seconds={m['export']:.1f} peak_mb={peak_mb:.0f} "
          f"orgs={orgs} people={people} entries={entries}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
