"""The guided /activity form in private: each step's question (with a Skip button on the
optional ones), the answers typed or pressed, a bad answer's reason with the question again."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.domain.activities import Activities, Created, FormState
from bot.domain.activities.form import OPTIONAL, parse_skip_data, skip_data, step_no
from bot.domain.errors import Refusal
from bot.domain.when import Choose, parse_choice_data
from bot.texts import Raw
from handlers import when as when_handlers
from handlers.common import (
    actor,
    chat_id_of,
    deep_link,
    keyboard,
    message_of,
    query_of,
    reason_of,
    reply,
    require_own_private,
    tr,
)

#: the kind of the start-time choice buttons of the guided form's "when" step
FORM_WHEN_KIND = "actf"


def _service(context: Context) -> Activities:
    return context.services.activities


async def activity_form(update: Update, context: Context) -> None:
    """/activity alone in a group: the organiser fills in the form privately."""
    service = _service(context)
    uid, chat_id = actor(update).user_id, chat_id_of(update)
    await service.require_organiser(uid, chat_id)  # the role first: no hints to others
    if not await service.started(uid):
        await reply(
            update, context, tr(context, "act_form_start_bot", link=deep_link(context, "help"))
        )
        return
    await service.form_begin(uid, chat_id, context.lang)
    await reply(update, context, tr(context, "act_form_sent"))


async def form_input(update: Update, context: Context) -> None:
    """A private answer to the guided form's current step; a bad one is answered with its
    reason in one line and the same question again."""
    service = _service(context)
    message = message_of(update)
    location = (message.location.latitude, message.location.longitude) if message.location else None
    uid = actor(update).user_id
    try:
        state, created = await service.form_answer(uid, message.text, location, context.lang)
    except Choose as question:
        await when_handlers.ask(update, context, FORM_WHEN_KIND, question)
        return
    except Refusal as refusal:
        current = await service.form_state(uid)
        if current is None:
            raise
        reason = reason_of(context, refusal)
        await _ask(update, context, current, reason)
        return
    await _form_next(update, context, state, created)


async def form_when_button(update: Update, context: Context) -> None:
    """A reading of the start time pressed in the guided form."""
    query = query_of(update)
    require_own_private(update)
    _, reading = parse_choice_data(query.data)
    state, created = await _service(context).form_answer(
        actor(update).user_id, None, None, context.lang, chosen=reading
    )
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _form_next(update, context, state, created)


async def form_skip_button(update: Update, context: Context) -> None:
    """Skip, pressed on an optional step's question (only that step's, only by its owner)."""
    query = query_of(update)
    require_own_private(update)
    step = parse_skip_data(query.data)
    state, created = await _service(context).form_answer(
        actor(update).user_id, None, None, context.lang, skip=step
    )
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _form_next(update, context, state, created)


async def _form_next(
    update: Update, context: Context, state: FormState, created: Created | None
) -> None:
    if created is not None:
        await reply(
            update, context, tr(context, "act_form_done", id=created.activity.id, cascade="")
        )
        return
    await _ask(update, context, state)


async def _ask(update: Update, context: Context, state: FormState, reason: str = "") -> None:
    """The current step's question (after `reason`, a refused answer's), Skip if optional."""
    text = form_prompt(context, _service(context), state)
    markup = None
    if state.step in OPTIONAL:
        markup = keyboard([[(tr(context, "act_form_btn_skip"), skip_data(state.step))]])
    await reply(update, context, Raw(f"{reason}\n{text}" if reason else text), markup)


def form_prompt(context: Context, service: Activities, state: FormState) -> str:
    """The question for the form's current step."""
    return tr(context, f"act_form_{state.step}", no=step_no(state), **service.examples())
