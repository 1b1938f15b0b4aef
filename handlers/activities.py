"""Activities in chat: /activity (one line; guided: activity_form.py), /activities, /checkin, /close, the card
buttons, the `act_` deep link; the gateway's card editor (started here) keeps copies live."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.activities import (
    CHECKIN_FLOW,
    EDIT_WORDS,
    FORM,
    Activities,
    JoinResult,
    callbacks,
    parse_activity,
    parse_edit,
    parse_id,
)
from bot.domain.activities.form import SKIP_PATTERN
from bot.domain.activities.parsing import ActivityInput
from bot.domain.activities.series import ALL_WORDS
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity
from bot.domain.when import Choose, choice_pattern
from bot.gateway.cards import start_cards
from bot.gateway.markup import markup_of
from bot.texts import Raw, tn
from handlers import activity_form as form_handlers
from handlers import activity_series as series_handlers
from handlers import people as people_handlers
from handlers import when as when_handlers
from handlers.common import (
    GROUPS,
    actor,
    add_handlers,
    chat_id_of,
    deep_link,
    is_private,
    message_of,
    pressed_message,
    query_of,
    reason_of,
    reply,
    reply_guarded,
    require_group,
    require_own_private,
    require_private,
    tr,
)

log = logging.getLogger(__name__)
#: the kind of the start-time choice buttons of a one-line /activity (the guided form's:
#: activity_form.py)
WHEN_KIND = "act"


def _service(context: Context) -> Activities:
    return context.services.activities


def _args_text(update: Update) -> str:
    """Everything after the command word (pipes and spaces kept)."""
    text = message_of(update).text or ""
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


# --- commands --------------------------------------------------------------------------------


async def activity(update: Update, context: Context) -> None:
    """/activity <title> | <when> | <hours> | <capacity> | <place> [| lat,lon] [| cascade]."""
    require_group(update)
    service = _service(context)
    rest = _args_text(update).strip()
    uid, chat_id = actor(update).user_id, chat_id_of(update)
    if not rest:
        await form_handlers.activity_form(update, context)
        return
    words = rest.split()
    if words[0].lower() in EDIT_WORDS:
        await activity_edit(update, context, rest[len(words[0]) :])
        return
    if words[0].lower() in ("cancel", "取消"):
        if len(words) == 3 and words[2].lower() in ALL_WORDS:  # and every later occurrence
            await series_handlers.cancel_all(update, context, words[1])
            return
        if len(words) != 2:
            await reply(update, context, tr(context, "usage_activity_cancel"))
            return
        cancelled, told = await service.cancel(uid, chat_id, parse_id(words[1]))
        await reply(
            update, context, tr(context, "act_cancel_done", title=cancelled.title, count=told)
        )
        return
    await service.require_organiser(uid, chat_id)  # the role first: no syntax lessons to others
    try:
        data = parse_activity(rest, service.clock.time(), service.settings)
    except Choose as question:
        await when_handlers.ask(update, context, WHEN_KIND, question)
        return
    await _post(update, context, data)


async def activity_edit(update: Update, context: Context, rest: str) -> None:
    """/activity edit <id> | 时间 … | 地点 … | 人数 … | 说明 … | 截止 …: the organiser's edit."""
    service = _service(context)
    uid, chat_id = actor(update).user_id, chat_id_of(update)
    head = rest.split("|", 1)[0].strip()
    if not head:
        await reply(update, context, tr(context, "usage_activity_edit", **service.examples()))
        return
    if len(head.split()) == 2 and head.split()[1].lower() in ALL_WORDS:  # a series, from here on
        fields = rest.split("|", 1)[1] if "|" in rest else ""
        await series_handlers.edit_all(update, context, head.split()[0], fields)
        return
    # the role first (it is the activity's org that counts): no syntax lessons to others
    await service.organised(uid, chat_id, parse_id(head))
    try:
        change = parse_edit(rest, service.clock.time(), service.settings)
    except Refusal as refusal:  # a field's reason alone: its text's example is of a new one
        reason = reason_of(context, refusal)
        raise Refusal("err_act_edit_bad", reason=Raw(reason)) from None
    done = await service.edit(uid, chat_id, change)
    lines = [
        tr(
            context,
            "act_edit_done",
            id=done.activity.id,
            fields=Raw(
                tr(context, "act_field_sep").join(
                    tr(context, f"act_field_{f}") for f in done.fields
                )
            ),
            told=done.told,
        )
    ]
    if done.demoted:
        lines.append(tr(context, "act_edit_demoted", n=done.demoted))
    if done.promoted:
        lines.append(tr(context, "act_edit_promoted", n=done.promoted))
    await reply(update, context, Raw("\n".join(lines)))


