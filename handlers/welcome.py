"""Newcomers of a bound group: one short welcome with a button that starts registration."""

from __future__ import annotations

from telegram import Update, User
from telegram.constants import ChatMemberStatus
from telegram.ext import Application, ChatMemberHandler, MessageHandler, filters

from bot.context import Context, Hooks
from handlers.common import GROUPS, message_of

#: statuses of someone inside a chat (a restricted member is still in it)
INSIDE = (
    ChatMemberStatus.MEMBER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.OWNER,
    ChatMemberStatus.RESTRICTED,
)


def _people(users: list[User]) -> list[tuple[int, str]]:
    """(id, first name) of the humans among `users` (bots joining are not welcomed)."""
    return [(u.id, u.first_name or "") for u in users if not u.is_bot]


async def member_joined(update: Update, context: Context) -> None:
    """chat_member: someone who was not in the group now is."""
    change = update.chat_member
    assert change is not None  # registered for CHAT_MEMBER updates only
    if change.chat.type not in GROUPS:
        return
    was = change.old_chat_member.status in INSIDE and getattr(
        change.old_chat_member, "is_member", True
    )
    now = change.new_chat_member.status in INSIDE and getattr(
        change.new_chat_member, "is_member", True
    )
    if was or not now:
        return
    newcomers = _people([change.new_chat_member.user])
    if newcomers:
        await context.services.welcomes.arrived(change.chat.id, newcomers)


async def members_message(update: Update, context: Context) -> None:
    """The new_chat_members service message (what a non-admin bot sees of a join)."""
    message = message_of(update)
    newcomers = _people(list(message.new_chat_members or ()))
    if newcomers:
        await context.services.welcomes.arrived(message.chat.id, newcomers)


def register_handlers(app: Application, hooks: Hooks) -> None:
    app.add_handler(ChatMemberHandler(member_joined, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, members_message))
