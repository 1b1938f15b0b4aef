"""One structured log line per update: its id, chat, command and outcome — never names or phones.

The update processor (bot/concurrency.py) opens an `UpdateLog` around each update; the error
handler marks it refused or failed through `mark()`. `configure()` sets what an operator reads.
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any, Self

log = logging.getLogger("towerbot.updates")
#: libraries whose INFO lines are chatter (jobs added and run, every HTTP request, PTB's
#: start-up steps): below DEBUG they only speak from WARNING up
CHATTY = ("apscheduler", "httpx", "httpcore", "telegram", "uvicorn", "starlette")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(level: str) -> None:
    """Log at `level` (DEBUG, INFO, ...); library chatter only when `level` is DEBUG."""
    logging.basicConfig(format=FORMAT)
    numeric = logging.getLevelName(level.upper())
    logging.getLogger().setLevel(numeric)
    for name in CHATTY:
        logging.getLogger(name).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
        )


_outcome: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("outcome", default=None)


def mark(outcome: str) -> None:
    """Record the outcome of the update being handled ('refused:<key>', 'error:<type>')."""
    box = _outcome.get()
    if box is not None:
        box[0] = outcome


def describe(update: Any) -> tuple[str, str]:
    """(kind, command) of an update without any personal data: the command word only."""
    message = getattr(update, "effective_message", None)
    if getattr(update, "callback_query", None) is not None:
        data = update.callback_query.data or ""
        return "callback", data.split(":", 1)[0]
    if message is not None:
        text = message.text or message.caption or ""
        if text.startswith("/"):
            return "command", text.split(maxsplit=1)[0].split("@", 1)[0][:32]
        if message.contact is not None:
            return "contact", "-"
        if message.document is not None:
            return "document", "-"
        return "message", "-"
    for kind in ("my_chat_member", "chat_member", "edited_message"):
        if getattr(update, kind, None) is not None:
            return kind, "-"
    return "other", "-"


class UpdateLog:
    """Context manager timing one update and logging one line at its end."""

    def __init__(self, update: Any) -> None:
        self.update = update
        self.box = ["ok"]

    def __enter__(self) -> Self:
        self.token = _outcome.set(self.box)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        _outcome.reset(self.token)
        if exc[0] is not None:
            self.box[0] = f"error:{getattr(exc[0], '__name__', 'exception')}"
        if not log.isEnabledFor(logging.INFO):
            return
        kind, command = describe(self.update)
        chat = getattr(getattr(self.update, "effective_chat", None), "id", None)
        log.info(
            "update=%s kind=%s chat=%s command=%s outcome=%s ms=%.1f",
            getattr(self.update, "update_id", None),
            kind,
            chat,
            command,
            self.box[0],
            (time.perf_counter() - self.started) * 1000,
        )
