"""Volunteer hours in chat: /hours, /myhours, /pending with its buttons, /export, /me section."""

from __future__ import annotations

import html
import logging
from datetime import date, timedelta

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.clock import fmt_day
from bot.domain.errors import Refusal
from bot.domain.hours import (
    REJECT_FLOW,
    Decision,
    HoursButton,
    Logged,
    RejectWhere,
    fmt_hours,
    hours_data,
    hours_pattern,
    parse_hours_data,
)
from bot.domain.hours_form import (
    DAY_KIND,
    FORM_FLOW,
    FormStep,
    HoursForm,
    day_data,
    form_data,
    form_pattern,
    parse_day_data,
    parse_form_data,
)
from bot.domain.hours_input import examples
from bot.domain.models_hours import HourEntry
from bot.domain.when import choice_pattern
from bot.gateway.markup import markup_of
from bot.texts import Raw
from handlers import hours_evidence
from handlers.common import (
    actor,
    add_handlers,
    display_name,
    is_private,
    keyboard,
    message_of,
    pressed_message,
    query_of,
    reply,
    require_own_private,
    require_private,
    send_guarded,
    tr,
)
from handlers.hours_export import export, export_hours_handler, export_myhours, scope_org_id

log = logging.getLogger(__name__)


def _args_text(update: Update) -> str:
    """Everything after the command word, spacing kept."""
    text = message_of(update).text or ""
    parts = text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


def _day(context: Context, served_on: str) -> str:
    """A day of service as people read it: '12月8日（周二）' / 'Tue 8 Dec'."""
    return fmt_day(date.fromisoformat(served_on), context.lang, context.services.hours.today())


def _entry(context: Context, e: HourEntry, limit: int | None = None) -> dict[str, object]:
    """An entry as every /hours text names it: id, day, hours, description (cut at `limit`)."""
    return {
        "id": e.id,
        "date": _day(context, e.served_on),
        "hours": fmt_hours(e.quarters),
        "description": e.description[:limit],
    }


def _stars(context: Context, level: int) -> str:
    return "★" * level


# --- logging ---------------------------------------------------------------------------------


async def log_hours(update: Update, context: Context) -> None:
    """/hours <hours> [date] <description>: log pending service hours; /hours alone: guided."""
    require_private(update)
    text = _args_text(update)
    if hours_evidence.is_revoke(text):
        await hours_evidence.revoke(update, context, text)
        return
    await log_line(update, context, text, hours_evidence.replied_photo(update))


async def log_line(update: Update, context: Context, text: str, photo: str | None) -> None:
    """A one-line /hours (with the file_id of a photo sent with it), or the guided form."""
    form = HoursForm(context.services.hours)
    uid = actor(update).user_id
    if not text.strip():
        if photo is not None:
            raise Refusal("hours_photo_need_line")
        await _form_say(update, context, FormStep(await form.begin(uid)))
        return
    await _form_say(update, context, await form.line(uid, text, photo))


async def _form_say(update: Update, context: Context, step: FormStep) -> None:
    """The next question of the guided /hours, the days to choose from, or the entry logged."""
    today = context.services.hours.today()
    if step.logged is not None:
        await _answer_logged(update, context, step.logged)
        return
    state = step.state
    if state is None:
        await reply(update, context, tr(context, "hours_form_dropped"))
        return
    if step.choices:
        rows = [[(fmt_day(d, context.lang, today), day_data(d))] for d in step.choices]
        rows.append([(tr(context, "hours_form_btn_other"), form_data("other"))])
        await reply(update, context, tr(context, "when_pick", got=step.asked), keyboard(rows))
        return
    if state.step == "day":
        yesterday = today - timedelta(days=1)
        await reply(
            update,
            context,
            tr(context, "hours_form_ask_day"),
            keyboard(
                [
                    [
                        (
                            tr(
                                context,
                                "hours_form_btn_today",
                                day=fmt_day(today, context.lang, today),
                            ),
                            day_data(today),
                        ),
                        (
                            tr(
                                context,
                                "hours_form_btn_yesterday",
                                day=fmt_day(yesterday, context.lang, today),
                            ),
                            day_data(yesterday),
                        ),
                    ],
                    [(tr(context, "hours_form_btn_other"), form_data("other"))],
                ]
            ),
        )
    elif state.step == "confirm":
        assert state.served_on is not None and state.quarters is not None
        await reply(
            update,
            context,
            tr(
                context,
                "hours_form_confirm",
                hours=fmt_hours(state.quarters),
                date=fmt_day(state.served_on, context.lang, today),
                description=state.description or "",
            ),
            keyboard(
                [
                    [
                        (tr(context, "hours_form_btn_ok"), form_data("ok")),
                        (tr(context, "hours_form_btn_no"), form_data("no")),
                    ]
                ]
            ),
        )
    else:
        await reply(update, context, tr(context, f"hours_form_ask_{state.step}", **examples(today)))


