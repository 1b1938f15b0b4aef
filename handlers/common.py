"""Glue shared by every handler: who is acting, their language, replies, chat checks, errors."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import Context
from bot.domain.errors import Refusal
from bot.domain.models import Actor, Chat
from bot.gateway.errors import classify
from bot.logs import mark
from bot.texts import mention, t

log = logging.getLogger("towerbot.updates")

GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
#: refusals of a private-only command used in a group: answered with a private-chat button
PRIVATE_REFUSALS = frozenset({"err_private_only", "err_submit_private"})
# guided flows and deep links are registered per application: `Hooks` in bot/context.py


def actor(update: Update) -> Actor:
    user = update.effective_user
    assert user is not None
    return Actor(user_id=user.id, first_name=user.first_name or "", username=user.username,
                 tg_lang=user.language_code)


def chat_model(update: Update) -> Chat:
    chat = update.effective_chat
    assert chat is not None
    return Chat(id=chat.id, type=chat.type, title=chat.title or "")


def is_private(update: Update) -> bool:
    return bool(update.effective_chat and update.effective_chat.type == ChatType.PRIVATE)


def require_private(update: Update) -> None:
    if not is_private(update):
        raise Refusal("err_private_only")


def require_group(update: Update) -> None:
    if not (update.effective_chat and update.effective_chat.type in GROUPS):
        raise Refusal("err_group_only")


def tr(context: Context, key: str, **values: object) -> str:
    return t(context.lang, key, **values)


async def reply(
    update: Update, context: Context, text: str, markup: object = None
) -> Message | None:
    """Answer the update in its chat (a reply to the command in groups)."""
    message = update.effective_message
    chat = update.effective_chat
    if chat is None:
        return None
    params = None
    if message is not None and chat.type in GROUPS and update.callback_query is None:
        params = ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
    try:
        return await context.bot.send_message(chat.id, text, reply_markup=markup,  # type: ignore[arg-type]
                                              reply_parameters=params)
    except TelegramError as exc:
        failure = classify(exc)
        if failure.kind != "flood":
            raise
        # a busy group hit Telegram's limit: the answer is not lost, the outbox sends it later
        services = context.services
        await services.outbox.send(
            chat.id, text, urgent=True, not_before=services.clock.time() + failure.wait,
            reply_markup=markup.to_dict() if markup is not None else None,  # type: ignore[attr-defined]
        )
        return None


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline keyboard from rows of (label, callback_data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def display_name(first_name: str | None, user_id: int) -> str:
    """A Telegram display name as a mention link (never the real name)."""
    return mention(user_id, first_name)


def deep_link(context: Context, payload: str) -> str:
    return f"https://t.me/{context.bot.username}?start={payload}"


def _to_private(
    update: Update, context: Context, lang: str, text: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A private-only command sent in a group: say so, with a button that opens the private
    chat and starts the command there (the `cmd_<name>` deep link, handlers/guide.py)."""
    message = update.effective_message
    words = (message.text or "").split(maxsplit=1) if message is not None else []
    name = words[0][1:].partition("@")[0].lower() if words and words[0][:1] == "/" else ""
    if not name.isascii() or not name.replace("_", "").isalnum() or not context.bot.username:
        return text, None
    button = InlineKeyboardButton(t(lang, "guide_btn_private"),
                                  url=deep_link(context, f"cmd_{name}"))
    return t(lang, "guide_private_only", command=name), InlineKeyboardMarkup([[button]])


async def remember(update: Update, context: Context) -> None:
    """Runs first for every update: record the user and settle the language for the reply."""
    services = context.services
    user = update.effective_user
    if user is not None and not user.is_bot:
        await services.people.seen(actor(update), private=is_private(update))
        context.lang = await services.people.lang(user.id, user.language_code)
        verdict = services.flood.check(user.id, services.clock.time())
        if verdict != "ok":
            if verdict == "warn":
                mark("throttled")
                if update.callback_query is not None:
                    await update.callback_query.answer(tr(context, "slow_down"))
                elif update.effective_chat is not None:
                    await reply(update, context, tr(context, "slow_down"))
            else:
                mark("ignored")
            raise ApplicationHandlerStop
    else:
        context.lang = services.settings.language
    services.last_update = (update.update_id, services.clock.time())


async def on_error(update: object, context: Context) -> None:
    """A Refusal becomes its one-line answer; anything else is logged and answered politely."""
    error = context.error
    if not isinstance(update, Update):
        log.error("error outside an update: %r", error, exc_info=error)
        return
    services = context.bot_data.get("services")
    user = update.effective_user
    lang = await services.people.lang(user.id if user else None,
                                      user.language_code if user else None) if services else "zh"
    markup = None
    if isinstance(error, Refusal):
        text = t(lang, error.key, **error.values)
        mark(f"refused:{error.key}")
        if error.key in PRIVATE_REFUSALS and update.callback_query is None:
            text, markup = _to_private(update, context, lang, text)
    else:
        mark(f"error:{type(error).__name__}")
        log.error("update=%s failed: %s", update.update_id, type(error).__name__, exc_info=error)
        text = t(lang, "err_internal")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.effective_chat is not None:
            await reply(update, context, text, markup)
    except TelegramError as exc:  # nothing more we can do in that chat
        log.warning("could not tell update=%s about its error: %r", update.update_id, exc)
