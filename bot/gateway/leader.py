"""The outbox sender runs on one instance at a time: the holder of the 'sender' lease.

Every instance starts a `SenderLeader`. It claims the lease at once (a lone instance sends
from its first second), then renews it every `ttl / 3` seconds with the heartbeat. A standby
keeps trying; when the holder stops cleanly it gives the lease up and a standby takes over
within one renewal, and when the holder dies its lease expires after `ttl`. Rows the dead
holder had handed to Telegram but not yet recorded as sent are sent again by the new holder
(at most the rows in flight); everything else is sent exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.domain.instances import SENDER, Instances
from bot.gateway.sender import Sender

log = logging.getLogger(__name__)

#: the share of a lease's time a holder sends without having renewed it
LICENCE = 0.8


class SenderLeader:
    """Starts and stops `sender` as this instance gains and loses the 'sender' lease."""

    def __init__(self, sender: Sender, instances: Instances) -> None:
        self.sender = sender
        self.instances = instances
        self.holding = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            if dead := await self.instances.clear_dead_neighbours():
                log.info("took over from stopped instances on this machine: %s", ", ".join(dead))
        except Exception as exc:  # noqa: BLE001 - their lease then expires on its own
            log.warning("could not check for stopped instances: %r", exc)
        await self._tick()
        self._task = asyncio.create_task(self._loop(), name="sender-leader")

    async def stop(self) -> None:
        """Stop sending (outcomes written), then leave: the lease is free for a standby."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.sender.stop()
        self.holding = False
        try:
            await self.instances.leave()
        except Exception as exc:  # noqa: BLE001 - the lease then expires on its own
            log.warning("could not give up the sender lease: %r", exc)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.instances.ttl / 3)
            await self._tick()

    async def _tick(self) -> None:
        began = time.monotonic()
        try:
            await self.instances.beat()
            held = await self.instances.claim(SENDER)
        except Exception as exc:  # noqa: BLE001 - keep the current role; try again next tick
            log.warning("sender lease not renewed: %r", exc)
            return
        if held:
            # the lease runs from before the claim; stop starting sends well before it ends
            self.sender.licensed_until = began + LICENCE * self.instances.ttl
        if held and not self.holding:
            log.info("this instance sends the outbox (%s)", self.instances.id)
            await self.sender.start()
        elif not held and self.holding:
            log.info("another instance took over the outbox sender")
            await self.sender.stop()
        self.holding = held
