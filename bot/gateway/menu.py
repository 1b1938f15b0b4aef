"""The "/" command menu: what each audience may use, published per scope and language."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.error import TelegramError

from bot.texts import DEFAULT_LANG, LANGS, t

log = logging.getLogger(__name__)

#: private chats: a person's own things (personal data never shows in a group)
PRIVATE = (
    "start",
    "register",
    "me",
    "hours",
    "myhours",
    "submit",
    "dashboard",
    "request",
    "requests",
    "review",
    "mydata",
    "lang",
    "cancel",
    "forgetme",
    "auditlog",
    "audit",
    "help",
)
#: group chats: what every member may ask about the chat's org
GROUP = ("org", "activities", "help")
#: group administrators (secretaries and staff are expected to administer their chats)
ADMINS = (
    "org",
    "activities",
    "stats",
    "chart",
    "cadres",
    "activity",
    "checkin",
    "close",
    "attendance",
    "pending",
    "announce",
    "deadline",
    "export",
    "role",
    "consent",
    "bind",
    "unbind",
    "setup",
    "help",
)

MENUS: dict[str, tuple[str, ...]] = {
    "all_private_chats": PRIVATE,
    "all_group_chats": GROUP,
    "all_chat_administrators": ADMINS,
}
_SCOPES: dict[str, Callable[[], BotCommandScope]] = {
    "all_private_chats": BotCommandScopeAllPrivateChats,
    "all_group_chats": BotCommandScopeAllGroupChats,
    "all_chat_administrators": BotCommandScopeAllChatAdministrators,
}


def menu(scope: str, lang: str) -> list[BotCommand]:
    """The commands of one scope with their descriptions in `lang`."""
    return [BotCommand(name, t(lang, f"menu_{name}")) for name in MENUS[scope]]


async def publish_menus(bot: Bot) -> int:
    """setMyCommands for every scope and language (the default language without a code);
    a failure is logged and the rest still published. Returns how many menus were set."""
    done = 0
    for scope, scope_type in _SCOPES.items():
        for lang in LANGS:
            code = None if lang == DEFAULT_LANG else lang
            try:
                await bot.set_my_commands(menu(scope, lang), scope=scope_type(), language_code=code)
                done += 1
            except TelegramError as exc:
                log.warning("could not set the %s menu (%s): %r", scope, lang, exc)
    return done
