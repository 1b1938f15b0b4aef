"""The one mapping of Telegram's errors to what they mean for the bot.

Every place that talks to Telegram (the outbox sender, the card editor, the membership probe,
the handlers' direct replies) turns a `TelegramError` into a `Failure` with `classify` and
decides on its `kind`, so a 429 or a migrated group is read the same way everywhere.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

FailureKind = Literal[
    "flood",  # 429: wait `wait` seconds, then try again
    "migrated",  # the group became a supergroup: `new_chat_id`
    "forbidden",  # blocked by the user, never started, or removed from the chat
    "not_modified",  # an edit that changes nothing: the message already shows it
    "chat_missing",  # "chat not found"
    "user_missing",  # "user not found" / "participant_id_invalid": never in the chat
    "unparsable",  # 400 "can't parse entities": the same text without markup may go
    "rejected",  # any other 400: this request will never succeed
    "transient",  # TimedOut, NetworkError, 5xx, anything else: try again later
]


@dataclass(frozen=True)
class Failure:
    """What one Telegram error means: its kind, and what the caller needs to act on it."""

    kind: FailureKind
    name: str  # the exception's class name, for logs and stored errors
    message: str
    wait: float = 0.0  # flood: seconds to wait
    new_chat_id: int | None = None  # migrated: the supergroup's id

    @property
    def gone(self) -> bool:
        """The target (chat, message or person) cannot be reached by this request, ever."""
        return self.kind in ("forbidden", "chat_missing", "user_missing", "unparsable", "rejected")


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def retry_after_seconds(exc: RetryAfter) -> float:
    """Seconds a 429 asks us to wait (PTB's int/timedelta transition silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return max(0.0, _seconds(exc.retry_after))


def classify(exc: TelegramError) -> Failure:
    """The one reading of a Telegram error (BadRequest is checked before NetworkError, its base)."""
    name, message = type(exc).__name__, exc.message
    if isinstance(exc, RetryAfter):
        return Failure("flood", name, message, wait=retry_after_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return Failure("migrated", name, message, new_chat_id=int(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        return Failure("forbidden", name, message)
    if isinstance(exc, BadRequest):
        text = message.lower()
        if "not modified" in text:
            return Failure("not_modified", name, message)
        if "chat not found" in text:
            return Failure("chat_missing", name, message)
        if "user not found" in text or "participant" in text:
            return Failure("user_missing", name, message)
        if "can't parse entities" in text or "can't find end tag" in text:
            return Failure("unparsable", name, message)
        return Failure("rejected", name, message)
    return Failure("transient", name, message)
