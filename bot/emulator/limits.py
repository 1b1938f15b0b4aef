"""Telegram's flood limits: per chat, per group and minute, global; sends and edits."""

from __future__ import annotations

from collections import deque
from typing import Any

from .records import JSONDict, too_many
from .world import World


class RateLimits(World):
    """Checks and bookkeeping of the flood limits (429 with ``retry_after`` when exceeded)."""

    # the limits as the Emulator was built with them (`limits`: whether any is checked)
    limits: bool
    per_chat_per_second: float | None
    per_chat_burst: int
    group_per_minute: int | None
    group_edits_per_minute: int | None
    global_per_second: float | None

    def _init_limits(self, **settings: Any) -> None:
        """Take the Emulator's limit settings (the names above) and start with no sends."""
        for name, value in settings.items():
            if name not in RateLimits.__annotations__:
                raise TypeError(f"unknown limit {name!r}")
            setattr(self, name, value)
        self._send_times: dict[int, deque[float]] = {}
        self._edit_times: dict[int, deque[float]] = {}
        self._buckets: dict[int, tuple[float, float]] = {}
        self._global_times: deque[float] = deque()

    def _check_send_limit(self, chat: JSONDict) -> None:
        if not self.limits:
            return
        now = self.clock()
        cid = chat["id"]
        waits: list[float] = []
        if chat["type"] != "private" and self.group_per_minute:
            times = self._send_times.setdefault(cid, deque())
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.group_per_minute:
                waits.append(times[0] + 60 - now)
        if self.per_chat_per_second:
            tokens = self._tokens(cid, now)
            if tokens < 1:
                waits.append((1 - tokens) / self.per_chat_per_second)
        if self.global_per_second:
            while self._global_times and self._global_times[0] <= now - 1:
                self._global_times.popleft()
            if len(self._global_times) >= self.global_per_second:
                waits.append(self._global_times[0] + 1 - now)
        if waits:
            raise too_many(max(waits))

    def _tokens(self, cid: int, now: float) -> float:
        assert self.per_chat_per_second
        tokens, last = self._buckets.get(cid, (float(self.per_chat_burst), now))
        return min(float(self.per_chat_burst), tokens + (now - last) * self.per_chat_per_second)

    def _consume_send(self, chat: JSONDict) -> None:
        now = self.clock()
        cid = chat["id"]
        if chat["type"] != "private":
            self._send_times.setdefault(cid, deque()).append(now)
        if self.per_chat_per_second:
            self._buckets[cid] = (self._tokens(cid, now) - 1, now)
        self._global_times.append(now)

    def _deliver(
        self,
        chat: JSONDict,
        content: JSONDict,
        reply: JSONDict | None,
        entities_key: str,
        entities: list[JSONDict],
        inline: JSONDict | None,
    ) -> JSONDict:
        """Store a message the bot sent (its entities and keyboard, when any) and count the send."""
        if entities:
            content[entities_key] = entities
        if inline:
            content["reply_markup"] = inline
        msg = self._store_message(chat, self.bot_user, content, reply)
        self._consume_send(chat)
        return msg

    def _check_edit_limit(self, chat: JSONDict) -> None:
        if not self.limits or chat["type"] == "private" or not self.group_edits_per_minute:
            return
        now = self.clock()
        times = self._edit_times.setdefault(chat["id"], deque())
        while times and times[0] <= now - 60:
            times.popleft()
        if len(times) >= self.group_edits_per_minute:
            raise too_many(times[0] + 60 - now)
        times.append(now)
