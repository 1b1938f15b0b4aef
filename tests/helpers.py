"""Small helpers more than one test module uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (fails the test after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def replies(tb: Any, user: dict, chat: dict | None, *exchanges: tuple[str, str]) -> None:
    """`user` sends each text of `exchanges` in `chat` (None: in private) in turn; the bot's
    first answer to each must contain the words paired with it."""
    for text, expected in exchanges:
        sent = await tb.send(user, chat, text)
        assert expected in (sent[0].text or ""), (text, [s.text for s in sent])


def with_button(sent: list, data: str) -> Any:
    """The message among `sent` that carries a button with callback `data` (an outbox notice
    or a card edit may land between a command and its answer)."""
    return next(s for s in sent if f"'{data}'" in str(s.reply_markup))
