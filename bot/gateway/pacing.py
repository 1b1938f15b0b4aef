"""The one per-chat pacing: Telegram's limits for one chat, kept in monotonic time.

A chat may be paused (after a 429), and a group allows at most `GroupLimit.most` messages or
edits in any rolling `GroupLimit.window` seconds. The caller adds its own spacing (one message
a second per chat for the sender, one edit per copy every few seconds for the card editor) as
the `after` of `ready_at`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

CHAT_INTERVAL = 1.0  # seconds between two messages started in one chat
GROUP_WINDOW = 60.0  # rolling window of the per-group limit
GROUP_MAX = 20  # messages per window per group


@dataclass(frozen=True)
class GroupLimit:
    """At most `most` starts in any `window` seconds in one group (`slack` added for safety)."""

    most: int = GROUP_MAX
    window: float = GROUP_WINDOW
    slack: float = 0.05


@dataclass
class ChatPace:
    """When the next message (or edit) may start in one chat."""

    chat_id: int
    limit: GroupLimit = field(default_factory=GroupLimit)
    pause_until: float = 0.0
    last_start: float = float("-inf")
    window: deque[float] = field(default_factory=deque)  # group: start times in the window

    @property
    def is_group(self) -> bool:
        """Groups and supergroups have negative ids."""
        return self.chat_id < 0

    def next_start(self, now: float, after: float = float("-inf")) -> float:
        """The earliest time a start is allowed: not before `after`, the pause, the window."""
        at = max(after, self.pause_until)
        if self.is_group:
            limit = self.limit
            while self.window and self.window[0] <= now - limit.window:
                self.window.popleft()
            if len(self.window) >= limit.most:
                at = max(at, self.window[-limit.most] + limit.window + limit.slack)
        return at

    def started(self, now: float) -> None:
        """A message (or edit) starts now: it counts against the chat's limits."""
        self.last_start = now
        if self.is_group:
            self.window.append(now)
