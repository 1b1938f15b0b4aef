"""`towerbot run` logs what an operator reads: library chatter only at TOWERBOT_LOG_LEVEL=DEBUG."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logs
from bot.app import build_application
from bot.demo.worlds import polling, settings_for
from bot.emulator import Emulator
from bot.settings import SettingsError, load_settings


@pytest.fixture
def restore_levels() -> Iterator[None]:
    """Put the root and library logger levels back as they were."""
    names = ["", *logs.CHATTY]
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


async def _run_once(tmp_path: Path, level: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Poll the emulator over HTTP as `towerbot run` would, send /start; the captured lines."""
    logs.configure(level)
    em = Emulator()
    url = await em.serve()
    settings = settings_for(
        em, tmp_path / "t.db", _env_file=None, api_base_url=url + "/bot", log_level=level
    )
    user = em.add_user("小红")
    app = build_application(settings)
    caplog.clear()
    try:
        async with polling(app):
            em.text(user, None, "/start")
            for _ in range(200):
                if em.messages_to(user["id"]):
                    break
                await asyncio.sleep(0.02)
    finally:
        await em.close()
    assert em.messages_to(user["id"]), "the bot did not answer /start"
    return [f"{r.levelname} {r.name} {r.getMessage()}" for r in caplog.records]


def _from(lines: list[str], level: str, prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(f"{level} {prefix}")]


async def test_info_has_the_update_line_and_no_library_chatter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, restore_levels: None
) -> None:
    lines = await _run_once(tmp_path, "INFO", caplog)
    assert any(
        "kind=command" in line and "command=/start" in line
        for line in _from(lines, "INFO", "towerbot.updates")
    ), lines
    assert _from(lines, "INFO", "bot.app")  # started / stopped
    for chatty in ("apscheduler", "httpx", "httpcore", "telegram"):
        assert not _from(lines, "INFO", chatty), chatty
        assert not _from(lines, "DEBUG", chatty), chatty


async def test_debug_lets_the_libraries_speak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, restore_levels: None
) -> None:
    lines = await _run_once(tmp_path, "DEBUG", caplog)
    assert _from(lines, "INFO", "towerbot.updates")
    assert _from(lines, "INFO", "apscheduler")
    assert _from(lines, "INFO", "httpx")
    assert [line for line in lines if line.startswith("DEBUG telegram.ext")]


@pytest.mark.parametrize("value", ["debug", "Warning", "ERROR"])
def test_log_level_accepts_names(value: str) -> None:
    assert load_settings(_env_file=None, log_level=value).log_level == value.upper()


def test_log_level_refuses_others() -> None:
    with pytest.raises(SettingsError, match="TOWERBOT_LOG_LEVEL"):
        load_settings(_env_file=None, log_level="loud")
