"""Reads that miss the cache in the same turn of the event loop, made as one query.

A burst of updates from people the bot has not seen lately (a sign-up storm: thousands press
within a second) would otherwise cost one database round trip each, and on SQLite each one a
thread hop. `Loader.load(key)` parks the key; once every task that was ready has run (one
`call_soon`), the parked keys are read together by `read_many` and each waiter gets its own
answer. A failed read fails every waiter of that batch; a cancelled waiter leaves the others
alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class Loader(Generic[_K, _V]):
    """Batches `load(key)` calls of one loop turn into one `read_many(keys)`; a key it does
    not return loads as `missing`."""

    def __init__(
        self,
        read_many: Callable[[list[_K]], Awaitable[dict[_K, _V]]],
        missing: _V,
        name: str = "loader",
    ) -> None:
        self._read_many = read_many
        self.name = name  # its reading tasks are named so (tests count their queries)
        self._missing = missing
        self._parked: dict[_K, list[asyncio.Future[_V]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def load(self, key: _K) -> _V:
        loop = asyncio.get_running_loop()
        if not self._parked:
            loop.call_soon(self._flush)
        future: asyncio.Future[_V] = loop.create_future()
        self._parked.setdefault(key, []).append(future)
        return await future

    def _flush(self) -> None:
        parked, self._parked = self._parked, {}
        task = asyncio.get_running_loop().create_task(self._read(parked), name=self.name)
        self._tasks.add(task)  # kept until done: the loop holds tasks only weakly
        task.add_done_callback(self._tasks.discard)

    async def _read(self, parked: dict[_K, list[asyncio.Future[_V]]]) -> None:
        try:
            found = await self._read_many(list(parked))
        except asyncio.CancelledError:  # shutting down: no waiter hangs
            for future in _waiting(parked):
                future.cancel()
            raise
        except Exception as error:  # noqa: BLE001 - every waiter of the batch hears it
            for future in _waiting(parked):
                future.set_exception(error)
            return
        for key, futures in parked.items():
            value = found.get(key, self._missing)
            for future in futures:
                if not future.done():  # a waiter that was cancelled cancelled its future
                    future.set_result(value)


def _waiting(parked: dict[_K, list[asyncio.Future[_V]]]) -> list[asyncio.Future[_V]]:
    return [f for futures in parked.values() for f in futures if not f.done()]
