"""`towerbot run`: polling with every update type, or PTB's webhook server."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.cli.common import CliError, open_db
from bot.settings import Settings


def run(settings: Settings) -> int:
    """Polling with every update type, or PTB's webhook server when a webhook URL is set."""
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

    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        app.run_webhook(
            listen=settings.webhook_listen, port=settings.webhook_port,
            url_path=(settings.webhook_url.split("/", 3)[3]
                      if settings.webhook_url.count("/") >= 3 else ""),
            webhook_url=settings.webhook_url, secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
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
