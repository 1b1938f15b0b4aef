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
from bot.domain.announcements_input import Options, split_head, take_options
from bot.domain.audit import MISSING
from bot.domain.errors import Refusal
from bot.domain.validate import excerpt
from bot.domain.when import Choose, Reading, choice_pattern
from bot.gateway.probe import BotProbe
from bot.texts import Raw, tn
from handlers import when as when_handlers
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

BOARD_LIMIT = 3800
NAMES_SHOWN = 5
LIST_LIMIT = 30
WHEN_KIND = "ann"  # the choice buttons of an uncertain /announce at time
TAG = re.compile(r"<[^>]*>")
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
    """/announce <text> [| urgent] [| pin], or as a reply; at / scheduled / cancel / edit /
    recall / status (staff)."""
    require_group(update)
    args = context.args or []
    verb = args[0] if args else ""
    if verb.lower() == "status":
        if len(args) > 2:
            await reply(update, context, tr(context, "usage_announce"))
            return
        await status(
            update,
            context,
            validate.ascii_int(args[1], key="usage_announce") if len(args) == 2 else None,
        )
        return
    if verb in SUBCOMMANDS:
        await SUBCOMMANDS[verb](update, context)
        return
    message = message_of(update)
    options = take_options(_command_rest(message))
    if not options.rest and message.reply_to_message is None:
        await reply(update, context, tr(context, "usage_announce"))
        return
    await _publish(update, context, _content(message, options.rest), options)


async def _publish(
    update: Update,
    context: Context,
    content: tuple[str, str, str | None],
    options: Options,
    when: str | None = None,
    chosen: Reading | None = None,
) -> None:
    """Post the announcement (or, with `when`, schedule it) and tell the author how it went."""
    kind, text, file_id = content
    announcements = context.services.announcements
    ann, count = await announcements.post(
        actor(update).user_id,
        chat_id_of(update),
        text,
        kind=kind,
        file_id=file_id,
        urgent=options.urgent,
        pin=options.pin,
        when=when,
        chosen=chosen,
    )
    if when is None:
        key = "ann_posted_urgent" if options.urgent else "ann_posted"
        answer = tr(context, key, id=ann.id, count=count)
    else:
        at = announcements.fmt(ann.send_at or 0, context.lang)
        answer = tr(context, "ann_scheduled", id=ann.id, at=at, count=count)
    if options.pin:
        answer = Raw(answer + "\n" + tr(context, "ann_pin_promise"))
    await reply(update, context, answer)


def _after_verb(source_html: str) -> str:
    """The command's text after `/announce <verb>` (safe HTML)."""
    parts = source_html.split(maxsplit=2)
    return parts[2].strip() if len(parts) > 2 else ""


def _id_arg(context: Context, verb: str) -> int:
    """The one id after `cancel` / `recall` (`12` or `#12`)."""
    args = context.args or []
    if len(args) != 2:
        raise Refusal("usage_announce_id", verb=verb)
    return validate.ascii_int(args[1], key="usage_announce_id", verb=verb)


async def announce_at(
    update: Update, context: Context, rest: str | None = None, chosen: Reading | None = None
) -> None:
    """/announce at <when> | <text> [| urgent] [| pin] (or as a reply): sent later."""
    message = message_of(update) if rest is None else None  # None: a pressed time button
    replied = message.reply_to_message if message is not None else None
    if message is not None:
        rest = _after_verb(message.text_html or "")
    options = take_options(rest or "")
    if "|" in options.rest:
        when, text = split_head(options.rest, "usage_announce_at")
    elif replied is not None and options.rest:
        when, text = options.rest, ""  # the text is the replied-to message
    else:
        raise Refusal("usage_announce_at")
    content = ("message", text, None) if message is None else _content(message, text)
    try:
        await _publish(update, context, content, options, when, chosen)
    except Choose as question:
        if replied is not None:  # the replied-to message cannot travel with a button
            raise Refusal("err_ann_when_exact", got=excerpt(when, 30)) from None
        await when_handlers.ask(update, context, WHEN_KIND, question)


