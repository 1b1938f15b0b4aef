"""`towerbot demo`: the Bot API emulator on loopback, the real bot polling it, a scripted day.

Everything the people type and everything the bot sends is printed as a transcript.
script.py holds the Script that acts and prints, scenes.py and activity.py the scripted day,
worlds.py the synthetic worlds and wiring the demo shares with the tests and bench/.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pydantic import SecretStr

from bot.app import build_application
from bot.demo import dashboard, scenes
from bot.demo.script import Script
from bot.demo.worlds import SUPERUSER, polling
from bot.domain.clock import FakeClock
from bot.emulator import Emulator
from bot.settings import Settings

__all__ = ["play"]


async def play(
    settings: Settings, lang: str = "zh", out: Path = Path("demo-out"), serve: bool = False
) -> int:
    """Run the scripted day; returns the exit status."""
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # a clock the script moves forward: days of reminders play out in seconds
    clock = FakeClock()
    em = Emulator(per_chat_burst=30, clock=clock.time)
    url = await em.serve()
    cfg = Settings(
        _env_file=None,
        token=SecretStr(em.token),
        db=str(out / "demo.sqlite3"),
        api_base_url=url + "/bot",
        superusers=[SUPERUSER],
        language="en" if lang == "en" else "zh",
        overdue_days=2,
        # a small demo district counts stars from 10 h so that one is reached today
        star_thresholds=[10, 30, 60, 100, 150],
        flood_limit=1000,  # the script types faster than any person
    )
    app = build_application(cfg, clock=clock)
    try:
        async with polling(app):
            script = Script(em, app, lang, out, clock)
            print(script.n("demo_title"))
            await scenes.run(script)
            await dashboard.show(app, lang, out, clock.time(), serve)  # the Mini App, on loopback
    finally:
        await em.close()
    print("\n" + script.n("demo_done", seconds=f"{time.monotonic() - started:.1f}", db=cfg.db))
    return 0
