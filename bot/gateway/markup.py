"""Bot API reply_markup dicts (as the domain and the outbox store them) as PTB objects."""

from __future__ import annotations

from typing import Any

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)


def markup_of(data: dict[str, Any] | None, bot: Bot) -> Any:
    """A stored reply_markup dict as the PTB object."""
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.de_json(data, bot)
    if "keyboard" in data:
        return ReplyKeyboardMarkup.de_json(data, bot)
    if data.get("remove_keyboard"):
        return ReplyKeyboardRemove(selective=data.get("selective"))
    if data.get("force_reply"):
        return ForceReply(
            selective=data.get("selective"),
            input_field_placeholder=data.get("input_field_placeholder"),
        )
    raise ValueError(f"unknown reply_markup {sorted(data)}")
