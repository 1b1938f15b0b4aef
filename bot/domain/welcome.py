"""Welcoming newcomers to a bound group: one short message per chat per window, names together.

The first newcomer of a quiet chat is welcomed at once; people who join within
`settings.welcome_window` seconds after that wait for one "welcome" reminder at the window's end
and are listed together. Welcomes go through the outbox as ordinary (not urgent) group messages,
so they count against the chat's daily budget. Only display names (first names) are shown.
Waiting names are kept in memory: after a restart the reminder finds none and sends nothing.
"""

from __future__ import annotations

from typing import Any

from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.models_reminders import Reminder
from bot.domain.service import Core, ServiceBase
from bot.domain.tower import join_payload
from bot.texts import Raw, mention, t
from storage.db import Conn

KIND = "welcome"
MAX_NAMES = 20


class Welcomes(ServiceBase):
    """Who joined which bound group lately, and the one welcome per window that greets them."""

    def __init__(
        self,
        core: Core,
    ) -> None:
        super().__init__(core)
        #: the bot's username, for the registration deep link (set at start-up)
        self.bot_username = ""
        self._last: dict[int, float] = {}
        self._waiting: dict[int, dict[int, str]] = {}
        self._welcomed: dict[tuple[int, int], float] = {}
        self.reminders.on(KIND, self._flush)

    async def arrived(self, chat_id: int, newcomers: list[tuple[int, str]]) -> bool:
        """People (user id, first name) joined `chat_id`; True if a welcome was queued now."""
        try:
            org = await self.access.org_of_chat(chat_id)
        except Refusal:
            return False  # not a bound chat: nothing to register into
        now = self.clock.time()
        window = self.settings.welcome_window
        self._forget_old(now)
        fresh = [(uid, name) for uid, name in newcomers if (chat_id, uid) not in self._welcomed]
        if not fresh:
            return False  # chat_member and new_chat_members both report the same join
        for uid, _name in fresh:
            self._welcomed[(chat_id, uid)] = now
        self._waiting.setdefault(chat_id, {}).update(fresh)
        last = self._last.get(chat_id)
        async with self.db.transaction() as tx:
            if last is None or now - last >= window:
                return await self._send(tx, chat_id, org)
            due = last + window
            await self.reminders.add(tx, KIND, chat_id, str(int(due)), due)
        return False

    async def _flush(self, conn: Conn, reminder: Reminder) -> None:
        """Reminder "welcome": greet everyone who joined during the window."""
        chat_id = reminder.ref_id
        if not self._waiting.get(chat_id):
            return
        try:
            org = await self.access.org_of_chat(chat_id)
        except Refusal:
            self._waiting.pop(chat_id, None)
            return
        await self._send(conn, chat_id, org)

    async def _send(self, conn: Conn, chat_id: int, org: Org) -> bool:
        waiting = self._waiting.pop(chat_id, {})
        if not waiting:
            return False
        now = self.clock.time()
        self._last[chat_id] = now
        lang = self.settings.language
        shown = list(waiting.items())[:MAX_NAMES]
        names = "、".join(mention(uid, name) for uid, name in shown)
        more = len(waiting) - len(shown)
        text = t(
            lang,
            "welcome_group",
            names=Raw(names),
            org=org.name,
            more=Raw(t(lang, "welcome_more", n=more) if more > 0 else ""),
        )
        markup: dict[str, Any] = {
            "inline_keyboard": [
                [
                    {
                        "text": t(lang, "welcome_btn"),
                        "url": f"https://t.me/{self.bot_username}?start={join_payload(org.code)}",
                    }
                ]
            ]
        }
        queued = await self.outbox.add(
            conn,
            chat_id,
            text,
            reply_markup=markup,
            ref=f"welcome:{chat_id}",
            dedupe_key=f"welcome:{chat_id}:{int(now)}",
        )
        return queued is not None

    def _forget_old(self, now: float) -> None:
        """Drop join records older than the window (they may be welcomed again)."""
        window = max(self.settings.welcome_window, 60.0)
        for key in [k for k, at in self._welcomed.items() if now - at >= window]:
            del self._welcomed[key]
