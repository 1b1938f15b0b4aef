"""Coverage audit: which registered members of an org are not in its bound chat.

The Bot API cannot list a group's members, so each registered member is looked up with one
`getChatMember` call, paced (at most `rate` calls a second). The Telegram side is a `Probe`
handed in by the caller (`schedules/audit.py`), so this module stays free of Telegram. The last
result per person and chat is recorded (`chat_presence`): `/stats` member coverage reads it.
The secretary gets the list privately (real names are allowed there) with the chat's invite
link, or how to make the bot an admin so that it can make one.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from pydantic import BaseModel

from bot.domain.models import Org
from bot.domain.service import Core, ServiceBase
from bot.texts import Raw, t
from storage import announcements as repo
from storage import chats as chat_repo
from storage import orgs as org_repo
from storage import users as user_repo

log = logging.getLogger(__name__)

PRESENT, MISSING = "present", "missing"
RATE = 20.0  # getChatMember calls per second


class Probe(Protocol):
    async def status(self, chat_id: int, user_id: int) -> str | None:
        """'present', 'missing', or None when Telegram could not tell."""

    async def invite_link(self, chat_id: int) -> str | None:
        """A link to join the chat, or None when the bot is not allowed to make one."""


class Missing(BaseModel):
    user_id: int
    real_name: str
    first_name: str = ""
    username: str | None = None


class AuditResult(BaseModel):
    chat_id: int
    title: str
    org: Org
    checked: int = 0
    present: int = 0
    unknown: int = 0
    missing: list[Missing] = []
    newly_missing: int = 0
    invite_link: str | None = None


class Audit(ServiceBase):
    """Runs the coverage audit for one chat, a subtree, or the whole tower."""

    def __init__(
        self, core: Core, lang_of: Callable[[int | None], Awaitable[str]], rate: float = RATE
    ) -> None:
        super().__init__(core)
        self.lang_of = lang_of
        self.interval = 1.0 / rate
        self._next_call = 0.0

    async def _pace(self) -> None:
        now = time.monotonic()
        if self._next_call > now:
            await asyncio.sleep(self._next_call - now)
        self._next_call = max(now, self._next_call) + self.interval

    async def require(self, user_id: int, chat_id: int) -> Org:
        """The chat's org, if the person is its secretary or staff."""
        org = await self.access.org_of_chat(chat_id)
        await self.access.require(user_id, org, "secretary")
        return org

    async def audit_chat(self, chat_id: int, probe: Probe) -> AuditResult | None:
        """Look up every registered member of the chat's org; record and return the result."""
        r = self.db.reader
        chat = await chat_repo.get(r, chat_id)
        if chat is None or not chat.active or chat.org_id is None:
            return None
        org = await org_repo.get(r, chat.org_id)
        assert org is not None
        people = await user_repo.people_in(r, [org.id])
        before = await repo.presence(r, chat_id)
        result = AuditResult(chat_id=chat_id, title=chat.title, org=org)
        found: list[tuple[int, str]] = []
        for person in people:
            await self._pace()
            status = await probe.status(chat_id, person.user_id)
            result.checked += 1
            if status is None:
                result.unknown += 1
                continue
            found.append((person.user_id, status))
            if status == PRESENT:
                result.present += 1
                continue
            user = await user_repo.get_user(r, person.user_id)
            result.missing.append(
                Missing(
                    user_id=person.user_id,
                    real_name=person.real_name,
                    first_name=user.first_name if user else "",
                    username=user.username if user else None,
                )
            )
            if before.get(person.user_id) != MISSING:
                result.newly_missing += 1
        async with self.db.transaction() as tx:
            await repo.set_presence(tx, chat_id, found, self.clock.time())
        if result.missing:
            result.invite_link = await probe.invite_link(chat_id)
        return result

    async def on_demand(self, user_id: int, chat_id: int, probe: Probe) -> AuditResult | None:
        """From /org: audit this chat and send the result privately to the person who asked."""
        await self.require(user_id, chat_id)
        result = await self.audit_chat(chat_id, probe)
        if result is not None:
            await self.report(result, [user_id], always=True)
        return result

    async def nightly(self, probe: Probe) -> list[AuditResult]:
        """Every active bound chat; secretaries hear only when someone is newly missing."""
        root = await org_repo.root(self.db.reader)
        if root is None:
            return []
        results = []
        for chat_id, _ in await repo.active_chats_in(self.db.reader, root.path):
            try:
                result = await self.audit_chat(chat_id, probe)
            except Exception:  # one chat's trouble must not stop the night's audit
                log.exception("coverage audit of chat %s failed", chat_id)
                continue
            if result is None:
                continue
            results.append(result)
            if result.newly_missing:
                await self.report(result, await self.recipients(result.org))
        return results

    async def recipients(self, org: Org) -> list[int]:
        """The org's secretaries, else its staff."""
        r = self.db.reader
        for role in ("secretary", "staff"):
            holders = [g.user_id for g in await user_repo.holders(r, [org.id], role)]
            if holders:
                return holders
        return []

    async def report(self, result: AuditResult, to: list[int], always: bool = False) -> None:
        """Queue the private report for each recipient (in their language)."""
        if not to or (not result.missing and not always):
            return
        day = self.clock.now().date().isoformat()
        async with self.db.transaction() as tx:
            for user_id in to:
                lang = await self.lang_of(user_id)
                await self.outbox.add(
                    tx,
                    user_id,
                    render(lang, result),
                    ref=f"audit:{result.chat_id}",
                    dedupe_key=None if always else f"audit:{result.chat_id}:{user_id}:{day}",
                    extra={"disable_preview": True},
                )


def render(lang: str, result: AuditResult) -> str:
    """The private report: real names are fine here (never in a group)."""
    # what both reports say of the chat
    head = {
        "title": result.title,
        "org": result.org.name,
        "checked": result.checked,
        "unknown": result.unknown,
    }
    if not result.missing:
        return t(lang, "audit_all_present", **head)
    lines = []
    for m in result.missing[:100]:
        handle = f" @{html.escape(m.username)}" if m.username else ""
        lines.append(f"• {html.escape(m.real_name)}（{html.escape(m.first_name)}{handle}）")
    if len(result.missing) > 100:
        lines.append(t(lang, "audit_more", n=len(result.missing) - 100))
    link = (
        t(lang, "audit_link", link=result.invite_link)
        if result.invite_link
        else t(lang, "audit_no_admin")
    )
    return t(
        lang,
        "audit_report",
        **head,
        n=len(result.missing),
        names=Raw("\n".join(lines)),
        link=Raw(link),
    )
