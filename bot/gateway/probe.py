"""The membership probe: getChatMember and createChatInviteLink for `bot.domain.audit`."""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.domain.audit import MISSING, PRESENT
from bot.gateway.errors import classify

log = logging.getLogger(__name__)
_PRESENT = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}


class BotProbe:
    """getChatMember and createChatInviteLink for `bot.domain.audit` (one per run)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._links: dict[int, str | None] = {}

    async def status(self, chat_id: int, user_id: int) -> str | None:
        """PRESENT, MISSING, or None when Telegram would not say."""
        for _ in range(3):
            try:
                member = await self.bot.get_chat_member(chat_id, user_id)
            except TelegramError as exc:
                failure = classify(exc)
                if failure.kind == "flood":
                    await asyncio.sleep(failure.wait)
                    continue
                if failure.kind == "user_missing":
                    return MISSING  # never been in the chat
                log.warning(
                    "getChatMember %s/%s: %s: %s", chat_id, user_id, failure.name, failure.message
                )
                return None
            if member.status in _PRESENT:
                return PRESENT
            if member.status == ChatMemberStatus.RESTRICTED:
                return PRESENT if getattr(member, "is_member", False) else MISSING
            return MISSING
        return None

    async def invite_link(self, chat_id: int) -> str | None:
        """An invite link made by the bot, or None if it may not invite (cached per run)."""
        if chat_id not in self._links:
            try:
                link = await self.bot.create_chat_invite_link(chat_id, name="TowerBot")
                self._links[chat_id] = link.invite_link
            except TelegramError as exc:  # not an admin (or no right to invite)
                log.info("no invite link for %s: %s", chat_id, exc)
                self._links[chat_id] = None
        return self._links[chat_id]


#: who administers a chat: may bind it to an org or unbind it
CHAT_ADMINS = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})


async def member_status(bot: Bot, chat_id: int, user_id: int) -> str | None:
    """The person's status in the chat as Telegram tells it now; None if it would not say
    (callers refuse then: an unreadable answer never grants anything)."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        failure = classify(exc)
        log.info("getChatMember %s/%s: %s", chat_id, user_id, failure.name)
        return None
    except (TypeError, ValueError, KeyError) as exc:  # a member object PTB could not read
        log.warning("getChatMember %s/%s unreadable: %r", chat_id, user_id, exc)
        return None
    return str(member.status)
