"""Sent messages keep their payload RETENTION_DAYS (documents not at all); backups after hold none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.clock import FakeClock
from schedules import retention
from tests.conftest import Harness, build_tower, start_harness

DAY = 86400.0


@pytest.fixture
async def clocked(engine: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeClock]]:
    clock = FakeClock()
    ctx, tb = await start_harness(tmp_path, clock=clock, retention_days=30)
    try:
        yield tb, clock
    finally:
        await ctx.__aexit__(None, None, None)


async def payloads(tb: Harness) -> dict[int, Any]:
    rows = await tb.db.fetchall("SELECT id, kind, status, payload FROM outbox ORDER BY id")
    return {r["id"]: (r["kind"], r["status"], r["payload"]) for r in rows}


async def test_payloads_expire_and_documents_go_at_once(
    clocked: tuple[Harness, FakeClock], tmp_path: Path
) -> None:
    tb, clock = clocked
    t = await build_tower(tb)
    assert tb.app.job_queue.get_jobs_by_name(retention.JOB_NAME)
    secret = "保密内容-Retention-7731"
    old_id = await tb.services.outbox.send(t["member_a"]["id"], secret)
    await tb.send(t["boss"], t["root"], "/export members")
    await tb.drain()
    rows = await payloads(tb)
    docs = [r for r in rows.values() if r[0] == "document"]
    assert docs and all(r[1] == "sent" and r[2] == "{}" for r in docs)  # at once
    assert secret in rows[old_id][2]

    clock.advance(29 * DAY)
    young_secret = "仍在保留期-Young-5512"
    young_id = await tb.services.outbox.send(t["member_b"]["id"], young_secret)
    await tb.drain()
    assert await tb.services.privacy.expire() == 0
    clock.advance(2 * DAY)  # the first message is 31 days old, the second 2
    assert await tb.services.privacy.expire() >= 1
    rows = await payloads(tb)
    assert rows[old_id][2] == "{}" and young_secret in rows[young_id][2]
    backup = tmp_path / "after.backup"
    await tb.db.backup(backup)
    if tb.db.engine == "postgresql":  # a compressed pg_dump archive: its rows were read above
        assert backup.read_bytes().startswith(b"PGDMP")
        return
    blobs = [backup.read_bytes(), Path(tb.settings.db).read_bytes()]
    for blob in blobs:
        assert secret.encode() not in blob
    assert young_secret.encode() in backup.read_bytes()
