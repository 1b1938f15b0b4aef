"""This instance among the ones sharing the database: its heartbeat and the leases it holds.

Several instances (webhook mode behind a load balancer, one shared database) each record
themselves in `instances`; work that must run in one place at a time (the outbox sender, so
that the overall RATE holds and each row is sent by one instance) is done only by the holder
of a named lease. A lease is renewed every `ttl / 3` seconds; when its holder dies (kill -9,
lost machine), it expires after `ttl` and a standby takes it over. Leases use the wall clock
(every instance reads the same time), not the bot's `Clock`, which tests move.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

from storage import instances as repo
from storage.db import Database

SENDER = "sender"


class Instances:
    """This instance's identity, heartbeat and leases."""

    def __init__(
        self,
        db: Database,
        *,
        mode: str,
        ttl: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.mode = mode
        self.ttl = ttl
        self.wall = wall
        self.host = socket.gethostname()
        self.id = f"{self.host}:{os.getpid()}:{secrets.token_hex(3)}"
        self.started_at = wall()

    async def beat(self) -> None:
        """Record this instance as alive; forget instances silent for ten lease lifetimes."""
        now = self.wall()
        row = repo.InstanceRow(
            id=self.id,
            host=self.host,
            pid=os.getpid(),
            mode=self.mode,
            started_at=self.started_at,
            seen_at=now,
        )
        async with self.db.transaction() as tx:
            await repo.seen(tx, row)
            await repo.forget_silent(tx, now - 10 * self.ttl)

    async def clear_dead_neighbours(self) -> list[str]:
        """At start-up: forget instances on this host, started before this one, whose process
        is gone (a crash and a restart), so their lease and inbox rows pass on at once instead
        of after `ttl`. Instances elsewhere are left to expire."""
        dead = [
            row.id
            for row in await repo.instances(self.db.reader)
            if row.host == self.host
            and row.id != self.id
            and row.started_at <= self.started_at
            and not _alive(row.pid)
        ]
        if dead:
            async with self.db.transaction() as tx:
                for instance_id in dead:
                    await repo.gone(tx, instance_id)
        return dead

    async def claim(self, name: str) -> bool:
        """Take or renew lease `name`; False while another live instance holds it."""
        async with self.db.transaction() as tx:
            return await repo.claim(tx, name, self.id, self.wall(), self.ttl)

    async def leave(self) -> None:
        """A clean stop: give up every lease at once (a standby need not wait for expiry)."""
        async with self.db.transaction() as tx:
            await repo.gone(tx, self.id)

    async def view(self) -> dict[str, Any]:
        """Instances with their age of heartbeat, and who holds which lease (for status)."""
        return await status_of(self.db, self.wall)


def _alive(pid: int) -> bool:
    """A process with this id runs on this machine (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return True
    return True


def view(
    found: list[repo.InstanceRow], held: dict[str, repo.LeaseRow], now: float
) -> dict[str, Any]:
    owners: dict[str, list[str]] = {}
    for lease in held.values():
        owners.setdefault(lease.owner, []).append(lease.name)
    return {
        "instances": [
            {
                "id": row.id,
                "mode": row.mode,
                "seen_s_ago": round(max(0.0, now - row.seen_at), 1),
                "holds": sorted(owners.get(row.id, [])),
            }
            for row in found
        ],
        "sender": held[SENDER].owner if SENDER in held else None,
    }


async def status_of(db: Database, wall: Callable[[], float] = time.time) -> dict[str, Any]:
    """The same view for `towerbot status`, which is not an instance itself."""
    now = wall()
    found = await repo.instances(db.reader)
    held = {lease.name: lease for lease in await repo.leases(db.reader) if lease.expires_at >= now}
    return view(found, held, now)
