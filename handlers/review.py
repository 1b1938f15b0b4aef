"""述职评议: /review open | status | close (private, the campaign's creator), the reviewers'
scoring buttons and 加评语 flow, the board's 查看材料 button and /export review."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.campaigns import parse_id
from bot.domain.errors import Refusal
from bot.domain.review import COMMENT_FLOW, Card, Review
from bot.domain.review_calc import REVIEW_DATA, grade_name, parse_data
from bot.texts import Raw
from handlers.common import (
    actor,
    add_handlers,
    is_private,
    keyboard,
    message_of,
    pressed_message,
    query_of,
    reply,
    require_own_private,
    tr,
)


def _service(context: Context) -> Review:
    return context.services.campaigns.review


def _markup(card: Card) -> InlineKeyboardMarkup:
    return keyboard(card.rows)


async def review(update: Update, context: Context) -> None:
    """/review open|status|close <id>: in private only (scores are never shown in a group)."""
    if not is_private(update):
        raise Refusal("err_rv_private")
    args = context.args or []
    verb = args[0].lower() if args else ""
    if verb not in ("open", "status", "close") or len(args) != 2:
        await reply(update, context, tr(context, "usage_review"))
        return
    campaign_id = parse_id(args[1])
    uid = actor(update).user_id
    service = _service(context)
    if verb == "open":
        campaign, reviewers, reports, unreachable = await service.open(uid, campaign_id)
        text = tr(
            context,
            "rv_opened",
            id=campaign.id,
            title=campaign.title,
            reviewers=reviewers,
            reports=reports,
        )
        if unreachable:
            text = Raw(text + "\n" + tr(context, "rv_unreachable", n=unreachable))
    elif verb == "status":
        progress = await service.progress(uid, campaign_id)
        c = progress.campaign
        lines = [
            tr(
                context,
                "rv_status_head",
                id=c.id,
                title=c.title,
                state=tr(context, f"rv_state_{progress.status}"),
                reports=progress.reports,
            )
        ]
        lines += [
            tr(context, "rv_status_line", who=name, done=done, total=progress.reports)
            for name, done in progress.reviewers
        ]
        text = Raw("\n".join(lines))
    else:
        closed = await service.close(uid, campaign_id, context.lang)
        text = tr(
            context,
            "rv_closed",
            id=closed.campaign.id,
            title=closed.campaign.title,
            reports=closed.reports,
            scored=closed.scored,
            reviewers=closed.reviewers,
        )
    await reply(update, context, text)


async def button(update: Update, context: Context) -> None:
    """查看材料 (anywhere the board is), a grade or 加评语 (the reviewer's private chat)."""
    query = query_of(update)
    pressed = parse_data(query.data)
    uid = actor(update).user_id
    service = _service(context)
    if pressed.kind == "m":
        message = pressed_message(update)
        if message.chat.type == ChatType.PRIVATE:
            require_own_private(update)
        else:  # a board is shown in chats that see the campaign: a copy elsewhere is refused
            await context.services.campaigns.visible_in(message.chat.id, pressed.campaign_id)
        n = await service.fetch(
            uid, pressed.campaign_id, pressed.org_id, f"{message.chat.id}:{message.message_id}"
        )
        await query.answer(tr(context, "rv_material_sent", n=n)[:200], show_alert=True)
        return
    require_own_private(update)
    if pressed.kind == "n":
        org = await service.begin_comment(uid, pressed.campaign_id, pressed.org_id)
        await query.answer()
        await reply(update, context, tr(context, "rv_ask_comment", org=org.name))
        return
    assert pressed.grade is not None
    card, changed = await service.grade(
        uid, pressed.campaign_id, pressed.org_id, pressed.grade, context.lang
    )
    campaign = await service.campaign(context.services.db.reader, pressed.campaign_id)
    name = grade_name(campaign, pressed.grade, context.lang)
    await query.answer(tr(context, "rv_graded" if changed else "rv_graded_same", grade=name))
    if changed:
        try:
            await query.edit_message_text(card.text, reply_markup=_markup(card))
        except BadRequest:  # the card is gone or unchanged: the grade is recorded all the same
            pass


async def comment_input(update: Update, context: Context) -> None:
    """The reviewer's comment after 加评语."""
    message = message_of(update)
    card = await _service(context).save_comment(actor(update).user_id, message.text, context.lang)
    await reply(
        update, context, Raw(tr(context, "rv_comment_saved") + "\n" + card.text), _markup(card)
    )


async def export_review(update: Update, context: Context, args: list[str]) -> None:
    """/export review <id>: the 述职评议 workbook (every score), privately to the creator."""
    if len(args) != 1:
        await reply(update, context, tr(context, "usage_review"))
        return
    if not is_private(update):
        raise Refusal("err_rv_private")
    campaign = await _service(context).export(
        actor(update).user_id, parse_id(args[0]), context.lang
    )
    await reply(update, context, tr(context, "rv_export_on_its_way", id=campaign.id))


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_flow(COMMENT_FLOW, comment_input)
    hooks.add_export("review", export_review)
    hooks.add_help_section("help_review_staff", "staff")
    add_handlers(app, commands={"review": review}, buttons={REVIEW_DATA: button})
