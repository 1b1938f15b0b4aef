"""Requests upward (请示报告): /request and /requests (private), the staff's buttons, the
reply flow, /export requests."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.campaigns_input import fmt_span
from bot.domain.errors import Refusal
from bot.domain.models_requests import Request
from bot.domain.requests import (
    COMPOSE_FLOW,
    REPLY_FLOW,
    REQUEST_DATA,
    parse_request_data,
)
from bot.domain.validate import excerpt
from bot.texts import Raw, mention
from handlers.common import (
    actor,
    add_handlers,
    chat_id_of,
    is_private,
    message_of,
    query_of,
    reply,
    require_own_private,
    tr,
)

log = logging.getLogger(__name__)


def _require_private(update: Update) -> None:
    """A request is private: in a group, one line saying so, and its text is never echoed."""
    if not is_private(update):
        raise Refusal("err_req_private")


def _rest(message: Message) -> str:
    """Everything after the command word, line breaks kept."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


async def request(update: Update, context: Context) -> None:
    """/request <text>, /request replying to a document or text, or /request alone (asks)."""
    _require_private(update)
    services = context.services
    uid = actor(update).user_id
    message = message_of(update)
    rest = _rest(message)
    replied = message.reply_to_message
    if rest.strip():
        made = await services.requests.make(uid, text=rest)
    elif replied is not None and (replied.document is not None or replied.text):
        made = await _store(context, uid, replied)
    else:
        org, target = await services.requests.begin(uid)
        await reply(update, context, tr(context, "req_ask", org=org.name, to=target.name))
        return
    await reply(update, context, tr(context, "req_sent", id=made.id, to=made.to_name))


async def _store(context: Context, uid: int, message: Message) -> Request:
    requests = context.services.requests
    if message.document is not None:
        doc = message.document
        return await requests.make(
            uid, text=message.caption, file_id=doc.file_id, file_name=doc.file_name
        )
    if not message.text:
        raise Refusal("err_req_kind")
    return await requests.make(uid, text=message.text)


async def compose_input(update: Update, context: Context) -> None:
    """The text or document after `/request` alone is the request."""
    made = await _store(context, actor(update).user_id, message_of(update))
    await reply(update, context, tr(context, "req_sent", id=made.id, to=made.to_name))


# --- the staff's buttons ----------------------------------------------------------------------


async def request_button(update: Update, context: Context) -> None:
    """同意 / 不同意 (the first decision wins) or 回复 (asks for the reply text)."""
    query = query_of(update)
    require_own_private(update)
    button = parse_request_data(query.data)
    requests = context.services.requests
    uid = actor(update).user_id
    if button.verb == "re":
        asked = await requests.begin_reply(uid, button.id, context.lang)
        await query.answer()
        await reply(update, context, tr(context, "req_reply_ask", id=asked.id))
        return
    decided = await requests.decide(uid, button.id, approve=button.verb == "ok")
    if not decided.won:
        raise requests.decided_refusal(decided.request, context.lang)
    done = decided.request
    await query.answer(tr(context, "req_done_" + done.status, id=done.id))
    text = tr(
        context,
        "req_card_done",
        card=Raw(requests.card_text(done, context.lang)),
        status=tr(context, "req_status_" + done.status),
        who=mention(uid, actor(update).first_name),
        at=requests.fmt(done.decided_at or 0, context.lang),
    )
    try:
        await query.edit_message_text(text, reply_markup=None)
    except BadRequest as exc:  # the card is old or gone: the decision stands
        log.debug("request card not edited: %s", exc)


async def reply_input(update: Update, context: Context) -> None:
    """The staff member's private text after 回复 is relayed to the requester."""
    message = message_of(update)
    if not message.text:
        raise Refusal("err_req_kind")
    done = await context.services.requests.reply(actor(update).user_id, message.text)
    await reply(update, context, tr(context, "req_reply_sent", id=done.id))


# --- /requests ---------------------------------------------------------------------------------


def _about(r: Request) -> str:
    return excerpt(r.text, 30) if r.text else (r.file_name or "📎")


async def requests_list(update: Update, context: Context) -> None:
    """/requests: staff see open requests addressed to their orgs; secretaries their own."""
    _require_private(update)
    services = context.services
    found = await services.requests.listing(actor(update).user_id)
    now = services.clock.time()
    lines: list[str] = []
    if found.staff:
        lines.append(tr(context, "req_list_head_staff", n=len(found.open_to_me)))
        lines += [
            tr(
                context,
                "req_list_line_staff",
                id=r.id,
                org=r.from_name,
                to=r.to_name,
                about=_about(r),
                age=fmt_span(now - r.created_at, context.lang),
            )
            for r in found.open_to_me
        ] or [tr(context, "req_list_none_staff")]
    if found.secretary or found.mine:
        if lines:
            lines.append("")
        lines.append(tr(context, "req_list_head_mine"))
        for r in found.mine:
            when = ""
            if r.decided_at:
                when = tr(
                    context, "req_list_when", at=services.requests.fmt(r.decided_at, context.lang)
                )
            if r.replies:
                when = Raw(when + tr(context, "req_list_replies", n=r.replies))
            lines.append(
                tr(
                    context,
                    "req_list_line_mine",
                    id=r.id,
                    to=r.to_name,
                    about=_about(r),
                    status=tr(context, "req_status_" + r.status),
                    when=Raw(when),
                )
            )
        if not found.mine:
            lines.append(tr(context, "req_list_none_mine"))
    await reply(update, context, Raw("\n".join(lines)))


# --- /export requests --------------------------------------------------------------------------


async def export_requests(update: Update, context: Context, args: list[str]) -> None:
    """/export requests: the subtree's requests and decisions as .xlsx, sent privately."""
    if args:
        await reply(update, context, tr(context, "usage_export"))
        return
    services = context.services
    requests = services.requests
    uid = actor(update).user_id
    chat = None if is_private(update) else chat_id_of(update)
    for org in await requests.export_scope(uid, chat):
        data = await requests.workbook(org, context.lang)
        await services.outbox.send_workbook(
            uid,
            data,
            filename=f"requests-{org.code}-{requests.local_time(services.clock.time()):%Y-%m-%d}.xlsx",
            caption=tr(context, "export_caption_requests", org=org.name),
        )
    await reply(update, context, tr(context, "export_on_its_way"))


async def forget_hook(context: Context, user_id: int) -> None:
    await context.services.requests.forget(user_id)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_flow(COMPOSE_FLOW, compose_input)
    hooks.add_flow(REPLY_FLOW, reply_input)
    hooks.add_export("requests", export_requests)
    hooks.add_forget_hook(forget_hook)
    hooks.add_help_section("help_requests_secretary", "secretary")
    hooks.add_help_section("help_requests_staff", "staff")
    add_handlers(
        app,
        commands={"request": request, "requests": requests_list},
        buttons={REQUEST_DATA: request_button},
    )
