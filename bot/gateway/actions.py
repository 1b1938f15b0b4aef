"""Outbox rows that change a message already sent: edit it, delete it, pin it.

They are ordinary outbox rows (kinds "edit", "delete", "pin"), so they are durable (a crash
mid-way resumes with the rows not yet done), paced by the sender like any message in that
chat, and follow its error mapping. A row names the message it acts on by the outbox row that
sent it (`of_outbox`): the row is queued behind that copy in the same chat, and the message id
is read when the action runs. A copy still on its way makes the action wait (`NotYet`); a copy
that never went (failed, cancelled) leaves nothing to do.

Payloads: edit — `text` (safe HTML), `caption` (true for a photo or file copy: its caption is
edited), `reply_markup`; delete — `fallback_text` (and `caption`): when Telegram refuses to
delete a message (older than 48 h), it is edited to that text instead, without buttons; pin —
`disable_notification`.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from bot.domain.html_split import plain_of
from bot.domain.models import OutboxItem
from bot.domain.outbox import Outbox
from bot.gateway.errors import classify
from bot.gateway.markup import markup_of

log = logging.getLogger(__name__)

ACTION_KINDS = frozenset({"edit", "delete", "pin"})
WAIT = 2.0  # seconds before looking again at a copy still on its way


class NotYet(Exception):
    """The message this action changes has not been sent yet: try again after `wait`."""

    def __init__(self, wait: float = WAIT) -> None:
        super().__init__(f"waiting {wait:g} s for the message it changes")
        self.wait = wait


async def _targets(outbox: Outbox, item: OutboxItem) -> list[int]:
    """The message ids the action acts on ([] when its copy never went)."""
    given = item.payload.get("message_ids")
    if given:
        return [int(m) for m in given]
    of = item.payload.get("of_outbox")
    if of is None:
        return []
    copy = await outbox.item(int(of))
    if copy is None:
        return []
    if copy.status == "pending":
        raise NotYet()
    if copy.status != "sent":
        return []
    # a copy the sender moved to a supergroup was resent there: act in the copy's chat
    return list(copy.message_ids) if copy.chat_id == item.chat_id else []


async def _edit(
    bot: Bot, chat_id: int, message_id: int, p: dict[str, Any], text: str, plain: bool
) -> None:
    """Edit one message's text (or caption); "not modified" is success."""
    markup = markup_of(p["reply_markup"], bot) if p.get("reply_markup") else None
    parse_mode = None if plain else p.get("parse_mode")
    body = plain_of(text) if plain else text
    try:
        if p.get("caption"):
            await bot.edit_message_caption(
                chat_id=chat_id,
                message_id=message_id,
                caption=body,
                parse_mode=parse_mode,
                reply_markup=markup,
            )
        else:
            await bot.edit_message_text(
                body,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=parse_mode,
                reply_markup=markup,
            )
    except TelegramError as exc:
        if classify(exc).kind != "not_modified":
            raise


async def _delete(bot: Bot, chat_id: int, message_id: int, p: dict[str, Any], plain: bool) -> None:
    """Delete one message; one Telegram will not delete (too old) is edited to say so."""
    try:
        await bot.delete_message(chat_id, message_id)
        return
    except TelegramError as exc:
        failure = classify(exc)
        text = failure.message.lower()
        if failure.kind != "rejected":
            raise
        if "not found" in text:
            return  # someone deleted it already
        if "can't be deleted" not in text or not p.get("fallback_text"):
            raise
    log.info("message %s/%s cannot be deleted; editing it instead", chat_id, message_id)
    await _edit(bot, chat_id, message_id, {**p, "reply_markup": None}, p["fallback_text"], plain)


async def perform(bot: Bot, outbox: Outbox, item: OutboxItem, *, plain: bool = False) -> int:
    """Carry out one action row; returns the id of the message it acted on (0: nothing to do)."""
    ids = await _targets(outbox, item)
    if not ids:
        return 0
    p = item.payload
    if item.kind == "edit":
        # a long copy went as several messages: the last (with the button) takes the new text
        await _edit(bot, item.chat_id, ids[-1], p, str(p.get("text") or ""), plain)
        for extra in ids[:-1]:
            try:
                await bot.delete_message(item.chat_id, extra)
            except TelegramError as exc:  # the new text is shown; an old part may stay
                log.info("part %s/%s of an edited copy stays: %s", item.chat_id, extra, exc)
        return ids[-1]
    if item.kind == "delete":
        for message_id in ids:
            await _delete(bot, item.chat_id, message_id, p, plain)
        return ids[0]
    if item.kind == "pin":
        await bot.pin_chat_message(
            item.chat_id, ids[0], disable_notification=p.get("disable_notification")
        )
        return ids[0]
    raise ValueError(f"unknown action kind {item.kind!r}")
