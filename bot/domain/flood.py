"""A per-person flood guard: past `limit` updates in `window` seconds, one polite warning,
then silence until the window has room again. Other people and chats are not affected."""

from __future__ import annotations

from collections import deque


class FloodGuard:
    """Sliding-window counter per user, in memory (a restart forgives everyone)."""

    def __init__(self, limit: int = 20, window: float = 30.0) -> None:
        self.limit = limit
        self.window = window
        self._times: dict[int, deque[float]] = {}
        self._warned: set[int] = set()
        self._next_prune = 0.0

    def check(self, user_id: int, now: float) -> str:
        """'ok', 'warn' (first update over the limit) or 'drop'."""
        times = self._times.setdefault(user_id, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            if user_id in self._warned:
                return "drop"
            self._warned.add(user_id)
            return "warn"
        self._warned.discard(user_id)
        times.append(now)
        if len(self._times) > 10_000 and now >= self._next_prune:
            # forget people who have gone quiet; at most once a window, so that a crowd of
            # more than 10,000 people all active at once does not cost a scan per update
            for uid in [u for u, t in self._times.items() if not t or t[-1] <= now - self.window]:
                del self._times[uid]
            self._next_prune = now + self.window
        return "ok"
