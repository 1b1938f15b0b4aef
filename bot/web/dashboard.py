"""The staff dashboard, a Telegram Mini App: the page under `/dashboard/` and its JSON API.

Every API request carries either Telegram's `initData` (``Authorization: tma <initData>``,
checked as Telegram documents: bot/web/initdata.py) or the short-lived token a valid initData
was exchanged for (``Authorization: Bearer <token>``); nothing is answered without one. No
cookies. The data come from the dashboard service (bot/domain/dashboard.py), which checks the
person's role on every read; this module only turns requests into calls and answers into JSON.

    POST /dashboard/api/session   initData → token, language, the page's words
    POST /dashboard/api/renew     token → a fresh token (the page renews while it is open)
    GET  /dashboard/api/tree      the tower the person may see, each org with its colour
    GET  /dashboard/api/org/{id}  figures, charts' data, campaigns, open items of one subtree
    POST /dashboard/api/export    {"org_id", "kind"}: the .xlsx goes to the private chat
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from telegram.ext import Application

from bot.context import Services, services_of
from bot.domain.dashboard import Dashboard
from bot.domain.errors import Refusal
from bot.domain.service import Core
from bot.texts import CATALOGUES, DEFAULT_LANG, t
from bot.web import initdata

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
PAGE_KEYS = "dash_p_"
#: seconds before the same export of the same org may be asked for again (a double tap)
EXPORT_COOLDOWN = 30.0
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: the page loads its own files and Telegram's telegram-web-app.js, and talks only to us
CSP = (
    "default-src 'self'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'"
)


def page_texts(lang: str) -> dict[str, str]:
    """The page's words in `lang` (templates: the page fills in `{n}`, `{org}` as text)."""
    catalogue = CATALOGUES.get(lang, CATALOGUES[DEFAULT_LANG])
    return {k[len(PAGE_KEYS) :]: v for k, v in catalogue.items() if k.startswith(PAGE_KEYS)}


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=_HEADERS)


def _denied(why: str) -> JSONResponse:
    return _json({"error": "auth", "why": why}, 401)


class DashboardApi:
    """The endpoints; services are looked up per request (they exist once the bot started)."""

    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.app = app
        self._dashboard: Dashboard | None = None
        self._exports: dict[tuple[int, int, str], float] = {}

    @property
    def services(self) -> Services:
        return services_of(self.app)

    @property
    def dashboard(self) -> Dashboard:
        if self._dashboard is None:
            s = self.services
            core = Core(s.db, s.access, s.outbox, s.reminders, s.clock, s.settings)
            self._dashboard = Dashboard(core, s.stats)
        return self._dashboard

    @property
    def bot_token(self) -> str:
        return str(self.app.bot.token)

    def _now(self) -> float:
        return self.services.clock.time()

    def _issue(self, who: initdata.Token) -> str:
        return initdata.issue(
            self.bot_token, who.user_id, who.lang, now=self._now(), since=who.since
        )

    async def _user(self, request: Request) -> initdata.Token:
        """Who sent the request, by its initData or token; NotAuthentic otherwise."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer":
            return initdata.check(credentials, self.bot_token, now=self._now())
        if scheme == "tma":
            user = initdata.validate(
                credentials,
                self.bot_token,
                now=self._now(),
                max_age=self.services.settings.web_auth_max_age.total_seconds(),
            )
            lang = await self.services.people.lang(user.user_id, user.language_code)
            return initdata.Token(user_id=user.user_id, lang=lang, since=user.auth_date)
        raise initdata.NotAuthentic("no Authorization header")

    async def _call(self, request: Request, act: Any) -> Response:
        """Authenticate, run `act(token)`, answer its JSON; refusals become 403."""
        try:
            who = await self._user(request)
        except initdata.NotAuthentic as exc:
            log.info("dashboard: refused a request: %s", exc)
            return _denied(str(exc))
        try:
            return _json(await act(who))
        except Refusal as refusal:
            return _json(
                {"error": refusal.key, "message": str(t(who.lang, refusal.key, **refusal.values))},
                403,
            )

    async def session(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("tma "):
            return _denied("a session starts from initData")

        async def act(who: initdata.Token) -> dict[str, Any]:
            await self.dashboard.scope(who.user_id)  # refuses people without a role
            return {
                "token": self._issue(who),
                "expires_in": initdata.TOKEN_TTL,
                "lang": who.lang,
                "bot": self.app.bot.username,
                "texts": page_texts(who.lang),
            }

        return await self._call(request, act)

    async def renew(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _denied("renew takes a token")

        async def act(who: initdata.Token) -> dict[str, Any]:
            await self.dashboard.scope(who.user_id)
            return {"token": self._issue(who), "expires_in": initdata.TOKEN_TTL}

        return await self._call(request, act)

    async def tree(self, request: Request) -> Response:
        async def act(who: initdata.Token) -> dict[str, Any]:
            rows = await self.dashboard.tree(who.user_id)
            return {"rows": [r.model_dump() for r in rows]}

        return await self._call(request, act)

    async def org(self, request: Request) -> Response:
        raw = request.path_params["org_id"]

        async def act(who: initdata.Token) -> dict[str, Any]:
            return (await self.dashboard.detail(who.user_id, raw)).model_dump()

        return await self._call(request, act)

    async def export(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            org_id, kind = int(body["org_id"]), str(body["kind"])
        except (ValueError, KeyError, TypeError):
            body = None
        if body is None or kind not in ("members", "activities"):
            return _json({"error": "bad_request"}, 400)

        async def act(who: initdata.Token) -> dict[str, Any]:
            key = (who.user_id, org_id, kind)
            now = time.monotonic()
            if now - self._exports.get(key, -EXPORT_COOLDOWN) < EXPORT_COOLDOWN:
                return {"ok": True, "repeated": True}  # a double tap sends one file
            await self.dashboard.send_export(who.user_id, org_id, kind, who.lang)  # type: ignore[arg-type]
            if len(self._exports) > 10_000:  # forget old taps
                self._exports = {
                    k: at for k, at in self._exports.items() if now - at < EXPORT_COOLDOWN
                }
            self._exports[key] = now
            return {"ok": True}

        return await self._call(request, act)

    async def page(self, request: Request) -> Response:
        return FileResponse(
            STATIC / "index.html",
            headers={**_HEADERS, "Cache-Control": "no-cache", "Content-Security-Policy": CSP},
        )


def dashboard_routes(app: Application[Any, Any, Any, Any, Any, Any]) -> list[BaseRoute]:
    """The Mini App's routes, mounted at /dashboard."""
    api = DashboardApi(app)
    return [
        Mount(
            "/dashboard",
            routes=[
                Route("/", api.page, methods=["GET"], name="dashboard"),
                Route("/api/session", api.session, methods=["POST"]),
                Route("/api/renew", api.renew, methods=["POST"]),
                Route("/api/tree", api.tree, methods=["GET"]),
                Route("/api/org/{org_id:int}", api.org, methods=["GET"]),
                Route("/api/export", api.export, methods=["POST"]),
                Mount("/static", StaticFiles(directory=STATIC), name="dashboard_static"),
            ],
        )
    ]