async def announce_when_button(update: Update, context: Context) -> None:
    """A reading of an uncertain time pressed: schedule the command it answers."""
    reading, _ = await when_handlers.pressed(update, context)
    command = getattr(query_of(update).message, "reply_to_message", None)
    source = command.text_html if command is not None and command.text else ""
    rest = _after_verb(source)
    await announce_at(update, context, rest, reading)


async def announce_scheduled(update: Update, context: Context) -> None:
    """/announce scheduled: the scheduled announcements still to go (this org and below)."""
    if len(context.args or []) != 1:
        raise Refusal("usage_announce")
    found = await context.services.announcements.changes.scheduled(
        actor(update).user_id, chat_id_of(update)
    )
    if not found:
        await reply(update, context, tr(context, "ann_scheduled_none"))
        return
    fmt = context.services.announcements.changes.fmt
    lines = [tr(context, "ann_scheduled_head")]
    for ann in found[:LIST_LIMIT]:
        flags = (tr(context, "ann_flag_urgent") if ann.urgent else "") + (
            tr(context, "ann_flag_pin") if ann.pin else ""
        )
        lines.append(
            tr(
                context,
                "ann_scheduled_line",
                id=ann.id,
                at=fmt(ann.send_at or 0, context.lang),
                flags=Raw(flags),
                text=excerpt(html.unescape(TAG.sub("", ann.text)), 40),
            )
        )
    await reply(update, context, Raw("\n".join(lines)))


async def announce_cancel(update: Update, context: Context) -> None:
    """/announce cancel <id>: a scheduled announcement does not go."""
    ann = await context.services.announcements.changes.cancel(
        actor(update).user_id, _id_arg(context, "cancel")
    )
    await reply(update, context, tr(context, "ann_cancelled", id=ann.id))


async def announce_edit(update: Update, context: Context) -> None:
    """/announce edit <id> | <new text>: every copy is corrected."""
    rest = _after_verb(message_of(update).text_html or "")
    head, text = split_head(rest, "usage_announce_edit")
    ann_id = validate.ascii_int(head, key="usage_announce_edit")
    ann, n = await context.services.announcements.changes.edit(actor(update).user_id, ann_id, text)
    key = "ann_edited_scheduled" if ann.status == "scheduled" else "ann_edited"
    await reply(update, context, tr(context, key, id=ann.id, n=n))


async def announce_recall(update: Update, context: Context) -> None:
    """/announce recall <id>: every copy is deleted (or, too old, says it was recalled)."""
    ann, deleted, edited = await context.services.announcements.changes.recall(
        actor(update).user_id, _id_arg(context, "recall")
    )
    await reply(
        update, context, tr(context, "ann_recalled", id=ann.id, deleted=deleted, edited=edited)
    )


#: `/announce <verb> …` (exact words: an announcement may well begin with "At" or "Edit")
SUBCOMMANDS = {
    "at": announce_at,
    "定时": announce_at,
    "scheduled": announce_scheduled,
    "cancel": announce_cancel,
    "edit": announce_edit,
    "recall": announce_recall,
}


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
    ann = board.announcement
    fmt = context.services.announcements.changes.fmt
    if ann.status in ("scheduled", "cancelled", "missed"):  # no copies to count
        at = fmt(ann.send_at or 0, context.lang)
        return tr(context, f"ann_board_not_sent_{ann.status}", id=ann.id, org=board.org_name, at=at)
    head = tr(
        context,
        "ann_board_head",
        id=board.announcement.id,
        org=board.org_name,
        parts=Raw(board_parts(context, board)),
    )
    if ann.recalled_at is not None:
        head += "\n" + tr(context, "ann_board_recalled", at=fmt(ann.recalled_at, context.lang))
    elif ann.edited_at is not None:
        at = fmt(ann.edited_at, context.lang)
        head += "\n" + tr(context, "ann_board_edited", at=at, n=ann.edits)
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
    add_handlers(
        app,
        commands={"announce": announce},
        buttons={ACK_DATA: ack_button, choice_pattern(WHEN_KIND): announce_when_button},
    )