async def activity_when_button(update: Update, context: Context) -> None:
    """A reading of the start time pressed under the question a one-line /activity asked."""
    reading, command = await when_handlers.pressed(update, context)
    service = _service(context)
    await service.require_organiser(actor(update).user_id, chat_id_of(update))
    rest = command.split(maxsplit=1)[1] if len(command.split(maxsplit=1)) > 1 else ""
    await _post(
        update,
        context,
        parse_activity(rest, service.clock.time(), service.settings, chosen=reading),
    )


async def _post(update: Update, context: Context, data: ActivityInput) -> None:
    """Create the activity and post its card in this chat."""
    service = _service(context)
    uid, chat_id = actor(update).user_id, chat_id_of(update)
    if data.series is not None:  # one activity per occurrence; the first one's card
        created = await service.create_series(uid, chat_id, data, context.lang)
    else:
        created = await service.create(uid, chat_id, data, context.lang)
    a = created.activity
    sent = await reply_guarded(
        update,
        context,
        service.card_text(a),
        markup_of(service.card_markup(a), context.bot),
        created.guard_id,
    )
    if sent is not None:  # else the outbox sends the card, and the copies learn its id
        await service.record_card(
            a.id, chat_id, sent.message_id, a.version, guard_id=created.guard_id
        )


async def activities_list(update: Update, context: Context) -> None:
    """/activities: open activities of this chat's org and below."""
    require_group(update)
    service = _service(context)
    org, found = await service.list_open(chat_id_of(update))
    if not found:
        await reply(update, context, tr(context, "act_list_none", org=org.name))
        return
    lines = [tr(context, "act_list_head", org=org.name)]
    undelivered = await service.undelivered([a.id for a in found])
    for a in found:
        lines.append(
            tr(
                context,
                "act_list_line",
                id=a.id,
                title=a.title,
                when=service.when(a.starts_at, context.lang),
                count=service.count_line(a, context.lang),
                org=a.org_name or "",
            )
        )
        lines.extend(service.post_lines(a, context.lang))
        if a.id in undelivered:
            lines.append(tr(context, "board_undelivered", n=undelivered[a.id]))
    await reply(update, context, Raw("\n".join(lines)))


async def checkin(update: Update, context: Context) -> None:
    """/checkin <id>: post the check-in button (organiser)."""
    require_group(update)
    args = context.args or []
    if len(args) != 1:
        await reply(update, context, tr(context, "usage_checkin"))
        return
    service = _service(context)
    chat_id = chat_id_of(update)
    a, guard_id = await service.open_checkin(
        actor(update).user_id, chat_id, parse_id(args[0]), context.lang
    )
    sent = await reply_guarded(
        update,
        context,
        service.checkin_text(a, context.lang),
        markup_of(service.checkin_markup(a, context.lang), context.bot),
        guard_id,
    )
    if sent is not None:
        await service.record_card(
            a.id, chat_id, sent.message_id, a.version, kind="checkin", guard_id=guard_id
        )


async def close(update: Update, context: Context) -> None:
    """/close <id>: credit the checked-in, record no-shows (organiser)."""
    require_group(update)
    args = context.args or []
    if len(args) != 1:
        await reply(update, context, tr(context, "usage_close"))
        return
    result = await _service(context).close(
        actor(update).user_id, chat_id_of(update), parse_id(args[0])
    )
    text = tr(
        context,
        "act_closed",
        title=result.activity.title,
        present=result.present,
        no_show=tn(context.lang, "act_no_shows", result.no_show),
        hours=tn(context.lang, "act_hours_n", result.credited_quarters / 4),
    )
    if result.own_pending:
        text = Raw(text + "\n" + tr(context, "act_closed_own_pending"))
    await reply(update, context, text)


# --- buttons ---------------------------------------------------------------------------------


