"""The bot's own small web server (Starlette on uvicorn): the Telegram webhook and /healthz.

`serve(app, settings)` runs webhook mode; `server.build_web_app` takes a route list that later
features (a Mini App) extend.
"""

from __future__ import annotations

from bot.web.serve import ServeError, serve

__all__ = ["ServeError", "serve"]
