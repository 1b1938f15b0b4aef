"""Recurring activities in chat: `/activity cancel <id> all` and `/activity edit <id> all | …`.
`handlers/activities.py` routes these forms here; creating a series is its one-line /activity
with a rule option, and Join all is one of its card buttons."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.domain.activities import Activities, parse_edit, parse_id
from bot.domain.activities.recurrence import pin_time_of_day
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.texts import Raw
from handlers.common import actor, chat_id_of, reason_of, reply, tr


def _service(context: Context) -> Activities:
    return context.services.activities


def edit_fields(context: Context, fields: list[str]) -> Raw:
    """'时间、地点' / 'time, place': the changed fields in the reader's language."""
    return Raw(tr(context, "act_field_sep").join(tr(context, f"act_field_{f}") for f in fields))


async def cancel_all(update: Update, context: Context, activity_id: str) -> None:
    """/activity cancel <id> all: this occurrence and every later one; each person told once."""
    done = await _service(context).cancel_future(
        actor(update).user_id, chat_id_of(update), parse_id(activity_id)
    )
    await reply(
        update,
        context,
        tr(
            context,
            "series_cancel_done",
            title=done.activity.title,
            n=done.occurrences,
            count=done.told,
        ),
    )


async def edit_all(update: Update, context: Context, activity_id: str, fields: str) -> None:
    """/activity edit <id> all | 地点 …: the same change to this and every later occurrence."""
    service = _service(context)
    uid, chat_id = actor(update).user_id, chat_id_of(update)
    # the role first (it is the activity's org that counts): no syntax lessons to others
    this = await service.organised(uid, chat_id, parse_id(activity_id))
    fields = pin_time_of_day(fields, local(this.starts_at, service.settings.tz).date())
    try:
        change = parse_edit(f"{activity_id} | {fields}", service.clock.time(), service.settings)
    except Refusal as refusal:  # a field's reason alone, as a single edit answers
        reason = reason_of(context, refusal)
        raise Refusal("err_act_edit_bad", reason=Raw(reason)) from None
    done = await service.edit_future(uid, chat_id, change)
    await reply(
        update,
        context,
        tr(
            context,
            "series_edit_done",
            id=done.activity.id,
            n=done.occurrences,
            fields=edit_fields(context, done.fields),
            told=done.told,
        ),
    )
