"""The date question shared by one-line commands: buttons for the readings of an uncertain
time, and the command a pressed reading answers (the message the question replied to)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.context import Context
from bot.domain.clock import fmt_day
from bot.domain.errors import Refusal
from bot.domain.when import Choose, Reading, choice_data, now_parts, parse_choice_data
from handlers.common import actor, keyboard, query_of, reply, tr


def reading_label(context: Context, reading: Reading) -> str:
    """A reading as people read it: '12月8日（周二）21:00' / 'Tue 8 Dec, 21:00'."""
    services = context.services
    today, _ = now_parts(services.clock.time(), services.settings.tz)
    day = fmt_day(reading.day, context.lang, today)
    if reading.minute is None:
        return day
    time = f"{reading.minute // 60:02d}:{reading.minute % 60:02d}"
    return f"{day}, {time}" if context.lang == "en" else f"{day}{time}"


def choices_markup(
    context: Context, kind: str, choices: tuple[Reading, ...]
) -> InlineKeyboardMarkup:
    """One button per reading, each picking it for `kind`."""
    return keyboard([[(reading_label(context, r), choice_data(kind, r))] for r in choices])


async def ask(update: Update, context: Context, kind: str, question: Choose) -> None:
    """Answer with the question and a button per reading."""
    await reply(
        update,
        context,
        tr(context, question.key, **question.values),
        choices_markup(context, kind, question.choices),
    )


async def pressed(update: Update, context: Context) -> tuple[Reading, str]:
    """(the reading pressed, the command it answers); only its sender may press."""
    query = query_of(update)
    _, reading = parse_choice_data(query.data)
    message = query.message
    command = getattr(message, "reply_to_message", None)
    if (
        command is None
        or command.from_user is None
        or not command.text
        or command.from_user.id != actor(update).user_id
    ):
        raise Refusal("err_when_not_yours")
    await query.answer()
    await query.edit_message_reply_markup(None)
    return reading, command.text
