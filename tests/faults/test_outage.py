"""The Bot API unreachable for 30 s: the HTTP server is closed (connections refused, open ones
dropped) and reopened on the same port. Meanwhile people write to the bot, reminders come due
and other programs queue outbox messages; afterwards the bot catches up by itself and nothing
is lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faults.conftest import (
    SUPERUSER,
    bound_world,
    branch_tree,
    codes_of,
    has_button,
    open_services,
    remind_secretaries,
    sends,
    served,
    sql,
    wait_for,
)

# each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

OUTAGE = 30.0


async def test_api_unreachable_for_30_seconds(tmp_path: Path) -> None:
    branches, reminders, writers, outbox_rows = 30, 10, 10, 20
    # slow (rate 10): the announcement is still going out
    async with served(tmp_path, rate=10, per_chat_burst=20) as (em, db, bot):
        url = em.base_url
        port = urlsplit(url).port
        boss = em.add_user("晓明", user_id=SUPERUSER)
        shape = branch_tree(branches - 1)
        groups = await bound_world(em, db, shape, codes_of(shape), [boss["id"]])
        # report-back reminders that come due in the middle of the outage (~20-25 s on)
        secretaries = set(
            (
                await remind_secretaries(em, db, reminders, lambda now, i: now + 20 + i * 0.5)
            ).values()
        )
        chat_ids = {g["id"] for g in groups.values()}
        copy = has_button("ann:")

        await bot.start()
        em.text(boss, groups["d"], "/announce 今晚停电检修，明早恢复 OUTAGE-DRILL")
        await wait_for(lambda: len(sends(em, copy)) >= 3, 60, "first copies", bot)

        # --- the outage ---------------------------------------------------------------------
        await em.close()
        down_at = time.time()
        copies_before = len(sends(em, copy))
        people = [em.add_user(f"新人{i}") for i in range(writers)]
        others = await open_services(em, db)  # another program queues messages meanwhile
        try:
            for i, person in enumerate(people):
                em.text(person, None, "/start")
                chat = list(chat_ids)[i % len(chat_ids)]
                await others.outbox.send(chat, f"OUTAGE-OUTBOX-{i}")
                await others.outbox.send(chat, f"OUTAGE-OUTBOX-{i + writers}")
                await asyncio.sleep(OUTAGE / (2 * writers))
        finally:
            await others.db.close()
        await asyncio.sleep(max(0.0, down_at + OUTAGE - time.time()))
        assert bot.alive()
        failed_attempts = sql(db, "SELECT COUNT(*) FROM outbox WHERE attempts > 0")[0][0]
        fired = sql(
            db, "SELECT COUNT(*) FROM reminders WHERE status = 'done' AND fired_at > ?", (down_at,)
        )[0][0]
        assert await em.serve(port=port) == url
        up_at = time.time()
        print(
            f"\noutage {up_at - down_at:.1f} s: {copies_before}/{branches} copies before it, "
            f"{failed_attempts} outbox rows failed at least once, {fired} reminders fired "
            f"during it, {len(em.pending_updates)} updates waiting"
        )
        assert failed_attempts > 0, "sending really failed during the outage"

        # --- recovery -----------------------------------------------------------------------
        def caught_up() -> bool:
            answered = {s.chat_id for s in em.sent if s.method == "sendMessage"}
            texts = {s.text for s in em.sent if s.method == "sendMessage"}
            return (
                set(sends(em, copy)) >= chat_ids
                and all(p["id"] in answered for p in people)
                and secretaries <= answered
                and all(f"OUTAGE-OUTBOX-{i}" in texts for i in range(outbox_rows))
            )

        await wait_for(caught_up, 120, "caught up after the outage", bot, interval=0.1)
        await wait_for(
            lambda: not sql(db, "SELECT 1 FROM outbox WHERE status <> 'sent'"),
            60,
            "outbox all sent",
            bot,
        )
        print(f"caught up {time.time() - up_at:.1f} s after the API came back")
        duplicates = sum(n - 1 for n in sends(em, copy).values())
        outboxed = sends(em, lambda s: (s.text or "").startswith("OUTAGE-OUTBOX-"))
        duplicates += sum(outboxed.values()) - outbox_rows
        duplicates += sum(n - 1 for n in sends(em, lambda s: s.chat_id in secretaries).values())
        print(f"duplicates {duplicates}")
        assert duplicates <= 64
        assert sql(
            db, "SELECT status, COUNT(*) FROM reminders WHERE kind = 'campaign' GROUP BY status"
        ) == [("done", reminders)]
        await wait_for(lambda: not em.pending_updates, 30, "every update acknowledged", bot)
        assert bot.alive()
