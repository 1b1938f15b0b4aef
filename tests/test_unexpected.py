"""Two hundred kinds of unexpected input: each gets exactly one helpful answer, never silence,
never the internal-error text; in a group, private-only commands get the private-chat button."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.emulator import Emulator
from bot.texts import t
from tests.conftest import Harness, build_tower, register, start_harness

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXTS = [
    "你好",
    "hello",
    "Привет",
    "مرحبا",
    "שלום",
    "こんにちは",
    "안녕하세요",
    "नमस्ते",
    "สวัสดี",
    "Xin chào",
    "Γειά σου",
    "ሰላም",
    "👍",
    "🎉🎉🎉",
    "😀" * 300,
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "啊" * 4000,
    "a" * 4096,
    "word " * 800,
    ".",
    "?",
    "!",
    "…",
    "/",
    "//",
    "\u200b",
    "\u200f",
    "\u3000",
    "e\u0301\u0301\u0301",
    "<b>bold</b>",
    "&amp; &lt;",
    "<script>alert(1)</script>",
    "@TowerTestBot",
    "https://example.com",
    "+8613800000000",
    "2.5",
    "2.5 小时 作业辅导",
    "register",
    "帮助",
    "help",
    "hours 2 x",
    "我要注册",
    "怎么登记时长",
    "line\nbreak\n\n",
    "tab\tx",
    "null",
    "' OR 1=1 --",
    "%s%s%s%n",
    "{name}",
    "{0}",
    "${jndi:ldap://x}",
    "\\",
    "`code`",
    "ＡＢＣ１２３",
    "跳过",
    "Skip",
    "yanshan.dabu",
    "同意",
    "/注册",
    "/ hours",
    "start",
]
MEDIA = [
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "poll",
    "dice",
    "venue",
    "photo",
    "photo+caption",
    "document",
    "document+caption",
    "location",
    "live_location",
    "contact",
]
UNKNOWN = [
    "/foo",
    "/xyz",
    "/a",
    "/z",
    "/admin",
    "/sudo",
    "/delete",
    "/ban",
    "/kick",
    "/settings",
    "/menu",
    "/about",
    "/info",
    "/status",
    "/version",
    "/test",
    "/ping",
    "/profile",
    "/login",
    "/logout",
    "/stop",
    "/quit",
    "/feedback",
    "/donate",
    "/" + "x" * 32,
    "/start123",
    "/foo bar baz",
    "/hours@OtherBot 2 x",
    "/qwertyuiop",
    "/_",
]
#: (typed, the command it should suggest)
MISTYPED = [
    ("/hour", "hours"),
    ("/hous", "hours"),
    ("/horus", "hours"),
    ("/hours_", "hours"),
    ("/regster", "register"),
    ("/registr", "register"),
    ("/reigster", "register"),
    ("/myhour", "myhours"),
    ("/myhous", "myhours"),
    ("/hlep", "help"),
    ("/forgetm", "forgetme"),
    ("/mydat", "mydata"),
    ("/lng", "lang"),
    ("/langs", "lang"),
    ("/cancle", "cancel"),
    ("/cancell", "cancel"),
    ("/sart", "start"),
    ("/strt", "start"),
    ("/submt", "submit"),
    ("/activites", "activities"),
    ("/orgs", "org"),
    ("/pendin", "pending"),
    ("/exprot", "export"),
    ("/stat", "stats"),
    ("/hour 2 作业辅导", "hours"),
    ("/regster now", "register"),
    ("/chartt", "chart"),
    ("/checkn", "checkin"),
]
#: commands PTB matches case-insensitively, and commands with wrong or surprising arguments
WRONG_ARGS = [
    "/HELP",
    "/Hours",
    "/REGISTER",
    "/ME",
    "/Start",
    "/hours",
    "/hours abc",
    "/hours -1 x",
    "/hours 25 x",
    "/hours 0 x",
    "/hours 2.3 x",
    "/hours 2 2099-01-01 x",
    "/hours 2 2000-01-01 x",
    "/hours 2",
    "/hours 1e9 x",
    "/hours nan x",
    "/hours inf x",
    "/hours 2 " + "长" * 600,
    "/lang",
    "/lang fr",
    "/lang zh en",
    "/lang 中文",
    "/submit abc",
    "/submit 1 2",
    "/submit 99999",
    "/start bogus",
    "/start join_nonexistent",
    "/start act_abc",
    "/start act_999999",
    "/start sub_x",
    "/start cmd_foo",
    "/start x_y",
    "/start ____",
    "/start help",
    "/start cmd_me",
    "/start cmd_hours",
    "/myhours extra",
    "/me extra",
    "/help extra",
    "/cancel",
    "/org",
    "/stats",
    "/pending",
    "/export",
    "/export foo",
    "/activity",
    "/activities",
    "/checkin",
    "/close 1",
    "/deadline",
    "/announce hi",
    "/bind x",
    "/setup a b",
    "/role x",
    "/chart",
    "/auditlog abc",
    "/forgetme",
    "/register",
]
#: private-only commands sent in a group
GROUP = [
    "/me",
    "/register",
    "/hours",
    "/hours 2 作业辅导",
    "/myhours",
    "/mydata",
    "/forgetme",
    "/lang",
    "/lang en",
    "/submit",
    "/cancel",
    "/start",
    "/me@TowerTestBot",
    "/register@TowerTestBot",
    "/myhours@TowerTestBot",
    "/start@TowerTestBot join_x",
]

CASES: list[tuple[str, str, Any]] = (
    [("text", "new", x) for x in TEXTS]
    + [("text", "member", x) for x in TEXTS[:10]]
    + [("media", "new", x) for x in MEDIA]
    + [("media", "member", x) for x in MEDIA[:6]]
    + [("unknown", "new", x) for x in UNKNOWN]
    + [("mistyped", "member", x) for x in MISTYPED]
    + [("args", "member", x) for x in WRONG_ARGS]
    + [("group", "member", x) for x in GROUP]
)
_counter = itertools.count()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """One district for all the cases (limits off: the cases come faster than Telegram's)."""
    tmp: Path = tmp_path_factory.mktemp("unexpected")
    ctx, tb = await start_harness(tmp, em=Emulator(limits=False))
    try:
        w = await build_tower(tb)
        yield {"tb": tb, **w}
    finally:
        await ctx.__aexit__(None, None, None)


async def _person(w: dict[str, Any], who: str) -> dict:
    tb: Harness = w["tb"]
    user = tb.em.add_user(f"测试{next(_counter)}")
    if who == "member":
        await register(tb, user, "测试员", "yanshan.dabu")
    return user


def _send(tb: Harness, user: dict, chat: Any, kind: str, value: Any) -> dict:
    em = tb.em
    if kind != "media":
        return em.text(user, chat, value[0] if isinstance(value, tuple) else value)
    if value == "photo":
        return em.photo(user, chat)
    if value == "photo+caption":
        return em.photo(user, chat, caption="我的服务照片")
    if value == "document":
        return em.document(user, chat, "report.pdf")
    if value == "document+caption":
        return em.document(user, chat, "notes.txt", mime_type="text/plain", caption="说明")
    if value == "location":
        return em.location(user, chat, 25.2, 110.3)
    if value == "live_location":
        return em.location(user, chat, 25.2, 110.3, live_period=600)
    if value == "contact":
        return em.contact(user, "13800000000", chat)
    return em.media(user, chat, value)


@pytest.mark.parametrize(
    "kind, who, value", CASES, ids=[f"{k}-{w}-{i}" for i, (k, w, _) in enumerate(CASES)]
)
async def test_one_helpful_answer(world: dict[str, Any], kind: str, who: str, value: Any) -> None:
    tb: Harness = world["tb"]
    user = await _person(world, who)
    chat = world["chat_a"] if kind == "group" else None
    where = chat["id"] if chat else user["id"]
    mark = len(tb.em.sent)
    await tb.deliver(_send(tb, user, chat, kind, value))
    answers = [s for s in tb.em.sent[mark:] if s.chat_id == where and s.method.startswith("send")]
    assert len(answers) == 1, [a.text for a in answers]
    text = answers[0].text or ""
    assert text.strip()
    assert text not in (t("zh", "err_internal"), t("en", "err_internal"))
    if kind == "mistyped":
        assert f"/{value[1]}" in text
    if kind == "group":
        name = value.split()[0][1:].split("@")[0]
        button = answers[0].reply_markup["inline_keyboard"][0][0]
        assert button["url"] == f"https://t.me/{tb.em.bot_user['username']}?start=cmd_{name}"


async def test_there_are_two_hundred_kinds() -> None:
    assert len(CASES) >= 200
