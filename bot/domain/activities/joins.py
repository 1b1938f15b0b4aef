"""Sign-up presses decided in batches: one BEGIN IMMEDIATE transaction per burst of presses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.activities.results import JoinResult
from bot.domain.errors import Refusal
from storage.db import Conn, Database


@dataclass
class Press:
    """One Sign up press waiting for its batch; `outcome` is set when the batch decides it."""

    activity_id: int
    user_id: int
    chat_id: int  # where it was pressed (< 0: a group, whose card the batch checks)
    message_id: int
    future: asyncio.Future[JoinResult]
    outcome: JoinResult | Refusal | None = None
    post_no: int | None = None  # the post pressed, for an activity with posts


class JoinBatcher:
    """Group commit for sign-up presses: presses that arrive while a transaction is running are
    decided together in the next one (in arrival order). A burst of presses then costs one
    BEGIN IMMEDIATE ... COMMIT per batch instead of per press; each press still gets its own
    answer, and a press is answered only after its decision is committed."""

    MAX_BATCH = 500

    def __init__(
        self, db: Database, decide: Callable[[Conn, list[Press]], Awaitable[None]]
    ) -> None:
        self.db = db
        self.decide = decide
        self._queue: list[Press] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(
        self,
        activity_id: int,
        user_id: int,
        chat_id: int,
        message_id: int,
        post_no: int | None = None,
    ) -> JoinResult:
        """Queue one press; its answer comes once its batch has committed."""
        future: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()
        self._queue.append(
            Press(activity_id, user_id, chat_id, message_id, future, post_no=post_no)
        )
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="activity-joins")
        return await future

    async def _run(self) -> None:
        while self._queue:
            batch = self._queue[: self.MAX_BATCH]
            del self._queue[: self.MAX_BATCH]
            try:
                async with self.db.transaction() as tx:
                    await self.decide(tx, batch)
            except BaseException as exc:  # nothing of the batch was committed
                for press in batch:
                    if not press.future.done():
                        press.future.set_exception(
                            exc if isinstance(exc, Exception) else RuntimeError("cancelled")
                        )
                if not isinstance(exc, Exception):
                    raise
                continue
            for press in batch:
                if press.future.done():
                    continue
                if isinstance(press.outcome, Refusal):
                    press.future.set_exception(press.outcome)
                elif press.outcome is not None:
                    press.future.set_result(press.outcome)
                else:  # pragma: no cover - decide() answers every press
                    press.future.set_exception(RuntimeError("press left undecided"))