async def form_input(update: Update, context: Context) -> None:
    """A typed answer to the guided /hours."""
    step = await HoursForm(context.services.hours).answer(
        actor(update).user_id, message_of(update).text
    )
    await _form_say(update, context, step)


async def day_button(update: Update, context: Context) -> None:
    """Today / yesterday / one of the readings offered, pressed on the "which day" question."""
    query = query_of(update)
    require_own_private(update)
    day = parse_day_data(query.data)
    step = await HoursForm(context.services.hours).pick_day(actor(update).user_id, day)
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _form_say(update, context, step)


async def form_button(update: Update, context: Context) -> None:
    """Another day (then typed), confirm or drop, on the guided /hours."""
    query = query_of(update)
    require_own_private(update)
    verb = parse_form_data(query.data)
    form = HoursForm(context.services.hours)
    uid = actor(update).user_id
    if verb == "other":
        await form.pick_other(uid)
        await query.answer()
        await query.edit_message_reply_markup(None)
        await reply(
            update,
            context,
            tr(context, "hours_form_ask_other", **examples(context.services.hours.today())),
        )
        return
    step = await form.confirm(uid, keep=verb == "ok")
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _form_say(update, context, step)


async def _answer_logged(update: Update, context: Context, logged: Logged) -> None:
    if logged.draft is not None and logged.duplicate_of is not None:
        dup = logged.duplicate_of
        await reply(
            update,
            context,
            tr(
                context,
                "hours_duplicate_ask",
                **_entry(context, dup, 100),
            ),
            keyboard(
                [
                    [
                        (
                            tr(context, "hours_btn_dup_yes"),
                            hours_data(HoursButton("dup", logged.draft.id, yes=True)),
                        ),
                        (
                            tr(context, "hours_btn_dup_no"),
                            hours_data(HoursButton("dup", logged.draft.id)),
                        ),
                    ]
                ]
            ),
        )
        return
    assert logged.entry is not None  # not a held duplicate, so it was stored
    await _logged(update, context, logged.entry)


async def _logged(update: Update, context: Context, entry: HourEntry) -> None:
    text = tr(context, "hours_logged", **_entry(context, entry))
    if entry.photo_file_id:
        text = Raw(text + "\n" + tr(context, "hours_logged_photo"))
    await reply(update, context, text)


async def duplicate_button(update: Update, context: Context) -> None:
    """Yes / No to logging a same-day duplicate."""
    query = query_of(update)
    require_own_private(update)
    button = parse_hours_data(query.data)
    entry = await context.services.hours.confirm_draft(
        actor(update).user_id, button.id, keep=button.yes
    )
    await query.answer()
    await query.edit_message_reply_markup(None)
    if entry is None:
        await reply(update, context, tr(context, "hours_dup_dropped"))
    else:
        await _logged(update, context, entry)


# --- history and /me -------------------------------------------------------------------------


