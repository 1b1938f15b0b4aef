"""Attendance in chat: `/attendance <activity>` (organisers) sends the paged roster privately,
one row of buttons per person (present ✅, no-show ❌, undo ↩); a press marks and redraws it.

Roster messages live only in the organiser's private chat: they may show real names there.
"""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.activities import parse_id
from bot.domain.activities.attendance import PAGE, PATTERN, RosterPage, Verb, build, parse
from bot.domain.models_attendance import RosterLine
from bot.texts import Raw
from handlers.common import (
    actor,
    add_handlers,
    deep_link,
    display_name,
    is_private,
    keyboard,
    query_of,
    reply,
    require_own_private,
    tr,
)

log = logging.getLogger(__name__)
#: the buttons of each person's row: (verb, text key suffix)
BUTTONS: tuple[tuple[Verb, str], ...] = (("p", "present"), ("n", "no_show"), ("u", "undo"))


def _state(context: Context, line: RosterLine, closed: bool) -> str:
    """present / no-show / checked in / not checked in, and whether the organiser marked it."""
    if closed and line.attendance:
        key = "att_is_present" if line.attendance == "present" else "att_is_no_show"
    elif line.marked:
        key = "att_is_present" if line.marked == "present" else "att_is_no_show"
    else:
        key = "att_is_checked_in" if line.checked_in_at is not None else "att_is_unmarked"
    text = tr(context, key)
    return text + tr(context, "att_by_organiser") if line.marked else text


def roster_view(context: Context, roster: RosterPage) -> tuple[str, InlineKeyboardMarkup | None]:
    """The roster page's text and buttons (sent to the organiser's private chat only)."""
    a = roster.activity
    closed = a.status == "closed"
    lines = [
        tr(
            context,
            "att_title",
            title=a.title,
            id=a.id,
            when=context.services.activities.when(a.starts_at, context.lang),
            state=tr(context, "att_state_closed" if closed else "att_state_open"),
            page=roster.page + 1,
            pages=roster.pages,
            total=roster.total,
        )
    ]
    if not roster.lines:
        lines.append(tr(context, "att_none"))
    rows: list[list[tuple[str, str]]] = []
    for n, line in enumerate(roster.lines, start=roster.page * PAGE + 1):
        who = display_name(line.first_name, line.user_id)
        if line.real_name:
            who += html.escape(f" ({line.real_name})", quote=False)
        lines.append(
            tr(context, "att_line", n=n, who=Raw(who), state=Raw(_state(context, line, closed)))
        )
        rows.append(
            [
                (tr(context, f"att_btn_{name}", n=n), build(code, a.id, roster.page, line.user_id))
                for code, name in BUTTONS
            ]
        )
    nav = []
    if roster.page > 0:
        nav.append((tr(context, "att_btn_prev"), build("g", a.id, roster.page - 1)))
    if roster.page < roster.pages - 1:
        nav.append((tr(context, "att_btn_next"), build("g", a.id, roster.page + 1)))
    if nav:
        rows.append(nav)
    return Raw("\n".join(lines)), keyboard(rows) if rows else None


async def attendance(update: Update, context: Context) -> None:
    """/attendance <activity>: the roster to mark, sent to the organiser privately."""
    args = context.args or []
    if len(args) != 1:
        await reply(update, context, tr(context, "usage_attendance"))
        return
    uid = actor(update).user_id
    roster = await context.services.activities.roster_page(uid, parse_id(args[0]), 0)
    text, markup = roster_view(context, roster)
    if is_private(update):
        await reply(update, context, text, markup)
        return
    try:
        await context.bot.send_message(uid, text, reply_markup=markup)
    except Forbidden:
        await reply(update, context, tr(context, "att_start_bot", link=deep_link(context, "help")))
        return
    await reply(update, context, tr(context, "att_sent_private"))


async def attendance_button(update: Update, context: Context) -> None:
    """A roster button: mark present / no-show / undo, or another page; the roster redraws."""
    query = query_of(update)
    require_own_private(update)  # the roster is the organiser's own
    press = parse(query.data)
    service = context.services.activities
    uid = actor(update).user_id
    answer = None
    if press.verb != "g":
        done = await service.mark(uid, press.activity_id, press.user_id, press.verb, context.lang)
        verb = {"p": "present", "n": "no_show", "u": "undo"}[press.verb]
        answer = tr(context, f"att_ans_{verb}" if done.changed else "att_ans_same", name=done.name)
        if done.credited:
            answer += tr(context, "att_ans_credited", id=done.credited)
        if done.revoked:
            answer += tr(context, "att_ans_revoked", id=done.revoked)
    # after a mark the page it was on is redrawn (the last one, if it has gone); another
    # page must exist
    roster = await service.roster_page(uid, press.activity_id, press.page, clamp=answer is not None)
    await query.answer(answer[:200] if answer else None)
    text, markup = roster_view(context, roster)
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:  # "message is not modified" after a repeated press
        log.debug("attendance roster unchanged: %s", exc)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_help_section("att_help_secretary", "secretary")
    add_handlers(
        app,
        commands={"attendance": attendance},
        buttons={PATTERN: attendance_button},
    )
