"""Group-chat glue for the tower: /setup, /bind, /unbind, /org, /org add, /role, chat lifecycle."""

from __future__ import annotations

from functools import partial

from telegram import Update
from telegram.ext import Application, ChatMemberHandler, MessageHandler, filters

from bot.context import Context, Hooks
from bot.domain import validate
from bot.domain.errors import Refusal
from bot.domain.models import Chat, User
from bot.domain.tower import join_payload
from bot.gateway.probe import CHAT_ADMINS, member_status
from bot.texts import Raw
from handlers.common import (
    actor,
    add_handlers,
    chat_id_of,
    chat_model,
    deep_link,
    display_name,
    message_of,
    reply,
    require_group,
    tr,
)


def _pct(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


async def setup(update: Update, context: Context) -> None:
    """/setup <code> <name>: the root org, bound to this chat (superusers)."""
    require_group(update)
    args = context.args or []
    if len(args) < 2:
        await reply(update, context, tr(context, "usage_setup"))
        return
    org = await context.services.tower.setup(
        actor(update).user_id, chat_model(update), args[0], " ".join(args[1:])
    )
    await reply(update, context, tr(context, "setup_done", org=org.name, code=org.code))


def refuse_anonymous(update: Update) -> None:
    """Refuse a command whose sender Telegram hides.

    An anonymous admin posts as the group itself (`sender_chat`, from GroupAnonymousBot), and
    a channel posts as the channel: neither tells who is behind it, so both are refused with
    a hint to turn anonymity off.
    """
    message = update.effective_message
    user = update.effective_user
    if message is None or message.sender_chat is not None or user is None or user.is_bot:
        raise Refusal("err_bind_anonymous")


async def require_chat_admin(update: Update, context: Context) -> None:
    """Refuse unless the sender administers this chat (as Telegram says now) or is a superuser."""
    user = update.effective_user
    assert user is not None
    if context.services.access.is_superuser(user.id):
        return
    status = await member_status(context.bot, chat_id_of(update), user.id)
    if status not in CHAT_ADMINS:
        raise Refusal("err_need_chat_admin")


async def bind(update: Update, context: Context) -> None:
    """/bind <orgcode> (staff of that org who administers this chat)."""
    require_group(update)
    if context.args is None or len(context.args) != 1:
        await reply(update, context, tr(context, "usage_bind"))
        return
    refuse_anonymous(update)
    org = await context.services.tower.bind(
        actor(update).user_id,
        chat_model(update),
        context.args[0],
        partial(require_chat_admin, update, context),
    )
    await reply(update, context, tr(context, "bind_done", org=org.name, code=org.code))


async def unbind(update: Update, context: Context) -> None:
    """/unbind (staff of the bound org who administers this chat)."""
    require_group(update)
    if context.args:
        await reply(update, context, tr(context, "usage_unbind"))
        return
    refuse_anonymous(update)
    org = await context.services.tower.unbind(
        actor(update).user_id, chat_id_of(update), partial(require_chat_admin, update, context)
    )
    await reply(update, context, tr(context, "unbind_done", org=org.name))


async def org(update: Update, context: Context) -> None:
    """/org shows this org; /org add <code> <name> [kind] creates a child (staff)."""
    require_group(update)
    args = context.args or []
    if args and args[0].lower() == "add":
        await org_add(update, context, args[1:])
        return
    if args:
        await reply(update, context, tr(context, "usage_org_add"))
        return
    view = await context.services.tower.view(chat_id_of(update))
    none = tr(context, "org_none")

    def chat_label(chat: Chat | None) -> str:
        if chat is None:
            return tr(context, "org_no_chat")
        return chat.title + ("" if chat.active else tr(context, "chat_inactive_suffix"))

    children = (
        "\n".join(
            tr(context, "org_child_line", org=kid.name, code=kid.code, chat=chat_label(chat))
            for kid, chat in view.children
        )
        or none
    )

    def names(users: list[User]) -> Raw:
        return Raw("、".join(display_name(u.first_name, u.id) for u in users) or none)

    await reply(
        update,
        context,
        tr(
            context,
            "org_view",
            org=view.org.name,
            code=view.org.code,
            parent=view.parent.name if view.parent else none,
            chat=chat_label(view.chat),
            secretaries=names(view.secretaries),
            staff=names(view.staff),
            members=view.members,
            nchildren=len(view.children),
            children=Raw(children) if view.children else none,
            bound=view.subtree_bound,
            orgs=view.subtree_orgs,
            bound_pct=_pct(view.subtree_bound, view.subtree_orgs),
            staffed=view.subtree_staffed,
            staffed_pct=_pct(view.subtree_staffed, view.subtree_orgs),
            link=deep_link(context, join_payload(view.org.code)),
        ),
    )
    for hook in context.hooks.org_hooks:
        await hook(update, context, view)


async def org_add(update: Update, context: Context, args: list[str]) -> None:
    if len(args) < 2:
        await reply(update, context, tr(context, "usage_org_add"))
        return
    code, rest = args[0], args[1:]
    kind = None
    if len(rest) >= 2 and rest[-1].isascii() and rest[-1].isalpha() and rest[-1].islower():
        kind = rest.pop()
    child = await context.services.tower.add_child(
        actor(update).user_id, chat_id_of(update), code, " ".join(rest), kind
    )
    parent = await context.services.tower.org_of_chat(chat_id_of(update))
    await reply(
        update,
        context,
        tr(
            context,
            "org_add_done",
            org=child.name,
            code=child.code,
            parent=parent.name,
            link=deep_link(context, join_payload(child.code)),
        ),
    )


async def role(update: Update, context: Context) -> None:
    """/role secretary|staff|member, replying to the person or naming @username (staff)."""
    require_group(update)
    args = context.args or []
    message = message_of(update)
    replied = message.reply_to_message
    target_user = replied.from_user if replied and replied.from_user else None
    if len(args) == 2 and args[1].startswith("@") and target_user is None:
        target = await context.services.tower.find_user(args[1])
        target_id, target_name = target.id, target.first_name
    elif len(args) == 1 and target_user is not None and not target_user.is_bot:
        target_id, target_name = target_user.id, target_user.first_name
    else:
        await reply(update, context, tr(context, "usage_role"))
        return
    word = args[0].lower()
    if word not in validate.ROLE_WORDS:
        raise Refusal("err_bad_role")
    org_, _ = await context.services.tower.assign_role(
        actor(update).user_id, chat_id_of(update), target_id, word
    )
    name = Raw(display_name(target_name, target_id))
    if word == "member":
        await reply(update, context, tr(context, "role_removed", user=name, org=org_.name))
    else:
        await reply(
            update,
            context,
            tr(context, "role_done", user=name, org=org_.name, role=tr(context, "role_" + word)),
        )


async def bot_membership(update: Update, context: Context) -> None:
    """my_chat_member: keep the chat table true when the bot is added, promoted or removed."""
    change = update.my_chat_member
    assert change is not None  # registered for MY_CHAT_MEMBER updates only
    if change.chat.type not in ("group", "supergroup"):
        return  # a private chat: blocking is learnt from 403s by the sender
    await context.services.tower.bot_status(chat_model(update), change.new_chat_member.status)


async def migration(update: Update, context: Context) -> None:
    """Group → supergroup: move every stored reference to the new id."""
    message = message_of(update)
    if message.migrate_to_chat_id:
        await context.services.tower.migrated(message.chat.id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await context.services.tower.migrated(message.migrate_from_chat_id, message.chat.id)


async def title(update: Update, context: Context) -> None:
    """A chat's new title."""
    new_title = message_of(update).new_chat_title
    assert new_title is not None  # registered with filters.StatusUpdate.NEW_CHAT_TITLE
    await context.services.tower.retitled(chat_id_of(update), new_title)


async def forget_hook(context: Context, user_id: int) -> None:
    """/forgetme: drop the usernames seen for the account."""
    await context.services.tower.forget_usernames(user_id)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_forget_hook(forget_hook)
    add_handlers(
        app, commands={"setup": setup, "bind": bind, "unbind": unbind, "org": org, "role": role}
    )
    app.add_handler(ChatMemberHandler(bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migration))
    app.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_TITLE, title))
