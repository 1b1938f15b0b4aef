"""Answers for everything no feature expects: free text, stray media, unknown or mistyped
commands (private), and the "what I can do" buttons and `cmd_` deep links that start a path."""

from __future__ import annotations

import difflib
import re

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import Context, Hooks
from bot.domain.errors import Refusal
from bot.texts import CATALOGUES, DEFAULT_LANG, Raw
from handlers.common import (
    GROUPS,
    actor,
    is_private,
    keyboard,
    message_of,
    query_of,
    reply,
    tr,
)

#: the "what I can do" buttons: guide:<action>
GUIDE_DATA = re.compile(r"^guide:")
_GUIDE = re.compile(r"^guide:(register|hours|me|activities)$")
ACTIONS = ("register", "hours", "me", "activities")
#: commands a `cmd_<name>` deep link (the group's "open a private chat" button) may start
LINKABLE = frozenset(
    {
        "start",
        "register",
        "me",
        "hours",
        "myhours",
        "mydata",
        "forgetme",
        "lang",
        "submit",
        "cancel",
        "help",
        "auditlog",
        "audit",
        "dashboard",
        "pending",
    }
)
#: a message kind (PTB attribute) → the one line that says what it is for here
MEDIA = (
    ("photo", "photo"),
    ("sticker", "sticker"),
    ("voice", "voice"),
    ("audio", "voice"),
    ("video", "video"),
    ("video_note", "video"),
    ("animation", "video"),
    ("document", "document"),
    ("venue", "location"),
    ("location", "location"),
    ("contact", "contact"),
    ("poll", "poll"),
    ("dice", "poll"),
    ("game", "poll"),
)
#: at most this much of an unknown command is echoed back
ECHO = 32


def guide_data(action: str) -> str:
    """A "what I can do" button."""
    if action not in ACTIONS:
        raise ValueError(action)
    return f"guide:{action}"


def parse_guide_data(data: str | None) -> str:
    """The action of a "what I can do" button; a forged one is refused."""
    match = _GUIDE.match(data or "")
    if match is None:
        raise Refusal("err_stale_button")
    return match.group(1)


def commands_of(app: Application) -> dict[str, CommandHandler]:
    """Every registered command name → its handler."""
    found: dict[str, CommandHandler] = {}
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                for name in handler.commands:
                    found.setdefault(name, handler)
    return found


async def what_i_can_do(update: Update, context: Context, head: str = "") -> None:
    """The short "what I can do" with the top actions as buttons (register first if new)."""
    registered = await context.services.people.person(actor(update).user_id) is not None
    actions = ["hours", "me", "activities"] if registered else ["register", "activities"]
    rows = [[(tr(context, f"guide_btn_{a}"), guide_data(a)) for a in actions]]
    text = tr(context, "guide_what")
    await reply(update, context, Raw(f"{head}\n{text}" if head else text), keyboard(rows))


async def idle_input(update: Update, context: Context) -> None:
    """A private message outside any guided flow: say what it can be used for."""
    kind = _media_kind(update.effective_message)
    if kind is None:
        await what_i_can_do(update, context)
    else:
        await reply(update, context, tr(context, f"guide_media_{kind}"))


async def media_input(update: Update, context: Context) -> None:
    """A private message of a kind no flow reads (sticker, voice, photo, poll ...)."""
    if await context.services.people.flow_name(actor(update).user_id):
        await reply(update, context, tr(context, "guide_in_flow"))
        return
    await idle_input(update, context)


async def unknown_command(update: Update, context: Context) -> None:
    """A command nobody handles: the nearest registered one, else the general help."""
    message = message_of(update)
    typed, target = _command_of(message)
    ours = bool(target) and target.lower() == (context.bot.username or "").lower()
    if message.chat.type in GROUPS and not ours:
        return  # other bots' commands are none of our business: only those addressed to us
    names = sorted(commands_of(context.application))
    close = difflib.get_close_matches(typed.lower(), names, n=1, cutoff=0.6)
    shown = typed[:ECHO] + ("…" if len(typed) > ECHO else "")
    if close:
        name = close[0]
        key = f"menu_{name}"
        what = tr(context, key) if key in CATALOGUES[DEFAULT_LANG] else ""
        await reply(
            update, context, tr(context, "guide_did_you_mean", typed=shown, command=name, what=what)
        )
        return
    head = tr(context, "guide_unknown_command", typed=shown)
    if is_private(update):
        await what_i_can_do(update, context, head)
    else:
        await reply(update, context, Raw(head + "\n" + tr(context, "guide_what")))


async def run_command(update: Update, context: Context, name: str) -> None:
    """Start the path of command `name` as if the person had sent it without arguments."""
    if name == "hours":  # /hours reads its arguments from the message: show how instead
        await reply(update, context, tr(context, "guide_hours_how"))
        return
    if name == "activities":  # activities live in the org's group chats
        await reply(update, context, tr(context, "guide_activities_how"))
        return
    handler = commands_of(context.application).get(name)
    if handler is None:
        await what_i_can_do(update, context)
        return
    context.args = []
    await handler.callback(update, context)


async def guide_button(update: Update, context: Context) -> None:
    """A "what I can do" button: start that path (in the presser's private chat only)."""
    query = query_of(update)
    action = parse_guide_data(query.data)
    if (
        not is_private(update)
        or query.message is None
        or query.message.chat.id != actor(update).user_id
    ):
        raise Refusal("err_stale_button")
    await query.answer()
    await run_command(update, context, action)


async def cmd_link(update: Update, context: Context, rest: str) -> None:
    """`/start cmd_<name>`: the group's "open a private chat" button lands here."""
    name = rest.lower()
    if name not in LINKABLE:
        await what_i_can_do(update, context)
        return
    await run_command(update, context, name)


def _command_of(message: Message) -> tuple[str, str]:
    """(command without the slash, the @bot it is addressed to or '')."""
    first = (message.text or message.caption or "").split(maxsplit=1)
    word = first[0][1:] if first else ""
    name, _, target = word.partition("@")
    return name, target


def _media_kind(message: Message | None) -> str | None:
    """Which `guide_media_*` line fits the message; None for plain text."""
    if message is None:
        return None
    for attr, kind in MEDIA:
        if getattr(message, attr, None):
            return kind
    return None if message.text else "other"


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.set_idle(idle_input)
    hooks.add_deep_link("cmd", cmd_link)
    app.add_handler(CallbackQueryHandler(guide_button, pattern=GUIDE_DATA))


def register_last(app: Application) -> None:
    """After every feature and the flows' fallback: stray media, then unknown commands."""
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.ChatType.PRIVATE
            & ~filters.COMMAND
            & ~filters.StatusUpdate.ALL,
            media_input,
        )
    )
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, unknown_command))
