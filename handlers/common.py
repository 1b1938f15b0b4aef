"""Glue shared by every handler: who is acting, their language, replies, chat checks, errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
    User,
)
from telegram import Chat as TgChat
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
)

from bot.context import Context
from bot.domain.errors import Refusal
from bot.domain.models import Actor, Chat
from bot.gateway.errors import classify
from bot.logs import mark
from bot.texts import mention, t

log = logging.getLogger("towerbot.updates")

GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
#: what Telegram allows as callback data (1-64 bytes) and every button of ours uses: printable
#: ASCII, no spaces (so non-ASCII digits, control characters and empty data never get further)
_BUTTON_DATA = re.compile(r"[!-~]{1,64}", re.ASCII)
#: the refusal a foreign or stale button gets, for features whose text says more than the
#: generic one (an activity card's buttons name the card)
_FOREIGN_BUTTON = {"act:": "err_act_bad_button"}
_T = TypeVar("_T")
#: a handler's callback, as a feature registers it
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply
#: refusals of a private-only command used in a group: answered with a private-chat button
PRIVATE_REFUSALS = frozenset({"err_private_only", "err_submit_private"})
# guided flows and deep links are registered per application: `Hooks` in bot/context.py


def add_handlers(
    app: Application,
    *,
    commands: Mapping[str | tuple[str, ...], Callback] | None = None,
    buttons: Mapping[str | re.Pattern[str], Callback] | None = None,
) -> None:
    """A feature's commands (name, or names, → callback), then its buttons (callback data
    pattern → callback), registered in the order given."""
    for names, callback in (commands or {}).items():
        app.add_handler(CommandHandler(names, callback))
    for pattern, callback in (buttons or {}).items():
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern))


def actor(update: Update) -> Actor:
    user = update.effective_user
    assert user is not None
    return Actor(
        user_id=user.id,
        first_name=user.first_name or "",
        username=user.username,
        tg_lang=user.language_code,
    )


def chat_model(update: Update) -> Chat:
    chat = update.effective_chat
    assert chat is not None
    return Chat(id=chat.id, type=chat.type, title=chat.title or "")


# Handlers are registered with filters that guarantee the parts of the update they use (a
# command has a message, a chat and a sender; a CallbackQueryHandler a callback query). PTB
# types them all as Optional: these accessors state the guarantee once, and fail loudly (an
# internal error, not a silent None) if a registration ever breaks it.


def _required(value: _T | None, part: str, update: Update) -> _T:
    if value is None:
        raise RuntimeError(f"update {update.update_id} has no {part}; check the handler's filters")
    return value


def chat_id_of(update: Update) -> int:
    return _required(update.effective_chat, "chat", update).id


def message_of(update: Update) -> Message:
    return _required(update.effective_message, "message", update)


def query_of(update: Update) -> CallbackQuery:
    return _required(update.callback_query, "callback query", update)


def user_of(update: Update) -> User:
    return _required(update.effective_user, "sender", update)


def is_private(update: Update) -> bool:
    return bool(update.effective_chat and update.effective_chat.type == ChatType.PRIVATE)


def require_private(update: Update) -> None:
    if not is_private(update):
        raise Refusal("err_private_only")


def require_group(update: Update) -> None:
    if not (update.effective_chat and update.effective_chat.type in GROUPS):
        raise Refusal("err_group_only")


def pressed_message(update: Update) -> Message:
    """The (accessible) message a button was pressed on; anything else is refused."""
    query = update.callback_query
    message = query.message if query is not None else None
    if not isinstance(message, Message):
        raise Refusal("err_stale_button")
    return message


def require_own_private(update: Update) -> Message:
    """A private button counts only in the presser's own private chat with the bot."""
    message = pressed_message(update)
    user = update.effective_user
    if message.chat.type != ChatType.PRIVATE or user is None or message.chat.id != user.id:
        raise Refusal("err_button_elsewhere")
    return message


