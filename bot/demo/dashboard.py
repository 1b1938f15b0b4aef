"""The demo's last scene: the staff dashboard (Mini App) served on loopback, a signed link
for the demo's staff member, and, where Chromium is installed, a screenshot in demo-out/."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.demo.worlds import SUPERUSER
from bot.texts import Raw, t
from bot.web import initdata
from bot.web.dashboard_serve import WebServer
from bot.web.serve import bind

#: seconds of (virtual) time headless Chromium gives the page to fetch and draw
RENDER_BUDGET_MS = 15000


def signed_url(base: str, token: str, user: dict[str, Any], auth_date: int) -> str:
    """The page's URL with initData in the fragment, as Telegram's clients open a Mini App."""
    data = initdata.sign(user, token, auth_date=auth_date)
    return f"{base}#tgWebAppData={quote(data, safe='')}"


async def screenshot(url: str, path: Path) -> bool:
    """A 360 px wide picture of the page by headless Chromium (False: none installed)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return False
    proc = await asyncio.create_subprocess_exec(
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP telegram.org ~NOTFOUND",  # offline: the page copes
        "--window-size=360,1800",
        f"--virtual-time-budget={RENDER_BUDGET_MS}",
        f"--screenshot={path}",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(proc.wait(), 60)
    except TimeoutError:
        proc.kill()
        return False
    return path.exists()


async def show(app: Any, lang: str, out: Path, now: float, serve: bool = False) -> None:
    """Serve the dashboard on a loopback port, print the signed link, take the screenshot;
    `serve`: go on serving until Ctrl-C (`towerbot demo --serve`)."""
    sock = bind("127.0.0.1", 0)
    web = WebServer(app, sock)
    await web.start()
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}/dashboard/"
        user = {"id": SUPERUSER, "first_name": "晓明", "language_code": lang}
        url = signed_url(base, app.bot.token, user, int(now))
        print("\n" + t(lang, "demo_dash_link", url=Raw(url)))
        picture = out / "dashboard.png"
        if await screenshot(url, picture):
            print(t(lang, "demo_dash_screenshot", path=str(picture)))
        else:
            print(t(lang, "demo_dash_no_chromium"))
        if serve:
            print(t(lang, "demo_dash_serving"))
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()  # until Ctrl-C
    finally:
        await web.stop()
