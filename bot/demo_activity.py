"""Demo scene for activities (filled in once the activities feature lands)."""

from __future__ import annotations

from typing import Any

from bot.demo import Script


async def run(s: Script, w: dict[str, Any]) -> None:
    return None
