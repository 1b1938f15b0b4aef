"""Guardian consent for minors: the link the minor forwards, the guardian's agreement, /consent."""

from __future__ import annotations

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.errors import Refusal
from bot.domain.minors import (
    GUARD_DATA,
    GUARD_LINK,
    LINK_DAYS,
    guard_data,
    parse_guard_data,
    token_from_text,
)
from handlers.common import (
    actor,
    add_handlers,
    deep_link,
    keyboard,
    query_of,
    reply,
    require_group,
    require_own_private,
    tr,
)


async def ask_guardian(update: Update, context: Context) -> None:
    """The guardian step: a fresh single-use link for the minor to forward."""
    token = await context.services.minors.new_link_token(actor(update).user_id)
    await reply(
        update,
        context,
        tr(
            context,
            "reg_guardian_link",
            days=LINK_DAYS,
            link=deep_link(context, f"{GUARD_LINK}_{token}"),
            token=token,
        ),
    )


async def guardian_link(update: Update, context: Context, rest: str) -> None:
    """`guard_<token>`: show the guardian who asks, and the consent text with its button."""
    ask = await context.services.minors.ask(rest, actor(update).user_id)
    name = tr(context, "guard_someone")
    try:  # the minor's Telegram first name, asked of Telegram: the bot does not keep it
        chat = await context.bot.get_chat(ask.minor_id)
        name = chat.first_name or name
    except TelegramError:
        pass
    await reply(
        update,
        context,
        tr(context, "guard_ask", name=name, org=ask.org_name),
        keyboard([[(tr(context, "guard_btn_agree"), guard_data(rest))]]),
    )


async def guardian_button(update: Update, context: Context) -> None:
    """The guardian agrees: the consent is recorded and the minor told."""
    query = query_of(update)
    require_own_private(update)  # the guardian's own private chat with the bot, nowhere else
    token = parse_guard_data(query.data)
    await context.services.minors.agree(token, actor(update).user_id)
    await query.answer()
    await query.edit_message_reply_markup(None)
    await reply(update, context, tr(context, "guard_done"))


async def record_consent(update: Update, context: Context) -> None:
    """/consent <token>, or as a reply to the minor's message: a paper consent, by a secretary."""
    require_group(update)
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    minors = context.services.minors
    uid = actor(update).user_id
    replied = message.reply_to_message
    if context.args:
        await minors.record_paper(
            update.effective_chat.id, uid, token=token_from_text(context.args[0])
        )
    elif replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        await minors.record_paper(update.effective_chat.id, uid, minor_id=replied.from_user.id)
    else:
        raise Refusal("usage_consent")
    await reply(update, context, tr(context, "guard_paper_done"))


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_deep_link(GUARD_LINK, guardian_link)
    hooks.add_help_section("help_consent", "secretary")
    add_handlers(app, commands={"consent": record_consent}, buttons={GUARD_DATA: guardian_button})
