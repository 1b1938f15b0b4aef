"""Three webhook instances on one database behind a round-robin balancer (issue 15).

Each instance is `towerbot run` in webhook mode in its own process (bot/emulator/balancer.py:
the balancer and the instances' environment); the emulator is Telegram, served over HTTP with
its per-chat limits on and no global limit. An /announce goes down a tower of `--chats` bound
groups. Two sides, interleaved by bench/runner.py:

* `steady`: nobody dies. `ratio` = copies per second (first copy to last) / RATE: the elected
  sender alone sends, so the overall RATE holds across instances (target >= 0.95);
* `kill`: the instance holding the sender lease is killed (SIGKILL) after a third of the
  copies. `lost` = chats without a copy at the end (target 0), `duplicates` = extra copies, and
  `in_flight` = chats whose copy Telegram had accepted while its outbox row was still pending at
  the kill (duplicates must stay within it); `takeover_s` = the gap until copies flow again.

    python bench/multi_instance.py [--chats 300 --rate 50 --lease 2] [--pairs 5] [--quick]
                                   [--db pg|URL]

On PostgreSQL the instances share the database's URL as TOWERBOT_DB (a fresh database per run).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.runner import (
    Databases,
    Figures,
    Round,
    databases,
    params,
    parse_options,
    run_and_report,
)
from bot.demo.worlds import SUPERUSER, bind_groups, codes_of, open_services
from bot.emulator import Emulator
from bot.emulator.balancer import Balancer, free_port, webhook_env

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"chats": 300, "rate": 50.0, "lease": 2.0, "instances": 3}
SMALL = {"chats": 120}
QUICK = "120 chats"
SECRET = "bench-multi-instance-secret-0123456789"


def branches(count: int) -> dict:
    return {
        "code": "d",
        "name": "区团委",
        "children": [{"code": f"d.b{i}", "name": f"团支部{i}"} for i in range(count)],
    }


def copies(em: Emulator) -> Counter[int]:
    """Announcement copies (messages with an acknowledge button) per chat."""
    return Counter(
        s.chat_id
        for s in em.sent
        if s.method == "sendMessage"
        and "ann:" in str((s.reply_markup or {}).get("inline_keyboard", ""))
    )


async def until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.005)


def spawn(env: dict[str, str], where: Path, log_name: str) -> subprocess.Popen[bytes]:
    """`towerbot run` with `env`, its output in `where / log_name`."""
    with (where / log_name).open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=where,
            env=env,
        )


async def run(
    dbs: Databases, chats: int, rate: float, lease: float, count: int, kill: bool
) -> Figures:
    """One announcement through `count` instances sharing a fresh database."""
    async with dbs.fresh("tower") as target:
        with tempfile.TemporaryDirectory() as logs:
            return await run_on(target, Path(logs), chats, rate, lease, count, kill)


async def run_on(
    db: str, logs: Path, chats: int, rate: float, lease: float, count: int, kill: bool
) -> Figures:
    """`run` on the database at `db`, the instances' output in `logs`."""
    em = Emulator(limits=True, global_per_second=None)
    await em.serve()
    services = await open_services(em, db)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        boss = em.add_user("晓明", user_id=SUPERUSER)
        shape = branches(chats - 1)
        await services.tower.import_tree(shape)
        groups = await bind_groups(services, em, codes_of(shape), [boss["id"]])
        ports = [free_port() for _ in range(count)]
        async with Balancer(ports).running() as lb:
            mark = len(em.calls)
            for n, port in enumerate(ports):
                env = webhook_env(
                    em,
                    db,
                    root=ROOT,
                    port=port,
                    public=lb.url,
                    secret=SECRET,
                    superuser=SUPERUSER,
                    rate=rate,
                    lease_seconds=lease,
                )
                procs.append(spawn(env, logs, f"i{n}.log"))
            await until(
                lambda: sum(c.method == "setWebhook" for c in em.calls[mark:]) >= count,
                120,
                "instances up",
            )

            async def sender_pid() -> int | None:
                row = await services.db.fetchone("SELECT owner FROM leases WHERE name = 'sender'")
                return int(row[0].split(":")[-2]) if row else None

            deadline = time.monotonic() + 30
            while (pid := await sender_pid()) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            em.text(boss, groups["d"], "/announce 周六上午9点各支部组织志愿者到社区集合")
            await until(lambda: len(copies(em)) >= 1, 60, "first copy")
            first = time.monotonic()
            in_flight, gap = 0, 0.0
            if kill and pid is not None:
                await until(lambda: len(copies(em)) >= chats // 3, 60, "a third")
                os.kill(pid, signal.SIGKILL)
                killed_at = time.monotonic()
                # the requests it wrote before it died reach the emulator (they sit in the
                # socket until this loop reads them; Telegram would accept them too): counted
                # before, a copy accepted after the count showed as a duplicate beyond in_flight
                await asyncio.sleep(min(0.5, lease / 4))
                got = copies(em)
                pending = await services.db.fetchall(
                    "SELECT chat_id FROM outbox WHERE ref LIKE 'announce:%' AND status = 'pending'"
                )
                in_flight = sum(1 for r in pending if got.get(r[0], 0) > 0)
                before = sum(got.values())
                await until(lambda: sum(copies(em).values()) > before, 60, "takeover")
                gap = time.monotonic() - killed_at
            await until(lambda: len(copies(em)) >= chats, 180, "every copy")
            last = time.monotonic()
            await asyncio.sleep(0.5)  # late duplicates, if any
            got = copies(em)
            expected = {g["id"] for g in groups.values()}
            return {
                "rps": chats / (last - first) if last > first else 0.0,
                "lost": float(len(expected - set(got))),
                "duplicates": float(sum(n - 1 for n in got.values())),
                "in_flight": float(in_flight),
                "takeover_s": gap,
                "spread_instances": float(len(set(lb.served))),
            }
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        await services.db.close()
        await em.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the summary; 1 when a copy was lost or duplicated beyond
    the messages in flight."""
    args = parse_options(__doc__ or "", argv, QUICK, SIZES, SMALL)
    logging.basicConfig(level=logging.WARNING)
    with databases(args.db) as dbs:
        rounds = report(args, dbs)
    bad = any(
        one["kill"]["duplicates"] > one["kill"]["in_flight"]
        or one[s]["lost"]
        or one["steady"]["duplicates"]
        for one in rounds
        for s in ("steady", "kill")
    )
    return 1 if bad else 0


def report(args: argparse.Namespace, dbs: Databases) -> list[Round]:
    """Interleave the two sides on `dbs`; print the summary line; the measured rounds."""
    size = (args.chats, args.rate, args.lease, args.instances)
    rounds, _ = run_and_report(
        "multi_instance",
        args,
        {
            "steady": lambda: run(dbs, *size, kill=False),
            "kill": lambda: run(dbs, *size, kill=True),
        },
        {
            "ratio": lambda r: r["steady"]["rps"] / args.rate,
            "rps": lambda r: r["steady"]["rps"],
            "lost": lambda r: r["steady"]["lost"] + r["kill"]["lost"],
            "duplicates": lambda r: r["kill"]["duplicates"],
            "in_flight": lambda r: r["kill"]["in_flight"],
            "takeover_s": lambda r: r["kill"]["takeover_s"],
        },
        params(args, "chats", "rate", "lease", "instances", target=0.95),
    )
    return rounds


if __name__ == "__main__":
    sys.exit(main())
