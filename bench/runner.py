"""The one runner of every script in bench/: sides interleaved, medians with their spread.

A bench hands `interleave` one coroutine function per side (TowerBot, the bare baseline, ...);
each call is one run and returns that run's figures. After `warmup` rounds that are thrown
away, `pairs` rounds run every side once in turn (A B A B ...), so whatever else the machine
is doing weighs on both sides alike. A bench with one side (measured against a target) is the
same with a single side. Per round the bench derives its ratios and absolute figures
(`collect`), and `summary` makes the one final line:
`NAME ratio=0.52 spread=0.47-0.56 p99_ms=12 p99_spread=10-15 ... chats=1000`
(each figure: the median over the rounds, then min-max; constant parameters last, as they are).

`--db` picks the engine (every bench takes it): `sqlite` (the default, a temporary file per
run), `pg` (a throwaway PostgreSQL cluster started for the bench by tests/pg.py, a fresh
database per run) or `postgresql://user@host:port/db` (a fresh database per run on that server,
created and dropped there: the user must be allowed to CREATE DATABASE). `databases(args.db)`
gives the bench its `Databases`; `async with dbs.fresh("name") as target:` is one run's path or
URL, for `open_database`, `settings_for` or `TOWERBOT_DB`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import math
import os
import statistics
import tempfile
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

Figures = dict[str, float]
Side = Callable[[], Awaitable[Figures]]
Round = dict[str, Figures]

#: unit suffixes dropped from a figure's name to name its spread (`p99_ms` -> `p99_spread`)
UNITS = ("_ms", "_s", "_seconds", "_rps", "_mb")
PAIRS = 5
WARMUP = 1
#: Python's collector thresholds as this process started: every side starts from them and a
#: clean heap (TowerBot then sets its own at start-up, bot/app.tune_collector, as it does in
#: production; a bare PTB bot keeps Python's)
PYTHON_GC = gc.get_threshold()


def schedule(
    sides: Sequence[str], pairs: int = PAIRS, warmup: int = WARMUP
) -> list[tuple[int, str]]:
    """(round, side) in the order they run; rounds below `warmup` are the warm-up."""
    return [(r, side) for r in range(warmup + pairs) for side in sides]


async def interleave(
    sides: Mapping[str, Side],
    pairs: int = PAIRS,
    warmup: int = WARMUP,
    report: Callable[[str], None] | None = print,
) -> list[Round]:
    """Run the sides in turn for `warmup` + `pairs` rounds; the measured rounds' figures."""
    rounds: list[Round] = [{} for _ in range(warmup + pairs)]
    for r, name in schedule(list(sides), pairs, warmup):
        fresh_heap()
        figures = await sides[name]()
        rounds[r][name] = figures
        if report is not None:
            label = "warm-up" if r < warmup else f"pair {r - warmup + 1}/{pairs}"
            report(f"  {label} {name}: " + " ".join(f"{k}={fmt(v)}" for k, v in figures.items()))
    return rounds[warmup:]


def fresh_heap() -> None:
    """Before each run: what the last run left is collected, and the collector has Python's
    thresholds again (whatever the last side set)."""
    gc.collect()
    gc.set_threshold(*PYTHON_GC)


def with_bot_collector(side: Side) -> Side:
    """`side` run with the collector thresholds TowerBot sets for itself: a baseline with them
    too (`tuned_ratio` in the storm benches) shows what the bot's own code costs apart from
    what its collector settings save."""

    async def run() -> Figures:
        from bot.app import tune_collector

        tune_collector()
        return await side()

    return run


def collect(
    rounds: Iterable[Round], derive: Mapping[str, Callable[[Round], float]]
) -> dict[str, list[float]]:
    """Each derived figure (a ratio, a side's own figure) over the rounds, in round order."""
    out: dict[str, list[float]] = {key: [] for key in derive}
    for one in rounds:
        for key, fn in derive.items():
            out[key].append(float(fn(one)))
    return out


