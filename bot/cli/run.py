"""`towerbot run`: polling with every update type, or our webhook server (bot/web)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.cli.common import CliError, open_db
from bot.settings import Settings

log = logging.getLogger("towerbot.run")


def run(settings: Settings) -> int:
    """Polling with every update type, or our webhook server (bot/web) when a URL is set."""
    from bot.app import build_application
    from storage.db import DatabaseLocked

    if settings.token is None:
        raise CliError("TOWERBOT_TOKEN is missing: set it to the token BotFather gave you")
    # a database another program holds locked stops the start here, in one line
    asyncio.run(_check_writable(settings))
    app = build_application(settings)
    try:
        _serve(app, settings)
    except DatabaseLocked as exc:  # locked again between the check and the start-up
        raise CliError(str(exc)) from None
    return 0


def _serve(app: Any, settings: Settings) -> None:
    from telegram import Update

    if settings.webhook_url:  # our own server: secret required, updates kept in the inbox
        from bot.web import ServeError, serve

        try:
            asyncio.run(serve(app, settings))
        except ServeError as exc:
            raise CliError(str(exc)) from None
    else:
        log.info("polling mode: getUpdates with every update type")
        if settings.web_url:  # the Mini App (dashboard) needs the web server alone
            from bot.web import ServeError
            from bot.web.dashboard_serve import attach

            try:
                attach(app, settings)
            except ServeError as exc:
                raise CliError(str(exc)) from None
        app.run_polling(allowed_updates=Update.ALL_TYPES)


async def _check_writable(settings: Settings) -> None:
    """Open (and migrate) the database and take its write lock once."""
    from storage.db import DatabaseLocked

    db = await open_db(settings)
    try:
        async with db.transaction():
            pass
    except DatabaseLocked as exc:
        raise CliError(str(exc)) from None
    finally:
        await db.close()
