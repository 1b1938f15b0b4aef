"""Evidence for hours and their revocation, in chat: a photo sent with `/hours …` (as its
caption, or `/hours …` as a reply to the photo), the approvers' 查看凭证 button, and
`/hours revoke <id> <reason>` (secretaries and staff, their subtree)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date

from telegram import Update
from telegram.error import Forbidden
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import Context
from bot.domain import validate
from bot.domain.clock import fmt_day
from bot.domain.errors import Refusal
from bot.domain.hours import HoursButton, fmt_hours, hours_data, hours_pattern, parse_hours_data
from handlers.common import (
    GROUPS,
    actor,
    is_private,
    message_of,
    pressed_message,
    query_of,
    reply,
    require_own_private,
    tr,
)

#: the words that make `/hours` a revocation
REVOKE_WORDS = ("revoke", "撤销")
#: a photo whose caption is a /hours command (addressed to us or to nobody)
CAPTION = re.compile(r"^/hours(@\w+)?(\s|$)", re.IGNORECASE)

LogLine = Callable[[Update, Context, str, str | None], Awaitable[None]]


def is_revoke(text: str) -> bool:
    """True when `/hours <text>` asks to revoke an entry."""
    words = text.split(maxsplit=1)
    return bool(words) and words[0].lower() in REVOKE_WORDS


def replied_photo(update: Update) -> str | None:
    """The file_id of the photo a command replies to (its largest size), if any."""
    replied = message_of(update).reply_to_message
    if replied is None or not replied.photo:
        return None
    return replied.photo[-1].file_id


async def revoke(update: Update, context: Context, text: str) -> None:
    """`/hours revoke <id> <reason>`: take back a wrongly approved entry of the subtree."""
    parts = text.split(maxsplit=2)
    if len(parts) < 2:
        await reply(update, context, tr(context, "usage_hours_revoke"))
        return
    entry_id = validate.ascii_int(parts[1], key="usage_hours_revoke")
    reason = parts[2] if len(parts) > 2 else ""
    entry = await context.services.hours.revoke(actor(update).user_id, entry_id, reason)
    await reply(
        update,
        context,
        tr(
            context,
            "hours_revoked_done",
            id=entry.id,
            hours=fmt_hours(entry.quarters),
            reason=entry.revoke_reason or "",
        ),
    )


def button_row(context: Context, entry_id: int) -> list[tuple[str, str]]:
    """The 查看凭证 button of an entry with a photo (on a /pending listing)."""
    return [
        (tr(context, "pending_btn_evidence", id=entry_id), hours_data(HoursButton("ev", entry_id)))
    ]


async def evidence_button(update: Update, context: Context) -> None:
    """查看凭证: the entry's photo goes to the presser's private chat (approvers only)."""
    query = query_of(update)
    message = pressed_message(update)
    entry_id = parse_hours_data(query.data).id
    uid = actor(update).user_id
    hours = context.services.hours
    if message.chat.type in GROUPS:  # a listing of this group's org: its subtree's entries
        shown_in = await context.services.tower.org_of_chat(message.chat.id)
    else:  # a listing in the approver's own private chat
        require_own_private(update)
        shown_in = None
    entry = await hours.evidence_photo(uid, entry_id, shown_in)
    assert entry.photo_file_id is not None
    caption = tr(
        context,
        "hours_evidence_caption",
        id=entry.id,
        date=fmt_day(date.fromisoformat(entry.served_on), context.lang, hours.today()),
        hours=fmt_hours(entry.quarters),
        description=entry.description[:200],
    )
    try:
        await context.bot.send_photo(uid, entry.photo_file_id, caption=caption)
    except Forbidden:
        raise Refusal("err_hours_start_private") from None
    await query.answer(None if is_private(update) else tr(context, "hours_evidence_sent"))


def register_handlers(app: Application, log_line: LogLine) -> None:
    """A photo captioned `/hours …` in private, and the 查看凭证 button; `log_line` logs."""

    async def photo_hours(update: Update, context: Context) -> None:
        """A private photo whose caption is `/hours …`: the entry, with the photo as evidence."""
        message = message_of(update)
        caption = message.caption or ""
        parts = caption.split(maxsplit=1)
        text = parts[1] if len(parts) > 1 else ""
        if is_revoke(text):
            await revoke(update, context, text)
            return
        assert message.photo
        await log_line(update, context, text, message.photo[-1].file_id)

    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.PHOTO & filters.CaptionRegex(CAPTION),
            photo_hours,
        )
    )
    app.add_handler(CallbackQueryHandler(evidence_button, pattern=hours_pattern("ev")))
