"""/dashboard: the staff dashboard (Telegram Mini App, bot/web/dashboard.py) for secretaries
and staff. In private a `web_app` button opens it; in a group (where Telegram refuses web_app
buttons) the private-only answer carries a deep link that starts /dashboard in private."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, WebAppInfo
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.dashboard import staff_scope
from handlers.common import actor, add_handlers, deep_link, reply, require_private, tr


def dashboard_url(web_url: str) -> str:
    """The Mini App's public address under TOWERBOT_WEB_URL (bot/web/dashboard.py serves it)."""
    return web_url.rstrip("/") + "/dashboard/"


def open_in_private(context: Context) -> InlineKeyboardMarkup | None:
    """The "打开看板" button for a group message (/stats): a deep link into the private chat,
    where /dashboard answers with the web_app button; None while the dashboard is not set up."""
    if not context.services.settings.web_url or not context.bot.username:
        return None
    button = InlineKeyboardButton(
        tr(context, "dash_btn_open"), url=deep_link(context, "cmd_dashboard")
    )
    return InlineKeyboardMarkup([[button]])


async def dashboard(update: Update, context: Context) -> None:
    """/dashboard (private; secretary or staff somewhere): the button that opens the app."""
    require_private(update)
    await staff_scope(context.services.access, actor(update).user_id)
    web_url = context.services.settings.web_url
    if not web_url:
        await reply(update, context, tr(context, "dash_not_configured"))
        return
    button = InlineKeyboardButton(
        tr(context, "dash_btn_open"), web_app=WebAppInfo(url=dashboard_url(web_url))
    )
    await reply(update, context, tr(context, "dash_open"), InlineKeyboardMarkup([[button]]))


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_help_section("help_dashboard", "secretary")
    add_handlers(app, commands={"dashboard": dashboard})
