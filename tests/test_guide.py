"""The "/" menu per scope and language, the group welcome, and the private-chat buttons."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram import (
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from bot.gateway.menu import MENUS
from handlers.guide import commands_of
from tests.conftest import Harness, build_tower, start_harness

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

SCOPES = {
    "all_private_chats": BotCommandScopeAllPrivateChats(),
    "all_group_chats": BotCommandScopeAllGroupChats(),
    "all_chat_administrators": BotCommandScopeAllChatAdministrators(),
}


async def test_menus_are_published_and_true(tb: Harness) -> None:
    """Every scope has a zh (no language code) and an en menu; each command listed is real,
    and every registered command is listed somewhere."""
    registered = set(commands_of(tb.app))
    listed: set[str] = set()
    for scope in SCOPES.values():
        for code in (None, "en"):
            commands = await tb.app.bot.get_my_commands(scope=scope, language_code=code)
            assert commands, (scope.type, code)
            names = [c.command for c in commands]
            assert set(names) <= registered, set(names) - registered
            assert all(c.description for c in commands)
            listed |= set(names)
    assert registered <= listed, registered - listed
    zh = await tb.app.bot.get_my_commands(scope=SCOPES["all_private_chats"])
    en = await tb.app.bot.get_my_commands(scope=SCOPES["all_private_chats"], language_code="en")
    assert zh[1].description != en[1].description
    # what a client shows: an English user in a group as administrator
    shown = tb.em.menu_for("group", "en", admin=True, chat_id=-1)
    assert [c["command"] for c in shown] == list(MENUS["all_chat_administrators"])
    assert tb.em.menu_for("private", "fr")[0]["description"] == zh[0].description


async def test_menu_failure_is_not_fatal(tmp_path: Path) -> None:
    from bot.emulator import Emulator

    em = Emulator(per_chat_burst=20)
    em.inject("setMyCommands", error="server_error", times=None)
    ctx, tb = await start_harness(tmp_path, em=em)
    try:
        answer = await tb.send(em.add_user("小王"), None, "/start")
        assert answer and "塔群助手" in answer[0].text
    finally:
        await ctx.__aexit__(None, None, None)


async def test_private_only_commands_in_a_group_get_a_button(tower: dict, tb: Harness) -> None:
    bot = tb.em.bot_user["username"]
    for command in (
        "me",
        "register",
        "hours 2 x",
        "myhours",
        "mydata",
        "forgetme",
        "lang en",
        "submit",
    ):
        answer = await tb.send(tower["member_a"], tower["chat_a"], f"/{command}")
        assert len(answer) == 1, command
        name = command.split()[0]
        button = answer[0].reply_markup["inline_keyboard"][0][0]
        assert button["url"] == f"https://t.me/{bot}?start=cmd_{name}", command
        assert "私聊" in answer[0].text
    # the button lands in the private chat and starts the command there
    opened = await tb.send(tower["member_a"], None, "/start cmd_me")
    assert "陈小红" in opened[0].text
    opened = await tb.send(tower["member_a"], None, "/start cmd_hours")
    assert "/hours" in opened[0].text


async def test_welcome_one_per_window(tmp_path: Path) -> None:
    ctx, tb = await start_harness(tmp_path, welcome_window=1.0)
    try:
        t = await build_tower(tb)
        em = tb.em
        mark = len(em.messages_to(t["chat_a"]))
        anna, bo, cai = em.add_user("安娜"), em.add_user("小博"), em.add_user("阿才")
        robot = em.add_user("Helper")
        robot["is_bot"] = em.users[robot["id"]]["is_bot"] = True
        await tb.deliver(em.members_joined(t["chat_a"], [anna, robot]))
        await tb.drain()
        first = em.messages_to(t["chat_a"])[mark:]
        assert len(first) == 1 and "安娜" in first[0].text and "Helper" not in first[0].text
        url = first[0].reply_markup["inline_keyboard"][0][0]["url"]
        assert url.endswith("?start=join_yanshan-dabu")
        await tb.deliver(em.members_joined(t["chat_a"], [bo]))
        await tb.deliver(em.members_joined(t["chat_a"], [cai]))
        await tb.deliver(em.members_joined(t["chat_a"], [anna]))  # reported twice: once
        await tb.drain()
        assert len(em.messages_to(t["chat_a"])[mark:]) == 1
        await asyncio.sleep(1.5)
        await tb.drain()
        later = em.messages_to(t["chat_a"])[mark:]
        assert len(later) == 2 and "小博" in later[1].text and "阿才" in later[1].text
        assert "安娜" not in later[1].text and "陈" not in later[1].text  # no real names
        # an unbound group gets no welcome
        other = em.add_group("闲聊群", members=[t["boss"]["id"]])
        await tb.deliver(em.members_joined(other, [em.add_user("路过")]))
        await tb.drain()
        assert em.messages_to(other) == []
    finally:
        await ctx.__aexit__(None, None, None)


async def test_welcome_counts_against_the_budget(tmp_path: Path) -> None:
    ctx, tb = await start_harness(tmp_path, welcome_window=0, chat_daily_budget=1)
    try:
        t = await build_tower(tb)
        em = tb.em
        await tb.deliver(em.members_joined(t["chat_b"], [em.add_user("甲")]))
        await tb.deliver(em.members_joined(t["chat_b"], [em.add_user("乙")]))
        await tb.drain()
        assert sum("欢迎" in s.text for s in em.messages_to(t["chat_b"])) <= 1
    finally:
        await ctx.__aexit__(None, None, None)