async def _history(
    context: Context, user_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    entries, page, pages, count = await context.services.hours.history(user_id, page)
    if not entries:
        example = context.services.hours.today().isoformat()
        return tr(context, "myhours_empty", example_date=example), None
    lines = [tr(context, "myhours_title", page=page + 1, pages=pages, count=count)]
    for e in entries:
        lines.append(
            tr(
                context,
                "myhours_line",
                **_entry(context, e, 120),
                status=tr(context, "hours_status_" + e.status),
            )
        )
        if e.reason:
            lines.append(tr(context, "myhours_reason", reason=e.reason[:200]))
        if e.revoke_reason:
            lines.append(tr(context, "myhours_revoked", reason=e.revoke_reason[:200]))
    buttons = []
    if page > 0:
        buttons.append((tr(context, "hours_btn_prev"), hours_data(HoursButton("my", page - 1))))
    if page < pages - 1:
        buttons.append((tr(context, "hours_btn_next"), hours_data(HoursButton("my", page + 1))))
    return Raw("\n".join(lines)), keyboard([buttons]) if buttons else None


async def my_hours(update: Update, context: Context) -> None:
    """/myhours: own entries with their status, newest first, paged."""
    require_private(update)
    text, markup = await _history(context, actor(update).user_id, 0)
    await reply(update, context, text, markup)


async def my_hours_page(update: Update, context: Context) -> None:
    """Prev / Next on /myhours."""
    query = query_of(update)
    require_own_private(update)
    page = parse_hours_data(query.data).id
    await context.services.hours.require_page(actor(update).user_id, page)
    text, markup = await _history(context, actor(update).user_id, page)
    await query.answer()
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:  # "message is not modified" after a double press
        log.debug("myhours page unchanged: %s", exc)


async def me_section(update: Update, context: Context, profile: object) -> str | None:
    """Hours totals, star level and the hours to the next star, for /me."""
    services = context.services
    summary = await services.hours.summary(actor(update).user_id)
    stars = summary.stars
    shown = _stars(context, stars.level)
    if stars.next_level is None:
        star_text = tr(context, "stars_top", stars=shown)
    else:
        assert stars.to_next is not None  # set whenever there is a next level
        key = "stars_next" if stars.level else "stars_next_none"
        star_text = tr(
            context,
            key,
            stars=shown,
            to_next=fmt_hours(stars.to_next * 4),
            next=_stars(context, stars.next_level),
        )
    return tr(
        context,
        "me_hours",
        approved=fmt_hours(summary.approved),
        year=fmt_hours(summary.approved_year),
        pending=fmt_hours(summary.pending),
        stars=Raw(star_text),
    )


# --- approval --------------------------------------------------------------------------------


async def _listing(
    context: Context, user_id: int, scope: int, private: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    listing = await context.services.hours.pending(user_id, scope or None)
    sep = "、" if context.lang == "zh" else ", "
    orgs = sep.join(o.name for o in listing.scope)
    if not listing.entries:
        return tr(context, "pending_none", orgs=orgs), None
    lines = [tr(context, "pending_title", orgs=orgs, total=listing.total)]
    rows = []
    for e in listing.entries:
        if private:
            who = html.escape(e.real_name or tr(context, "hours_deleted_person"))
        else:
            who = display_name(e.first_name, e.user_id)
        lines.append(
            tr(
                context,
                "pending_line",
                **_entry(context, e, 150),
                who=Raw(who),
                org=e.org_name,
            )
        )
        if e.photo_file_id:
            lines.append(tr(context, "pending_has_photo"))
        rows.append(
            [
                (
                    tr(context, "pending_btn_approve", id=e.id),
                    hours_data(HoursButton("ok", e.id, scope=scope)),
                ),
                (
                    tr(context, "pending_btn_reject", id=e.id),
                    hours_data(HoursButton("no", e.id, scope=scope)),
                ),
            ]
        )
        if e.photo_file_id:
            rows.append(hours_evidence.button_row(context, e.id))
    more = listing.total - len(listing.entries)
    if more > 0:
        lines.append(tr(context, "pending_more", more=more))
    return Raw("\n".join(lines)), keyboard(rows)


async def pending(update: Update, context: Context) -> None:
    """/pending: entries of the subtree waiting for approval, each with Approve / Reject."""
    scope = await scope_org_id(update, context)
    text, markup = await _listing(context, actor(update).user_id, scope, is_private(update))
    await reply(update, context, text, markup)


def _stale(context: Context, decision: Decision) -> Refusal:
    """The refusal of a button whose entry was decided meanwhile: who decided it, and when."""
    e = decision.entry
    return Refusal(
        "hours_stale",
        id=e.id,
        who=e.decider_name or str(e.decided_by or "?"),
        when=context.services.hours.fmt_time(e.decided_at or 0),
        status=tr(context, "hours_stale_" + e.status),
    )


async def _check_listing(update: Update, context: Context, scope: int) -> Message:
    """A /pending button counts only where its listing was shown: scope 0 in the approver's
    own private chat, an org's scope in the group bound to that org."""
    if scope == 0:
        return require_own_private(update)
    message = pressed_message(update)
    org = await context.services.tower.org_of_chat(message.chat.id)
    if org.id != scope:
        raise Refusal("err_button_elsewhere")
    return message


async def _refresh(
    context: Context, user_id: int, chat_id: int | None, message_id: int | None, scope: int
) -> None:
    """Redraw a /pending listing after a decision (best effort)."""
    if not chat_id or not message_id:
        return
    text, markup = await _listing(context, user_id, scope, chat_id > 0)
    try:
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except BadRequest as exc:
        log.debug("pending listing not refreshed: %s", exc)


async def decide_button(update: Update, context: Context) -> None:
    """Approve (at once) or Reject (asks for a reason privately) on a /pending listing."""
    query = query_of(update)
    button = parse_hours_data(query.data)
    entry_id = button.id
    uid = actor(update).user_id
    hours = context.services.hours
    message = await _check_listing(update, context, button.scope)
    where = RejectWhere(chat_id=message.chat.id, message_id=message.message_id, scope=button.scope)
    if button.verb == "ok":
        decision = await hours.decide(uid, entry_id, approve=True, scope=button.scope)
        if not decision.decided:
            raise _stale(context, decision)
        await query.answer(tr(context, "hours_done_approved", id=entry_id))
        await _refresh(context, uid, where.chat_id, where.message_id, where.scope)
        return
    # the flow and its question commit together: a crash before the send loses neither
    decision = await hours.begin_reject(uid, entry_id, where, context.lang)
    if not decision.decided:
        raise _stale(context, decision)
    text, markup = hours.reason_prompt(decision.entry, context.lang)
    try:
        await send_guarded(context, uid, text, markup_of(markup, context.bot), decision.guard_id)
    except Forbidden:
        await context.services.outbox.release(decision.guard_id)
        await context.services.people.cancel(uid)
        raise Refusal("err_hours_start_private") from None
    private = message.chat.id == uid
    await query.answer(None if private else tr(context, "hours_reason_look_private"))


async def _rejected(
    update: Update, context: Context, decision: Decision, where: RejectWhere | None
) -> None:
    uid = actor(update).user_id
    if not decision.decided:
        raise _stale(context, decision)
    await reply(update, context, tr(context, "hours_done_rejected", id=decision.entry.id))
    if where is not None:
        await _refresh(context, uid, where.chat_id, where.message_id, where.scope)


async def reason_input(update: Update, context: Context) -> None:
    """The approver's private text after pressing Reject is the reason."""
    uid = actor(update).user_id
    hours = context.services.hours
    state = await hours.reject_state(uid)
    if state is None:
        return
    text = message_of(update).text
    if not text:
        raise Refusal("err_hours_reason_text")
    decision = await hours.finish_reject(uid, state.entry_id, text)
    await _rejected(update, context, decision, state)


async def no_reason_button(update: Update, context: Context) -> None:
    """ "No reason" under the reason prompt."""
    query = query_of(update)
    require_own_private(update)
    entry_id = parse_hours_data(query.data).id
    hours = context.services.hours
    uid = actor(update).user_id
    state = await hours.reject_state(uid)
    if state is None or state.entry_id != entry_id:
        raise Refusal("err_wrong_step")  # not (or no longer) asked for this entry's reason
    decision = await hours.finish_reject(uid, entry_id, None)
    if not decision.decided:
        raise _stale(context, decision)
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _rejected(update, context, decision, state)


async def forget_hook(context: Context, user_id: int) -> None:
    await context.services.hours.forget(user_id)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_flow(REJECT_FLOW, reason_input)
    hooks.add_flow(FORM_FLOW, form_input)
    hooks.add_export("hours", export_hours_handler)
    hooks.add_export("myhours", export_myhours)
    hooks.add_me_section(me_section)
    hooks.add_forget_hook(forget_hook)
    hooks.add_help_section("help_hours_member", "member")
    hooks.add_help_section("help_hours_secretary", "secretary")
    hours_evidence.register_handlers(app, log_line)
    add_handlers(
        app,
        commands={"hours": log_hours, "myhours": my_hours, "pending": pending, "export": export},
        buttons={
            hours_pattern("dup"): duplicate_button,
            choice_pattern(DAY_KIND): day_button,
            form_pattern(): form_button,
            hours_pattern("my"): my_hours_page,
            hours_pattern("ok", "no"): decide_button,
            hours_pattern("nr"): no_reason_button,
        },
    )
