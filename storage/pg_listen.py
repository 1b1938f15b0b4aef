"""PostgreSQL LISTEN/NOTIFY for `Database.notify` and `Database.listen` (storage/postgres.py).

* Sending: a transaction's messages are batched (newline-separated, each payload under the
  8000-byte limit) and sent by `pg_notify` just before its COMMIT, in the same transaction:
  PostgreSQL delivers them only if it commits.
* Receiving: one dedicated connection per subscription (`application_name` 'towerbot-listen')
  with asyncpg's `add_listener`. If it drops (the server restarts, the backend is terminated,
  a ping every `PING` seconds goes unanswered), the subscriber hears `on_state(False)` at once,
  the connection is reopened (backing off up to 5 s), and `on_state(True)` follows once
  LISTEN is in place again: anything sent in between was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import asyncpg

from storage.base import DatabaseUnavailable, Subscription, batches, split

log = logging.getLogger(__name__)

#: seconds between pings of an idle listener connection, and how long a ping may take
PING = 10.0
#: seconds a (re)connection may take
CONNECT_TIMEOUT = 10.0
APPLICATION_NAME = "towerbot-listen"


async def send(raw: asyncpg.Connection, notices: Sequence[tuple[str, str]]) -> None:
    """Inside the caller's transaction: NOTIFY every (channel, message), batched per channel."""
    channels: dict[str, list[str]] = {}
    for channel, message in notices:
        channels.setdefault(channel, []).append(message)
    for channel, messages in channels.items():
        await raw.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", channel, batches(messages)
        )


class PgListener(Subscription):
    """Messages on one channel, through a connection of its own that is kept open."""

    def __init__(
        self,
        target: str,
        channel: str,
        on_message: Callable[[str], None],
        on_state: Callable[[bool], None],
        own_pid: Callable[[], int | None],
        ping: float = PING,
    ) -> None:
        self.target = target
        self.channel = channel
        self._on_message = on_message
        self._on_state = on_state
        self._own_pid = own_pid
        self.ping = ping
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: how many times the connection was lost (for tests and logs)
        self.drops = 0

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def start(self) -> PgListener:
        """Listen now (DatabaseUnavailable if the server cannot be reached), then keep at it."""
        try:
            await self._connect()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(f"cannot listen on {self.channel}: {exc}") from exc
        self._task = asyncio.create_task(self._watch(), name=f"listen:{self.channel}")
        return self

    async def _connect(self) -> None:
        conn = await asyncpg.connect(
            self.target,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": APPLICATION_NAME},
        )
        try:
            lost = asyncio.Event()
            conn.add_termination_listener(lambda c: self._dropped(c, lost))
            await conn.add_listener(self.channel, self._received)
        except BaseException:
            conn.terminate()
            raise
        self._conn, self._lost, self.backend = conn, lost, conn.get_server_pid()
        self._on_state(True)

    def _dropped(self, conn: asyncpg.Connection | None, lost: asyncio.Event) -> None:
        """The connection closed (or is given up): messages may be missed from now on."""
        lost.set()
        if conn is not self._conn or self._conn is None or self._closing:
            return
        self._conn = self.backend = None
        self.drops += 1
        log.warning("lost the connection listening on %s: reconnecting", self.channel)
        self._on_state(False)

    def _received(self, conn: object, pid: int, channel: str, payload: object) -> None:
        if pid == self._own_pid():
            return  # sent by this database's own writer: its on_commit hooks ran already
        for message in split(str(payload)):
            self._on_message(message)

    async def _watch(self) -> None:
        """Ping while connected; reconnect when the connection is lost."""
        try:
            await self._keep_listening()
        except Exception:
            # never expected; without a feed the subscriber must not trust what it holds
            log.exception("stopped listening on %s", self.channel)
            conn, self._conn, self.backend = self._conn, None, None
            if conn is not None:
                conn.terminate()
            self._on_state(False)
            raise

    async def _keep_listening(self) -> None:
        while not self._closing:
            conn, lost = self._conn, self._lost
            if conn is None:
                await self._reconnect()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self.ping)
                continue  # lost: reconnect on the next turn
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self.ping)
            except Exception as exc:  # noqa: BLE001 - whatever broke it, a new connection follows
                log.warning("the connection listening on %s failed: %r", self.channel, exc)
                self._dropped(conn, lost)
                conn.terminate()

    async def _reconnect(self) -> None:
        delay = 0.05
        while not self._closing:
            try:
                await self._connect()
            except Exception as exc:  # noqa: BLE001 - retried until the server answers
                log.warning("cannot listen on %s yet (%r): retrying", self.channel, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                log.info("listening on %s again", self.channel)
                return

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        conn, self._conn, self.backend = self._conn, None, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5.0)
            except Exception:  # noqa: BLE001 - closing anyway
                conn.terminate()