def button_fault(query: CallbackQuery, bot_id: int) -> str | None:
    """Why a press cannot be one of our buttons (a text key), or None if it can.

    The data must be well-formed and be one of the buttons of the bot's own message the press
    came from, as Telegram shows it now: forged data, a button the bot already removed, a
    deleted message and inline-mode presses stop here, before any feature sees them.
    """
    data = query.data or ""
    message = query.message
    if not _BUTTON_DATA.fullmatch(data) or not isinstance(message, Message):
        return "err_stale_button"
    if message.from_user is None or message.from_user.id != bot_id:
        return "err_stale_button"
    markup = message.reply_markup
    shown = {
        button.callback_data for row in (markup.inline_keyboard if markup else ()) for button in row
    }
    if data not in shown:
        return next(
            (key for prefix, key in _FOREIGN_BUTTON.items() if data.startswith(prefix)),
            "err_stale_button",
        )
    return None


async def check_button(update: Update, context: Context) -> None:
    """Runs before every button's handler: a foreign or stale press is refused here."""
    query = update.callback_query
    assert query is not None
    key = button_fault(query, context.bot.id)
    if key is None:
        return
    mark(f"refused:{key}")
    await query.answer(tr(context, key)[:200], show_alert=True)
    raise ApplicationHandlerStop


async def unknown_button(update: Update, context: Context) -> None:
    """A button no feature claims (only reachable with data no feature builds)."""
    raise Refusal("err_stale_button")


def tr(context: Context, key: str, **values: object) -> str:
    return t(context.lang, key, **values)


def reason_of(context: Context, refusal: Refusal) -> str:
    """A refusal's reason alone: the first line of its text, without the usage after it."""
    return tr(context, refusal.key, **refusal.values).split("\n")[0]


async def reply(
    update: Update, context: Context, text: str, markup: ReplyMarkup | None = None
) -> Message | None:
    """Answer the update in its chat (a reply to the command in groups)."""
    chat = update.effective_chat
    if chat is None:
        return None

    async def queue(wait: float) -> None:
        # a busy group hit Telegram's limit: the answer is not lost, the outbox sends it later
        services = context.services
        await services.outbox.send(
            chat.id,
            text,
            urgent=True,
            not_before=services.clock.time() + wait,
            reply_markup=markup.to_dict() if markup is not None else None,
        )

    return await _send(update, context, chat, text, markup, on_flood=queue)


async def reply_guarded(
    update: Update, context: Context, text: str, markup: ReplyMarkup | None, guard_id: int | None
) -> Message | None:
    """`reply` for a message that also waits in the outbox as `guard_id` (`Outbox.guard`):
    on a 429 the outbox copy goes when Telegram allows it, instead of a second queued copy."""
    if guard_id is None:
        return await reply(update, context, text, markup)
    chat = _required(update.effective_chat, "chat", update)

    async def hold(wait: float) -> None:
        await context.services.outbox.hold(guard_id, wait)

    return await _send(update, context, chat, text, markup, on_flood=hold)


async def _send(
    update: Update,
    context: Context,
    chat: TgChat,
    text: str,
    markup: ReplyMarkup | None,
    *,
    on_flood: Callable[[float], Awaitable[None]],
) -> Message | None:
    """Send `text` to `chat` (a reply to the command in groups); on a 429, `on_flood(wait)`."""
    message = update.effective_message
    params = None
    if message is not None and chat.type in GROUPS and update.callback_query is None:
        params = ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True)
    try:
        return await context.bot.send_message(
            chat.id, text, reply_markup=markup, reply_parameters=params
        )
    except TelegramError as exc:
        failure = classify(exc)
        if failure.kind != "flood":
            raise
        await on_flood(failure.wait)
        return None


async def send_guarded(
    context: Context, chat_id: int, text: str, markup: ReplyMarkup | None, guard_id: int | None
) -> Message | None:
    """Send to `chat_id` a message that waits in the outbox as `guard_id`, then drop that
    stand-in; on a 429 the stand-in goes when Telegram allows it (other errors raise)."""
    try:
        sent = await context.bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramError as exc:
        failure = classify(exc)
        if failure.kind != "flood":
            raise
        await context.services.outbox.hold(guard_id, failure.wait)
        return None
    await context.services.outbox.release(guard_id)
    return sent


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
    button = InlineKeyboardButton(
        t(lang, "guide_btn_private"), url=deep_link(context, f"cmd_{name}")
    )
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
    lang = (
        await services.people.lang(user.id if user else None, user.language_code if user else None)
        if services
        else "zh"
    )
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