async def button(update: Update, context: Context) -> None:
    """Sign up / Cancel / Join all / Add to calendar / Check in on a card (data:
    `callbacks.parse`)."""
    query = query_of(update)
    pressed = callbacks.parse(query.data)
    if pressed is None:
        raise Refusal("err_act_bad_button")
    activity_id, verb, post_no = pressed
    service = _service(context)
    uid = actor(update).user_id
    message = pressed_message(update)
    if message.chat.type not in GROUPS:
        require_own_private(update)  # a private copy of a card is its reader's own
    chat_id, message_id = message.chat.id, message.message_id
    if verb == "join":
        result = await service.join(uid, activity_id, chat_id, message_id, post_no)
        if result.kind == "unregistered":
            await invite_to_register(update, context, result)
            return
        await query.answer(join_answer(context, service, result)[:200])
    elif verb == "leave":
        left = await service.leave(uid, activity_id, chat_id, message_id)
        await query.answer(tr(context, f"act_ans_{left.kind}"))
    elif verb == "all":  # Join all: this occurrence of a series and every later one
        joined = await service.join_all(uid, activity_id, chat_id, message_id)
        if joined.unregistered is not None:
            await invite_to_register(update, context, joined.unregistered)
            return
        await query.answer(
            tr(context, "series_ans_joined", confirmed=joined.confirmed, waiting=joined.waiting)
        )
    elif verb == "cal":
        outcome = await service.calendar_press(uid, activity_id, chat_id, message_id)
        text = tr(context, f"act_ans_calendar_{outcome}", bot=context.bot.username or "")
        await query.answer(text, show_alert=outcome == "start_bot")
    else:
        done = await service.checkin_press(uid, activity_id, chat_id, message_id)
        if done.kind == "need_location":
            if await service.started(uid):
                await context.services.outbox.send(
                    uid,
                    tr(
                        context,
                        "act_checkin_ask",
                        title=done.activity.title,
                        radius=done.activity.radius_m,
                    ),
                    ref=f"act:{activity_id}",
                )
                await query.answer(tr(context, "act_ans_need_location"), show_alert=True)
            else:
                await query.answer(url=deep_link(context, f"actin_{activity_id}"))
            return
        key = "act_ans_checked_in" if done.kind == "done" else "act_ans_checked_already"
        await query.answer(tr(context, key))


def join_answer(context: Context, service: Activities, result: JoinResult) -> str:
    """The toast answering a Sign up press."""
    a = result.activity
    assert a is not None
    post = a.post(result.post_no)
    if post is not None:  # the post's own fill
        text = tr(
            context,
            f"act_ans_post_{result.kind}",
            post=post.name,
            position=result.position,
            count=tr(
                context,
                "act_count",
                confirmed=post.confirmed,
                capacity=post.capacity,
                waiting=post.waiting,
            ),
        )
    else:
        text = tr(
            context,
            f"act_ans_{result.kind}",
            position=result.position,
            count=service.count_line(a, context.lang),
        )
    if result.overlaps:
        text += tr(context, "act_ans_overlap")
    return text


async def invite_to_register(update: Update, context: Context, result: JoinResult) -> None:
    """Not registered: a private deep link that signs them up once registration is done."""
    query = query_of(update)
    a = result.activity
    assert a is not None
    uid = actor(update).user_id
    link = deep_link(context, f"act_{a.id}" + (f"_{result.post_no}" if result.post_no else ""))
    if is_private(update) or not await _service(context).started(uid):
        await query.answer(url=link)
        return
    await context.services.outbox.send(
        uid,
        tr(context, "act_register_first", title=a.title, link=link),
        ref=f"act:{a.id}",
        dedupe_key=f"act:{a.id}:invite:{uid}",
    )
    await query.answer(tr(context, "act_ans_register_private"), show_alert=True)


# --- deep links and private flows ------------------------------------------------------------


