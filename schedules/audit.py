"""The nightly coverage audit (03:00 local) and the Telegram side of the audit (`BotProbe`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import time, timedelta

from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes

from bot.context import services_of
from bot.domain.audit import MISSING, PRESENT

log = logging.getLogger(__name__)
JOB_NAME = "audit:nightly"
AT = time(3, 0)
_PRESENT = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}


class BotProbe:
    """getChatMember and createChatInviteLink for `bot.domain.audit` (one per run)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._links: dict[int, str | None] = {}

    async def status(self, chat_id: int, user_id: int) -> str | None:
        for _ in range(3):
            try:
                member = await self.bot.get_chat_member(chat_id, user_id)
            except RetryAfter as exc:
                wait = exc.retry_after
                await asyncio.sleep(wait.total_seconds() if isinstance(wait, timedelta) else wait)
                continue
            except BadRequest as exc:
                if "user not found" in exc.message.lower() or "participant" in exc.message.lower():
                    return MISSING  # never been in the chat
                log.warning("getChatMember %s/%s: %s", chat_id, user_id, exc.message)
                return None
            except TelegramError as exc:
                log.warning("getChatMember %s/%s: %r", chat_id, user_id, exc)
                return None
            if member.status in _PRESENT:
                return PRESENT
            if member.status == ChatMemberStatus.RESTRICTED:
                return PRESENT if getattr(member, "is_member", False) else MISSING
            return MISSING
        return None

    async def invite_link(self, chat_id: int) -> str | None:
        if chat_id not in self._links:
            try:
                link = await self.bot.create_chat_invite_link(chat_id, name="TowerBot")
                self._links[chat_id] = link.invite_link
            except TelegramError as exc:  # not an admin (or no right to invite)
                log.info("no invite link for %s: %s", chat_id, exc)
                self._links[chat_id] = None
        return self._links[chat_id]


async def nightly(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Audit every bound chat; secretaries hear of newly missing members privately."""
    services = services_of(context.application)
    results = await services.audit.nightly(BotProbe(context.bot))
    log.info("coverage audit: %s chats, %s missing", len(results),
             sum(len(r.missing) for r in results))


async def restore(app: Application) -> None:
    """Register the daily job (stable name, local time)."""
    tz = services_of(app).settings.tz
    for job in app.job_queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    app.job_queue.run_daily(nightly, time=AT.replace(tzinfo=tz), name=JOB_NAME,
                            job_kwargs={"misfire_grace_time": 3600, "coalesce": True})
