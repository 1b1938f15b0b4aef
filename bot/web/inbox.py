"""The inbox worker: feeds committed webhook updates to the Application, then marks them handled.

Rows are dispatched in update_id order, each in its own task through the Application's update
processor (`PerChatUpdateProcessor`), exactly as PTB's own update fetcher does with concurrent
updates: one chat's updates keep their order, other chats run alongside. At start the worker
first picks up rows a crash left unhandled. Handled rows are pruned once an hour.

With several instances (one database), each worker handles the rows its own web server
accepted, never one whose chat has an earlier update still unhandled on another instance, and
every `ttl / 3` seconds adopts the rows of instances whose heartbeat stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.domain.inbox import Inbox
from storage.inbox import InboxRow

log = logging.getLogger(__name__)

#: seconds between looks while a chat's update waits for another instance to handle an earlier one
BLOCKED_POLL = 0.1


class InboxWorker:
    """One loop that dispatches pending rows; at most `max_in_flight` updates at once."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        inbox: Inbox,
        *,
        max_in_flight: int = 64,
        prune_every: float = 3600.0,
    ) -> None:
        self.app = app
        self.inbox = inbox
        self.max_in_flight = max_in_flight
        self.prune_every = prune_every
        self._room = asyncio.Semaphore(max_in_flight)
        self._wake = asyncio.Event()
        #: update ids dispatched and not yet marked handled (never dispatched twice)
        self._dispatched: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self.handled = 0

    @property
    def running(self) -> bool:
        """The dispatch loop is alive."""
        return self._loop is not None and not self._loop.done()

    def wake(self) -> None:
        """A new row was committed."""
        self._wake.set()

    async def start(self) -> None:
        """Start the loop; rows left unhandled by a previous run go first (lowest ids)."""
        self._loop = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop dispatching; let updates in progress finish (cancelled after `timeout`)."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:  # left unhandled in the inbox: handled again at the next start
                task.cancel()
            if late:
                await asyncio.wait(late)

    async def _run(self) -> None:
        pruned = adopted = 0.0
        while True:
            self._wake.clear()
            if time.monotonic() - adopted > self.inbox.ttl / 3:
                adopted = time.monotonic()
                if taken := await self.inbox.adopt():
                    log.info("inbox: took over %d updates of a stopped instance", taken)
            rows = await self.inbox.pending(skip=self._dispatched, limit=self.max_in_flight)
            for row in rows:
                await self._room.acquire()
                self._dispatch(row)
            if time.monotonic() - pruned > self.prune_every:
                pruned = time.monotonic()
                if removed := await self.inbox.prune():
                    log.info("inbox: pruned %d handled updates", removed)
            if len(rows) < self.max_in_flight:
                # another instance's earlier update of a chat holds ours back: look again soon;
                # otherwise wake on a new row, and now and then for rows of stopped instances
                pause = BLOCKED_POLL if self.inbox.blocked else self.inbox.ttl / 3
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(pause, self.prune_every))

    def _dispatch(self, row: InboxRow) -> None:
        self._dispatched.add(row.update_id)
        task = asyncio.create_task(self._handle(row), name=f"inbox-{row.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, row: InboxRow) -> None:
        """Process one update through the update processor, then mark its row handled."""
        app = self.app
        try:
            try:
                update = Update.de_json(json.loads(row.body), app.bot)
                await app.update_processor.process_update(update, app.process_update(update))
            except asyncio.CancelledError:
                raise  # left pending: handled again at the next start
            except Exception:  # never retried forever: one bad update must not stall the rest
                log.exception("inbox: update %d failed; marked handled", row.update_id)
            try:
                await self.inbox.mark_handled(row.update_id)
            except Exception:  # stays pending (and skipped) until the next start
                log.exception("inbox: update %d could not be marked handled", row.update_id)
                return
            self._dispatched.discard(row.update_id)
            self.handled += 1
        finally:
            self._room.release()
