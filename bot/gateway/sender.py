"""The one sender: drains the outbox into Telegram within its limits.

Pacing (all in monotonic time, since it is about Telegram's clock, not the bot's):
an overall token bucket at `rate` messages/s; per chat at most one message in flight and one
started per second (so a chat's order is kept); per group at most 20 started in a rolling
60 s. A chat that has to wait never holds up the others: ready chats are served oldest message
first, waiting chats sit in a heap until their time comes. The per-chat limits are the
gateway's one `ChatPace`; Telegram's errors are read by the gateway's one `classify`.

Durability: rows are read in batches (a few per chat), and outcomes are written back in
batched transactions every ~50 ms. A row is marked sent only after Telegram accepted it; rows
not yet sent stay pending and are picked up by the next Sender after a restart (only the ones
in flight at a kill -9 can be sent twice).
"""

from __future__ import annotations

import asyncio
import base64
import heapq
import logging
import math
import time
from bisect import insort
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Bot, InputFile, LinkPreviewOptions
from telegram.error import TelegramError

from bot.domain.clock import Clock
from bot.domain.html_split import plain_of
from bot.domain.models import OutboxItem
from bot.domain.outbox import Outbox, Outcome, parts_of
from bot.gateway.actions import ACTION_KINDS, NotYet, perform
from bot.gateway.errors import classify
from bot.gateway.markup import markup_of
from bot.gateway.pacing import CHAT_INTERVAL, ChatPace
from storage.db import Database

log = logging.getLogger(__name__)

MAX_FAILURES = 10  # transient errors before a message is given up
BACKOFF_CAP = 300.0
FLUSH_EVERY = 0.05  # seconds between batched outcome writes
LOAD_LIMIT = 2000  # rows read per refill
LOAD_PER_CHAT = 4  # rows per chat read per refill (a backlog in one chat cannot crowd out others)
POLL = 1.0  # look at the database at least this often (scheduled rows, other writers)
MIN_REFILL_GAP = 0.02


@dataclass
class _Chat(ChatPace):
    """One chat's queue in memory, paced by the shared per-chat limits."""

    queue: list[OutboxItem] = field(default_factory=list)  # by id; the head goes next
    in_flight: bool = False
    queued: bool = False  # has an entry in the waiting heap or the ready heap

    @property
    def id(self) -> int:
        """The chat's id."""
        return self.chat_id

    def ready_at(self, chat_interval: float) -> float:
        """When the chat's next message may start (one per `chat_interval`, group window)."""
        return self.next_start(time.monotonic(), self.last_start + chat_interval)