async def act_link(update: Update, context: Context, rest: str) -> None:
    """`/start act_<id>[_<post>]`: sign up (registering first if needed) and show the card
    privately; an activity with posts and no post named shows the card to choose one."""
    require_private(update)
    service = _service(context)
    head, _, post = rest.partition("_")
    activity_id, post_no = parse_id(head), (parse_id(post) if post else None)
    uid = actor(update).user_id
    try:
        shown = await service.get(activity_id)
    except Refusal:
        raise Refusal("err_act_bad_button") from None  # a stale or made-up link
    if post_no is None and shown.post_count:
        await _private_card(update, context, shown, tr(context, "act_state_choose_post"))
        return
    result = await service.join(uid, activity_id, post_no=post_no)
    if result.kind == "unregistered":
        # the org picker opens at the activity's org: one tap when that is the person's org
        org_id = result.activity.org_id if result.activity is not None else None
        registration = await context.services.people.begin(
            uid, after=f"act_{rest}", picker_at=org_id
        )
        await people_handlers.ask_step(update, context, registration)
        return
    a = result.activity
    assert a is not None
    state = tr(context, f"act_state_{result.kind}", position=result.position)
    if a.post(result.post_no) is not None:
        held = tr(context, "act_state_post", post=service.post_name(a, result.post_no))
        state = Raw(held + "\n" + state)
    await _private_card(update, context, a, Raw(state))


async def _private_card(update: Update, context: Context, a: Activity, state: str) -> None:
    """The activity's card in the person's private chat, with where they stand."""
    service = _service(context)
    card = Raw(service.card_text(a, context.lang))
    text = tr(context, "act_private_card", card=card, state=Raw(state))
    await reply(update, context, text, markup_of(service.card_markup(a, context.lang), context.bot))


async def checkin_link(update: Update, context: Context, rest: str) -> None:
    """`/start actin_<id>`: the private side of a check-in that needs a live location."""
    require_private(update)
    done = await _service(context).checkin_link(actor(update).user_id, parse_id(rest))
    if done.kind == "need_location":
        await reply(
            update,
            context,
            tr(
                context, "act_checkin_ask", title=done.activity.title, radius=done.activity.radius_m
            ),
        )
    else:
        key = "act_ans_checked_in" if done.kind == "done" else "act_ans_checked_already"
        await reply(update, context, tr(context, key))


async def checkin_input(update: Update, context: Context) -> None:
    """A location sent during check-in: it must be live and near the place."""
    message = message_of(update)
    if message.location is None:
        raise Refusal("err_act_live_only")
    loc = message.location
    live = loc.live_period  # seconds; a timedelta when PTB_TIMEDELTA is set (PTB 22.2+)
    if isinstance(live, timedelta):
        live = int(live.total_seconds())
    done, metres = await _service(context).checkin_location(
        actor(update).user_id, loc.latitude, loc.longitude, live
    )
    key = "act_checkin_ok" if done.kind == "done" else "act_ans_checked_already"
    await reply(update, context, tr(context, key, title=done.activity.title, metres=metres))


async def me_section(update: Update, context: Context, profile: Any) -> str | None:
    """/me: the person's coming activities."""
    service = _service(context)
    found = await service.upcoming(actor(update).user_id)
    if not found:
        return None
    lines = "\n".join(
        tr(
            context,
            "act_me_line",
            title=a.title,
            when=service.when(a.starts_at, context.lang),
            state=tr(context, f"act_me_{status}"),
        )
        for a, status in found
    )
    return tr(context, "act_me", lines=Raw(lines))


async def forget_hook(context: Context, user_id: int) -> None:
    """/forgetme: give up the person's places."""
    await _service(context).forget(user_id)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_flow(FORM, form_handlers.form_input)
    hooks.add_flow(CHECKIN_FLOW, checkin_input)
    hooks.add_deep_link("act", act_link)
    hooks.add_deep_link("actin", checkin_link)
    hooks.add_me_section(me_section)
    hooks.add_forget_hook(forget_hook)
    hooks.add_help_section("act_help_member", "member")
    hooks.add_help_section("act_help_secretary", "secretary")
    add_handlers(
        app,
        commands={
            "activity": activity,
            "activities": activities_list,
            "checkin": checkin,
            "close": close,
        },
        buttons={
            callbacks.PATTERN: button,
            choice_pattern(WHEN_KIND): activity_when_button,
            choice_pattern(form_handlers.FORM_WHEN_KIND): form_handlers.form_when_button,
            SKIP_PATTERN: form_handlers.form_skip_button,
        },
    )
    if app.job_queue is not None:
        app.job_queue.run_once(
            start_cards, when=0, name="activities:start", job_kwargs={"misfire_grace_time": None}
        )
