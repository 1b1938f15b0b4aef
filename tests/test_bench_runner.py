"""bench/runner.py: the interleaving order, medians, spreads and the summary line."""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

import pytest

from bench import runner
from bench.runner import (
    add_options,
    collect,
    databases,
    engine_name,
    fmt,
    interleave,
    median,
    params,
    schedule,
    spread,
    spread_key,
    summary,
)
from bot.app import GC_YOUNG, tune_collector


def test_schedule_alternates_sides_after_the_warm_up() -> None:
    assert schedule(["a", "b"], pairs=5, warmup=1) == [
        (r, side) for r in range(6) for side in ("a", "b")
    ]
    assert [side for _, side in schedule(["a", "b"], pairs=2, warmup=1)] == ["a", "b"] * 3
    assert schedule(["only"], pairs=5, warmup=1) == [(r, "only") for r in range(6)]


async def test_interleave_runs_a_b_a_b_and_drops_the_warm_up() -> None:
    calls: list[str] = []

    def side(name: str):  # type: ignore[no-untyped-def]
        async def run() -> dict[str, float]:
            calls.append(name)
            return {"n": float(len(calls))}

        return run

    rounds = await interleave({"a": side("a"), "b": side("b")}, pairs=5, warmup=1, report=None)
    assert calls == ["a", "b"] * 6
    assert len(rounds) == 5
    # the warm-up pair (calls 1 and 2) is dropped; each round holds the pair that ran together
    assert [(r["a"]["n"], r["b"]["n"]) for r in rounds] == [
        (3, 4),
        (5, 6),
        (7, 8),
        (9, 10),
        (11, 12),
    ]


async def test_interleave_reports_every_run() -> None:
    lines: list[str] = []

    async def one() -> dict[str, float]:
        return {"seconds": 1.5}

    await interleave({"x": one}, pairs=2, warmup=1, report=lines.append)
    assert lines == [
        "  warm-up x: seconds=1.50",
        "  pair 1/2 x: seconds=1.50",
        "  pair 2/2 x: seconds=1.50",
    ]


@pytest.mark.parametrize(
    "values, mid, low_high",
    [
        ([0.5], 0.5, (0.5, 0.5)),
        ([0.56, 0.47, 0.52, 0.50, 0.55], 0.52, (0.47, 0.56)),
        ([4.0, 1.0, 3.0, 2.0], 2.5, (1.0, 4.0)),
        ([0.0, 0.0, 0.0, 0.0, 0.0], 0.0, (0.0, 0.0)),
    ],
)
def test_median_and_spread(values: list[float], mid: float, low_high: tuple[float, float]) -> None:
    assert median(values) == pytest.approx(mid)
    assert spread(values) == pytest.approx(low_high)


def test_median_and_spread_of_nothing_refuse() -> None:
    with pytest.raises(ValueError):
        median([])
    with pytest.raises(ValueError):
        spread([])


def test_collect_derives_ratios_per_round() -> None:
    rounds = [{"a": {"rps": 50.0}, "b": {"rps": 100.0}}, {"a": {"rps": 60.0}, "b": {"rps": 80.0}}]
    got = collect(
        rounds, {"ratio": lambda r: r["a"]["rps"] / r["b"]["rps"], "a_rps": lambda r: r["a"]["rps"]}
    )
    assert got == {"ratio": [0.5, 0.75], "a_rps": [50.0, 60.0]}


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (12.0, "12"),
        (0.123, "0.12"),
        (12.34, "12.3"),
        (123.4, "123"),
        (float("nan"), "nan"),
    ],
)
def test_fmt(value: float, text: str) -> None:
    assert fmt(value) == text


@pytest.mark.parametrize(
    "key, name",
    [
        ("ratio", "spread"),
        ("p99_ms", "p99_spread"),
        ("towerbot_rps", "towerbot_spread"),
        ("lost", "lost_spread"),
        ("sequential_ratio", "sequential_ratio_spread"),
    ],
)
def test_spread_key(key: str, name: str) -> None:
    assert spread_key(key) == name


def test_summary_line() -> None:
    line = summary(
        "roundtrip",
        {
            "ratio": [0.52, 0.47, 0.56, 0.50, 0.55],
            "p99_ms": [12, 10, 15, 11, 13],
            "lost": [0, 0, 0, 0, 0],
        },
        {"users": 50},
    )
    assert line == (
        "roundtrip ratio=0.52 spread=0.47-0.56 p99_ms=12 p99_spread=10-15 "
        "lost=0 lost_spread=0-0 users=50"
    )
    # one key=value per field after the name: easy to parse
    fields = dict(part.split("=") for part in line.split()[1:])
    assert fields["ratio"] == "0.52" and fields["spread"] == "0.47-0.56"


@pytest.mark.parametrize(
    "db, named",
    [
        ("sqlite", "sqlite"),
        ("pg", "postgresql"),
        ("postgresql://u@h:5432/postgres", "postgresql"),
        ("postgres://u@h/postgres", "postgresql"),
    ],
)
def test_db_option_names_the_engine(db: str, named: str) -> None:
    parser = argparse.ArgumentParser()
    add_options(parser, "small")
    args = parser.parse_args(["--db", db])
    assert engine_name(args.db) == named
    assert params(args, "pairs")["db"] == named
    assert parser.parse_args([]).db == "sqlite"
    assert parser.parse_args(["--pg"]).db == "pg"


async def test_each_sqlite_run_gets_a_fresh_file_removed_after() -> None:
    with databases("sqlite") as dbs:
        assert dbs.engine == "sqlite"
        async with dbs.fresh("one") as first, dbs.fresh("one") as second:
            assert first != second and first.endswith("one.sqlite3")
            Path(first).write_text("x")
        assert not Path(first).exists()


def test_an_unknown_db_is_refused() -> None:
    with pytest.raises(SystemExit), databases("mysql://x"):
        pass


async def test_every_side_starts_with_pythons_collector_and_the_bot_sets_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A side that tunes the collector (TowerBot at start-up) does not tune the next one."""
    seen: list[tuple[int, int, int]] = []

    async def tuned() -> dict[str, float]:
        seen.append(gc.get_threshold())
        tune_collector()
        return {"x": 1.0}

    async def bare() -> dict[str, float]:
        seen.append(gc.get_threshold())
        return {"x": 1.0}

    monkeypatch.setattr(runner, "PYTHON_GC", (700, 10, 10))
    before = gc.get_threshold()
    try:
        await interleave({"bot": tuned, "bare": bare}, pairs=2, warmup=0, report=None)
        assert seen == [(700, 10, 10)] * 4
        assert gc.get_threshold()[0] == 700  # the bare side ran last
        tune_collector()
        assert gc.get_threshold()[0] == GC_YOUNG
    finally:
        gc.set_threshold(*before)
