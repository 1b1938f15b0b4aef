"""What an operator sets up: their own user id from /me, TOWERBOT_PROXY for both PTB clients."""

from __future__ import annotations

import importlib.util

import pytest

from bot.app import build_application
from bot.settings import SettingsError, load_settings
from tests.conftest import Harness, register


def test_http_proxy_reaches_both_clients() -> None:
    settings = load_settings(_env_file=None, token="1:abc", proxy="http://127.0.0.1:3128")
    app = build_application(settings)
    get_updates, other = app.bot._request  # PTB's two HTTPXRequest objects
    assert get_updates._client_kwargs["proxy"] == "http://127.0.0.1:3128"
    assert other._client_kwargs["proxy"] == "http://127.0.0.1:3128"


def test_no_proxy_by_default() -> None:
    app = build_application(load_settings(_env_file=None, token="1:abc"))
    assert all(r._client_kwargs.get("proxy") is None for r in app.bot._request)


def test_not_a_proxy_url_is_one_line() -> None:
    with pytest.raises(SettingsError, match=r"TOWERBOT_PROXY: .*http://host:port"):
        load_settings(_env_file=None, proxy="127.0.0.1:3128")


def test_socks_without_the_extra_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "socksio" else find_spec(name, *a),
    )
    with pytest.raises(SettingsError, match=r"httpx\[socks\]"):
        load_settings(_env_file=None, proxy="socks5://127.0.0.1:1080")


async def test_me_shows_the_own_user_id_before_and_after_registering(tb: Harness) -> None:
    boss = tb.em.add_user("晓明", user_id=7000001)
    await tb.send(boss, None, "/start")
    assert "ID：7000001" in (await tb.send(boss, None, "/me"))[0].text
    root = tb.em.add_group("区团委群", members=[boss["id"]])
    tb.settings.superusers.append(boss["id"])
    await tb.send(boss, root, "/setup yanshan 雁山区团委")
    await register(tb, boss, "王晓明", "yanshan")
    assert await tb.drain()  # notices from registering land before /me's own answer
    assert "ID：7000001" in (await tb.send(boss, None, "/me"))[0].text
