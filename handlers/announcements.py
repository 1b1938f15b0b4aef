"""Announcements in chat: /announce (text, or as a reply to any message), its "收到" button,
and /announce status [id]."""

from __future__ import annotations

import html
import re

from telegram import Message, Update
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain import validate
from bot.domain.announcements import ACK_DATA, Board, parse_ack_data
from bot.domain.audit import MISSING
from bot.domain.errors import Refusal
from bot.gateway.probe import BotProbe
from bot.texts import Raw, tn
from handlers.common import (
    GROUPS,
    actor,
    add_handlers,
    chat_id_of,
    message_of,
    pressed_message,
    query_of,
    reply,
    require_group,
    tr,
    user_of,
)

_URGENT = re.compile(r"\|\s*(urgent|紧急)\s*$", re.IGNORECASE)
BOARD_LIMIT = 3800
NAMES_SHOWN = 5
#: problems first on a long board
_ORDER = {"failed": 0, "pending": 1, "digest": 2, "delivered": 3, "digest_sent": 3}


def _command_rest(message: Message) -> str:
    """The command's argument text as safe HTML (formatting kept)."""
    source = message.text_html if message.text else ""
    parts = source.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _content(message: Message, rest: str) -> tuple[str, str, str | None]:
    """(kind, safe HTML text, file_id) of what to announce: the replied-to message, if any."""
    replied = message.reply_to_message
    if replied is None:
        return "message", rest, None
    if replied.photo:
        return "photo", rest or (replied.caption_html or ""), replied.photo[-1].file_id
    if replied.document:
        return "document", rest or (replied.caption_html or ""), replied.document.file_id
    if replied.text:
        return "message", rest or replied.text_html, None
    raise Refusal("err_ann_kind")


async def announce(update: Update, context: Context) -> None:
    """/announce <text> [| urgent], or as a reply; /announce status [id] (staff)."""
    require_group(update)
    message = message_of(update)
    args = context.args or []
    if args and args[0].lower() == "status":
        if len(args) > 2:
            await reply(update, context, tr(context, "usage_announce"))
            return
        await status(
            update,
            context,
            validate.ascii_int(args[1], key="usage_announce") if len(args) == 2 else None,
        )
        return
    rest = _command_rest(message)
    urgent = False
    match = _URGENT.search(rest)
    if match:
        urgent, rest = True, rest[: match.start()].strip()
    if not rest and message.reply_to_message is None:
        await reply(update, context, tr(context, "usage_announce"))
        return
    kind, text, file_id = _content(message, rest)
    ann, count = await context.services.announcements.post(
        actor(update).user_id, chat_id_of(update), text, kind=kind, file_id=file_id, urgent=urgent
    )
    await reply(
        update,
        context,
        tr(context, "ann_posted_urgent" if urgent else "ann_posted", id=ann.id, count=count),
    )


async def status(update: Update, context: Context, ann_id: int | None) -> None:
    """The status board of an announcement (the latest of this subtree by default)."""
    board = await context.services.announcements.board(
        actor(update).user_id, chat_id_of(update), ann_id
    )
    await reply(update, context, Raw(render_board(context, board)))


def board_parts(context: Context, board: Board) -> str:
    """The board's summary in words: delivered n/m, then only the counters that are not zero."""
    counts, lang = board.counts(), context.lang
    parts = [tn(lang, "ann_board_sent", counts["chats"], delivered=counts["delivered"])]
    for key, name in (
        ("digest_wait", "ann_board_digest_wait"),
        ("pending", "ann_board_pending_n"),
        ("failed", "ann_board_failed_n"),
    ):
        if counts[key]:
            parts.append(tn(lang, name, counts[key]))
    if counts["acked_chats"]:
        people = tn(lang, "ann_board_people", counts["acks"]) if lang == "en" else counts["acks"]
        parts.append(tn(lang, "ann_board_acked_n", counts["acked_chats"], people=Raw(people)))
    else:
        parts.append(tr(context, "ann_board_no_acks"))
    return ("，" if lang == "zh" else ", ").join(parts)


def render_board(context: Context, board: Board) -> str:
    head = tr(
        context,
        "ann_board_head",
        id=board.announcement.id,
        org=board.org_name,
        parts=Raw(board_parts(context, board)),
    )
    sep = "、" if context.lang == "zh" else ", "
    lines: list[tuple[int, str]] = []
    for target in board.targets:
        state = board.state(target)
        acks = board.acks_in(target.chat_id)
        where = tr(
            context, "ann_board_where", title=target.title or target.chat_id, org=target.org_name
        )
        if state in ("delivered", "digest_sent"):
            key = "ann_board_delivered" if state == "delivered" else "ann_board_digest_sent"
            line = tr(context, key, where=Raw(where))
            if acks:
                names = sep.join(
                    html.escape(a.first_name or str(a.user_id)) for a in acks[:NAMES_SHOWN]
                )
                more = (
                    tr(context, "ann_board_more_names", n=len(acks) - NAMES_SHOWN)
                    if len(acks) > NAMES_SHOWN
                    else ""
                )
                line = tr(
                    context, "ann_board_acked", line=Raw(line), names=Raw(names), more=Raw(more)
                )
                rank = 4
            else:
                line = tr(context, "ann_board_no_ack", line=Raw(line))
                rank = 3
        elif state == "failed":
            line = tr(
                context,
                "ann_board_failed",
                where=Raw(where),
                error=target.error
                or (tr(context, "ann_board_inactive") if not target.active else "?"),
            )
            rank = 0
        else:
            line = tr(context, "ann_board_" + state, where=Raw(where))
            rank = _ORDER[state]
        lines.append((rank, line))
    lines.sort(key=lambda pair: pair[0])
    out = [head]
    size = len(head)
    for shown, (_, line) in enumerate(lines):
        if size + len(line) + 1 > BOARD_LIMIT:
            out.append(tr(context, "ann_board_more_chats", n=len(lines) - shown))
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


async def ack_button(update: Update, context: Context) -> None:
    """ "收到 / Received": recorded once per person."""
    query = query_of(update)
    ann_id = parse_ack_data(query.data)
    user = user_of(update)
    message = pressed_message(update)
    if message.chat.type not in GROUPS:
        raise Refusal("err_button_elsewhere")
    # a public group's buttons can be pressed by people outside it: they received nothing
    if await BotProbe(context.bot).status(message.chat.id, user.id) == MISSING:
        raise Refusal("err_button_elsewhere")
    first = await context.services.announcements.acknowledge(
        ann_id, user.id, user.first_name or "", message.chat.id
    )
    await query.answer(tr(context, "ann_ack_thanks" if first else "ann_ack_already"))


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_help_section("help_announce", "staff")
    add_handlers(app, commands={"announce": announce}, buttons={ACK_DATA: ack_button})