class Sender:
    """Drains the outbox; start() once, stop() on shutdown."""

    def __init__(
        self,
        bot: Bot,
        outbox: Outbox,
        db: Database,
        clock: Clock,
        rate: float,
        *,
        max_in_flight: int = 64,
        chat_interval: float = CHAT_INTERVAL,
    ) -> None:
        self.bot = bot
        self.outbox = outbox
        self.db = db
        self.clock = clock
        self.rate = float(rate)
        self.max_in_flight = max_in_flight
        self.chat_interval = chat_interval
        self._burst = max(1.0, self.rate * 0.05)
        #: monotonic time after which no new send starts (set by the leader from its lease, so
        #: a holder whose renewal stalled stops before a standby may take over); inf: no lease
        self.licensed_until = math.inf
        self._reset()

    def _reset(self) -> None:
        self._chats: dict[int, _Chat] = {}
        self._known: set[int] = set()  # ids in memory or with an outcome not yet written
        self._waiting: list[tuple[float, int, int]] = []  # (ready_at, head id, chat id)
        self._ready: list[tuple[int, int]] = []  # (head id, chat id)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._tokens = self._burst
        self._tokens_at = time.monotonic()
        self._seen_changes = -1
        self._last_refill = 0.0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outcome_event = asyncio.Event()
        self._io_lock = asyncio.Lock()  # a refill never interleaves with a write of outcomes
        self._capped: set[int] = set()  # chats whose read slice was full: more rows behind
        self._full = False  # the last read hit LOAD_LIMIT
        self._queued = 0  # items held in memory (queued or in flight)
        self._refill_gap = MIN_REFILL_GAP
        self.sent_count = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sender and its batched writer."""
        if self._task is not None:
            return
        self._reset()
        self._task = asyncio.create_task(self._run(), name="outbox-sender")
        self._writer = asyncio.create_task(self._write_loop(), name="outbox-writer")

    async def stop(self) -> None:
        """Stop taking new messages, let the in-flight sends finish and write their outcomes;
        everything else stays pending for the next start."""
        if self._task is None:
            return
        self._stopping = True
        self.outbox.poke()
        await self._task
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        await self._flush()
        self._task = self._writer = None

    async def drain(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is due, in memory or in flight; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        while True:
            await self._flush()
            if self._idle():
                if await self.outbox.due_count() == 0 and self._idle():
                    return True
                self._seen_changes = -1  # something due that we have not read: read again
                self.outbox.poke()
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)

    def _idle(self) -> bool:
        return (
            not self._in_flight
            and not self._outcomes
            and not any(chat.queue for chat in self._chats.values())
        )

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                now = time.monotonic()
                changed = self.outbox.changes != self._seen_changes
                if (changed and now - self._last_refill >= self._refill_gap) or (
                    now - self._last_refill >= POLL
                ):
                    await self._refill()
                delay = self._dispatch()
                changed = self.outbox.changes != self._seen_changes
                if changed and delay > self._refill_gap:
                    delay = self._refill_gap
            except Exception:  # never let the loop die
                log.exception("outbox sender loop error")
                delay = 1.0
            if self._stopping:
                break
            await self.outbox.wait(max(0.0, min(delay, POLL)))

    async def _refill(self) -> None:
        """Read due rows (a few per chat) that are not already in memory."""
        self._seen_changes = self.outbox.changes
        began = time.monotonic()
        async with self._io_lock:
            items = await self.outbox.due(LOAD_LIMIT, per_chat=LOAD_PER_CHAT)
            fresh = [item for item in items if item.id not in self._known]
            for item in fresh:
                self._known.add(item.id)
                chat = self._chat(item.chat_id)
                insort(chat.queue, item, key=lambda i: i.id)
            self._queued += len(fresh)
        self._last_refill = time.monotonic()
        # a big backlog makes the read slower: read less often rather than spend the loop on it
        self._refill_gap = max(MIN_REFILL_GAP, 5 * (self._last_refill - began))
        for chat_id in {item.chat_id for item in fresh}:
            self._enqueue(self._chats[chat_id])
        per_chat = Counter(item.chat_id for item in items)
        self._capped = {chat_id for chat_id, n in per_chat.items() if n >= LOAD_PER_CHAT}
        self._full = len(items) >= LOAD_LIMIT

    def _want_more(self, chat: _Chat) -> bool:
        """Rows may be waiting in the database behind the ones in memory."""
        if chat.id in self._capped and len(chat.queue) <= 1:
            return True
        return self._full and self._queued < LOAD_LIMIT // 2

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id)
        return chat

    def _enqueue(self, chat: _Chat) -> None:
        """Put a chat with a message to send into the waiting heap (unless it is there)."""
        if chat.queued or chat.in_flight or not chat.queue:
            return
        chat.queued = True
        heapq.heappush(
            self._waiting, (chat.ready_at(self.chat_interval), chat.queue[0].id, chat.id)
        )

    def _dispatch(self) -> float:
        """Start every send that the limits allow now; returns how long until the next one."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * self.rate)
        self._tokens_at = now
        while self._waiting and self._waiting[0][0] <= now:
            _, _, chat_id = heapq.heappop(self._waiting)
            chat = self._chats[chat_id]
            if not chat.queue or chat.in_flight:
                chat.queued = False
                continue
            ready = chat.ready_at(self.chat_interval)
            if ready > now:
                heapq.heappush(self._waiting, (ready, chat.queue[0].id, chat_id))
                continue
            heapq.heappush(self._ready, (chat.queue[0].id, chat_id))
        if self._ready and now >= self.licensed_until:
            return POLL  # the lease may have lapsed: start nothing until it is renewed
        while self._ready and len(self._in_flight) < self.max_in_flight:
            if self._tokens < 1.0:
                return (1.0 - self._tokens) / self.rate
            _, chat_id = heapq.heappop(self._ready)
            chat = self._chats[chat_id]
            chat.queued = False
            if not chat.queue or chat.in_flight:
                continue
            self._tokens -= 1.0
            self._start(chat, chat.queue[0])
        if self._ready:  # limited by max_in_flight: a finishing send pokes us
            return POLL
        if self._waiting:
            return max(0.0, self._waiting[0][0] - now)
        return POLL

    def _start(self, chat: _Chat, item: OutboxItem) -> None:
        now = time.monotonic()
        chat.in_flight = True
        chat.started(now)
        task = asyncio.create_task(self._send(chat, item))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    # -- one send ----------------------------------------------------------------------------

    async def _send(self, chat: _Chat, item: OutboxItem) -> None:
        try:
            await self._attempt(chat, item)
        except Exception:  # our own bug or the database: forget the row, it stays pending
            log.exception("outbox item %s: unexpected error", item.id)
            self._drop(chat, item)
            self._known.discard(item.id)
            chat.pause_until = time.monotonic() + 5.0
        finally:
            chat.in_flight = False
            self._enqueue(chat)
            if self._want_more(chat):
                self._seen_changes = -1
            self.outbox.poke()

    async def _attempt(self, chat: _Chat, item: OutboxItem) -> None:
        parts = parts_of(item) if item.kind == "message" else [item.payload.get("text") or ""]
        index = len(item.message_ids)
        try:
            message_id = await self._deliver_or_plain(item, parts, index)
        except NotYet as exc:  # an edit, deletion or pin behind a copy not yet sent
            chat.pause_until = time.monotonic() + exc.wait
            self._retry(chat, item, exc.wait, str(exc), failures=None)
        except TelegramError as exc:
            await self._failed(chat, item, exc)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable file, bad payload
            log.warning("outbox item %s: cannot be sent: %r", item.id, exc)
            self._fail(chat, item, f"{type(exc).__name__}: {exc}")
        else:
            ids = [*item.message_ids, message_id]
            if len(ids) < len(parts):
                self._replace(chat, item, item.model_copy(update={"message_ids": ids}))
                self._emit(Outcome(item.id, "progress", message_ids=ids))
            else:
                self._drop(chat, item)
                self.sent_count += 1
                self._emit(Outcome(item.id, "sent", message_ids=ids))

    async def _failed(self, chat: _Chat, item: OutboxItem, exc: TelegramError) -> None:
        """Act on Telegram's refusal of one send, as the gateway's error mapping reads it."""
        failure = classify(exc)
        if failure.kind == "flood":
            wait = failure.wait
            chat.pause_until = time.monotonic() + wait
            self._retry(chat, item, wait, f"RetryAfter {wait:g}", failures=None)
        elif failure.kind == "migrated":
            assert failure.new_chat_id is not None
            await self._migrated(chat, item, failure.new_chat_id)
        elif failure.kind == "forbidden":
            await self.outbox.on_forbidden(item)
            self._fail(chat, item, f"{failure.name}: {failure.message}")
        elif failure.kind != "transient":  # a 400 of any kind: this message can never go
            log.warning(
                "outbox item %s to %s: bad request: %s", item.id, item.chat_id, failure.message
            )
            self._fail(chat, item, f"{failure.name}: {failure.message}")
        else:  # TimedOut, NetworkError, 5xx, others
            failures = getattr(item, "failures", 0) + 1
            error = f"{failure.name}: {failure.message}"
            if failures >= MAX_FAILURES:
                log.warning("outbox item %s: giving up after %s errors: %s", item.id, failures, exc)
                self._fail(chat, item, error, failures=failures)
            else:
                wait = min(BACKOFF_CAP, 2.0 ** (failures - 1))
                chat.pause_until = time.monotonic() + wait
                self._retry(chat, item, wait, error, failures=failures)

    async def _deliver_or_plain(self, item: OutboxItem, parts: list[str], index: int) -> int:
        """`_deliver`; when Telegram cannot parse the markup, once more as plain text."""
        try:
            return await self._deliver(item, parts, index)
        except TelegramError as exc:
            if classify(exc).kind != "unparsable" or not item.payload.get("parse_mode"):
                raise
            log.warning("outbox item %s: %s; sending it as plain text", item.id, exc.message)
        return await self._deliver(item, parts, index, plain=True)

    async def _deliver(
        self, item: OutboxItem, parts: list[str], index: int, *, plain: bool = False
    ) -> int:
        """Send part `index` of `item` (without markup if `plain`); returns the message id."""
        p = item.payload
        last = index == len(parts) - 1
        common: dict[str, Any] = {"chat_id": item.chat_id}
        if last and p.get("reply_markup"):
            common["reply_markup"] = markup_of(p["reply_markup"], self.bot)
        # only what the payload sets, so the application's Defaults still apply to the rest
        for key in ("disable_notification", "protect_content", "message_thread_id"):
            if p.get(key) is not None:
                common[key] = p[key]
        parse_mode = None if plain else p.get("parse_mode")
        if item.kind in ACTION_KINDS:  # changes a message already sent (bot/gateway/actions.py)
            return await perform(self.bot, self.outbox, item, plain=plain)
        if item.kind == "message":
            if p.get("disable_preview"):
                common["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
            text = plain_of(parts[index]) if plain else parts[index]
            message = await self.bot.send_message(text=text, parse_mode=parse_mode, **common)
        elif item.kind in ("document", "photo"):
            upload: str | None = p.get("upload_key")
            known = await self.outbox.uploaded(upload) if upload else None
            if known:
                media: InputFile | str = known
            elif p.get("file_path"):
                path = Path(p["file_path"])
                media = InputFile(path.read_bytes(), filename=p.get("filename") or path.name)
            elif p.get("data_b64"):
                media = InputFile(base64.b64decode(p["data_b64"]), filename=p.get("filename"))
            elif p.get("file_id"):
                media = p["file_id"]
            else:
                raise ValueError("document/photo payload needs file_path, data_b64 or file_id")
            caption = p.get("caption") or p.get("text") or None
            if plain and caption:
                caption = plain_of(caption)
            if item.kind == "document":
                message = await self.bot.send_document(
                    document=media, caption=caption, parse_mode=parse_mode, **common
                )
                if upload and not known and message.document is not None:
                    try:  # the message went out: a lost file_id only costs a later upload
                        await self.outbox.remember_upload(upload, message.document.file_id)
                    except Exception:
                        log.exception(
                            "outbox item %s: keeping its upload's file_id failed", item.id
                        )
            else:
                message = await self.bot.send_photo(
                    photo=media, caption=caption, parse_mode=parse_mode, **common
                )
        else:
            raise ValueError(f"unknown outbox kind {item.kind!r}")
        return int(message.message_id)

    async def _migrated(self, chat: _Chat, item: OutboxItem, new_chat_id: int) -> None:
        """The group is a supergroup now: move the chat everywhere and resend there."""
        if new_chat_id == chat.id:
            self._fail(chat, item, "ChatMigrated to the same chat")
            return
        await self.outbox.on_migrated(chat.id, new_chat_id)
        target = self._chat(new_chat_id)
        for queued in chat.queue:
            insort(
                target.queue,
                queued.model_copy(update={"chat_id": new_chat_id}),
                key=lambda i: i.id,
            )
        chat.queue.clear()
        self._enqueue(target)

    # -- outcomes ----------------------------------------------------------------------------

    def _replace(self, chat: _Chat, old: OutboxItem, new: OutboxItem) -> None:
        for i, queued in enumerate(chat.queue):
            if queued.id == old.id:
                chat.queue[i] = new
                return

    def _drop(self, chat: _Chat, item: OutboxItem) -> None:
        before = len(chat.queue)
        chat.queue[:] = [queued for queued in chat.queue if queued.id != item.id]
        self._queued -= before - len(chat.queue)

    def _retry(
        self, chat: _Chat, item: OutboxItem, wait: float, error: str, *, failures: int | None
    ) -> None:
        update: dict[str, Any] = {"attempts": item.attempts + 1, "error": error}
        if failures is not None:
            update["failures"] = failures
        self._replace(chat, item, item.model_copy(update=update))
        self._emit(
            Outcome(
                item.id,
                "retry",
                not_before=self.clock.time() + wait,
                attempts=item.attempts + 1,
                failures=failures,
                error=error,
            )
        )

    def _fail(self, chat: _Chat, item: OutboxItem, error: str, failures: int | None = None) -> None:
        self._drop(chat, item)
        self._emit(Outcome(item.id, "failed", message_ids=list(item.message_ids), error=error))

    def _emit(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self._outcome_event.set()

    async def _write_loop(self) -> None:
        while True:
            await self._outcome_event.wait()
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self._flush()
            except Exception:
                log.exception("outbox: writing outcomes failed; retrying")
                await asyncio.sleep(1.0)

    async def _flush(self) -> None:
        """Write the outcomes collected so far in one transaction."""
        async with self._io_lock:
            batch, self._outcomes = self._outcomes, []
            self._outcome_event.clear()
            if not batch:
                return
            try:
                await self.outbox.record(batch)
            except BaseException:
                self._outcomes[:0] = batch
                self._outcome_event.set()
                raise
            for outcome in batch:
                if outcome.final:
                    self._known.discard(outcome.id)