def median(values: Sequence[float]) -> float:
    """The median; the mean of the middle two for an even count."""
    if not values:
        raise ValueError("no values")
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(min, max) of the values."""
    if not values:
        raise ValueError("no values")
    return float(min(values)), float(max(values))


def fmt(value: float) -> str:
    """Whole numbers bare, otherwise two decimals below 10, one below 100, none above."""
    if math.isnan(value):
        return "nan"
    if float(value).is_integer():
        return str(int(value))
    size = abs(value)
    return f"{value:.2f}" if size < 10 else f"{value:.1f}" if size < 100 else f"{value:.0f}"


def spread_key(key: str) -> str:
    """`ratio` -> `spread`, `p99_ms` -> `p99_spread`, `lost` -> `lost_spread`."""
    if key == "ratio":
        return "spread"
    for unit in UNITS:
        if key.endswith(unit) and len(key) > len(unit):
            return key[: -len(unit)] + "_spread"
    return key + "_spread"


def summary(
    name: str,
    figures: Mapping[str, Sequence[float]],
    params: Mapping[str, object] | None = None,
    ratio_digits: int = 2,
) -> str:
    """`name key=median key_spread=min-max ... param=value`: the one line a bench ends with."""
    parts = [name]
    for key, values in figures.items():
        is_ratio = key.endswith("ratio")

        def show(value: float, is_ratio: bool = is_ratio) -> str:
            return f"{value:.{ratio_digits}f}" if is_ratio else fmt(value)

        low, high = spread(values)
        parts.append(f"{key}={show(median(values))}")
        parts.append(f"{spread_key(key)}={show(low)}-{show(high)}")
    parts.extend(f"{key}={value}" for key, value in (params or {}).items())
    return " ".join(parts)


def add_options(parser: argparse.ArgumentParser, quick: str) -> None:
    """--pairs, --warmup, --quick (alias --small: `quick` says what it shrinks to) and --db."""
    parser.add_argument(
        "--pairs",
        type=int,
        default=PAIRS,
        help=f"measured rounds after the warm-up (default {PAIRS})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=WARMUP,
        help=f"rounds run first and thrown away (default {WARMUP})",
    )
    parser.add_argument("--quick", "--small", dest="quick", action="store_true", help=quick)
    parser.add_argument(
        "--db",
        "--engine",
        default="sqlite",
        metavar="sqlite|pg|URL",
        help="sqlite (a temporary file per run, the default); pg (a throwaway PostgreSQL"
        " cluster for the bench); postgresql://user@host:port/db (a fresh database per run"
        " on that server)",
    )
    parser.add_argument("--pg", dest="db", action="store_const", const="pg", help="--db pg")


def parse_options(
    doc: str,
    argv: list[str] | None,
    quick: str,
    sizes: Mapping[str, int | float],
    small: Mapping[str, int],
    more: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """A bench's command line: `sizes` as --name options (typed by their default), `more`'s own,
    then `add_options`; with --quick the `small` sizes replace the defaults."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in sizes.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    if more is not None:
        more(parser)
    add_options(parser, quick)
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in small.items():
            setattr(args, name, value)
    return args


def run_and_report(
    name: str,
    args: argparse.Namespace,
    sides: Mapping[str, Side],
    derive: Mapping[str, Callable[[Round], float]],
    params: Mapping[str, object],
) -> tuple[list[Round], dict[str, list[float]]]:
    """A bench's measuring: `interleave` the sides (`args.pairs` rounds after `args.warmup`),
    `collect` the derived figures and print the `summary` line with `params`. The measured
    rounds and the figures, for the bench's own verdict."""
    rounds = asyncio.run(interleave(sides, args.pairs, args.warmup))
    figures = collect(rounds, derive)
    print(summary(name, figures, params))
    return rounds, figures


def params(args: argparse.Namespace, *names: str, **more: object) -> dict[str, object]:
    """A summary line's constant parameters: each named option's value, then `more`, then the
    engine (`db=sqlite` or `db=postgresql`) when the bench took --db."""
    out = {name: getattr(args, name) for name in names} | more
    if hasattr(args, "db"):
        out["db"] = engine_name(args.db)
    return out


# --- databases ---------------------------------------------------------------------------------
def engine_name(db: str) -> str:
    """`sqlite` or `postgresql`: the engine --db names."""
    return (
        "postgresql" if db == "pg" or db.startswith(("postgresql://", "postgres://")) else "sqlite"
    )


class Databases:
    """Where a bench's runs keep their data: each run gets a database of its own (a temporary
    SQLite file, or a database created on the PostgreSQL server `admin_url` names and dropped
    after), so no run sees another's rows."""

    def __init__(self, admin_url: str | None = None) -> None:
        self.admin_url = admin_url
        self.engine = "sqlite" if admin_url is None else "postgresql"
        self._names = itertools.count(1)

    @asynccontextmanager
    async def fresh(self, label: str = "bench") -> AsyncIterator[str]:
        """A new empty database for one run (path or URL); removed when the block ends."""
        if self.admin_url is None:
            with tempfile.TemporaryDirectory(prefix="towerbot-bench-") as folder:
                yield str(Path(folder) / f"{label}.sqlite3")
            return
        from tests.pg import recreate

        name = f"bench_{label}_{os.getpid()}_{next(self._names)}".lower()
        await recreate(self.admin_url, name)
        try:
            yield self.admin_url.rsplit("/", 1)[0] + "/" + name
        finally:
            await recreate(self.admin_url, name, create=False)


@contextmanager
def databases(db: str = "sqlite") -> Iterator[Databases]:
    """The `Databases` --db names: `sqlite`; `pg`, a PostgreSQL cluster started here (tests/pg.py:
    initdb and pg_ctl, as the `postgres` user under root) and stopped at the end; or the
    postgresql:// URL of a server whose user may CREATE DATABASE."""
    if engine_name(db) == "sqlite":
        if db not in ("sqlite", ""):
            raise SystemExit(f"--db: sqlite, pg or a postgresql:// URL, not {db!r}")
        yield Databases()
    elif db != "pg":
        yield Databases(db)
    else:
        from tests.pg import start_server

        found = start_server()
        if isinstance(found, str):
            raise SystemExit(f"--db pg: {found}")
        try:
            yield Databases(found.admin_url)
        finally:
            found.stop()
