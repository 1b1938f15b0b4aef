"""Tests for bot/emulator.py: a real PTB Bot/Application against both transports."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    ChatFullInfo,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    TelegramObject,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.emulator import Emulator, parse_html, parse_markdown

pytestmark = pytest.mark.asyncio

SAMPLES = Path("/work/shared/telegram-samples")
CARD_HTML = (
    "📌 <b>【活动】七彩四点半 · 作业辅导</b>\n时间：2026-11-22 16:30\n地点：大圩镇青少年之家\n"
    "时长：2 小时\n报名：12/20"
)


class FakeClock:
    """Injectable clock the tests advance by hand."""

    def __init__(self, start: float = 1795140300.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def em(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock)


@pytest.fixture
def world(em: Emulator) -> dict[str, Any]:
    """Users and chats shaped like the samples."""
    xiaoming = em.add_user("晓明", "王", "wang_xiaoming")
    lina = em.add_user("李娜", username="lina_daxu")
    group = em.add_group("大圩镇团委工作群", [xiaoming, lina])
    supergroup = em.add_group(
        "雁山区团委 塔群", [xiaoming, lina], type="supergroup", bot_status="administrator"
    )
    return {"xiaoming": xiaoming, "lina": lina, "group": group, "supergroup": supergroup}


@pytest.fixture(params=["inproc", "http"])
async def transport(request: pytest.FixtureRequest, em: Emulator) -> AsyncIterator[str]:
    """Run a test once per transport; yields its name (HTTP server running for "http")."""
    if request.param == "http":
        await em.serve()
    yield request.param
    await em.close()


def make_app(em: Emulator, transport: str) -> Application[Any, Any, Any, Any, Any, Any]:
    """A bare PTB application talking to the emulator over `transport`."""
    builder = ApplicationBuilder().token(em.token)
    if transport == "inproc":
        builder = builder.request(em.request()).get_updates_request(em.request())
    else:
        builder = builder.base_url(f"{em.base_url}/bot")
    return builder.build()


def make_bot(em: Emulator, transport: str) -> Bot:
    if transport == "inproc":
        return Bot(em.token, request=em.request(), get_updates_request=em.request())
    assert em.base_url
    return Bot(em.token, base_url=em.base_url + "/bot", base_file_url=em.base_url + "/file/bot")


@pytest.fixture
async def bot(em: Emulator, transport: str) -> AsyncIterator[Bot]:
    b = make_bot(em, transport)
    await b.initialize()
    yield b
    await b.shutdown()


def seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def card_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("报名 Sign up", callback_data="act:17:join"),
                InlineKeyboardButton("取消 Cancel", callback_data="act:17:leave"),
            ]
        ]
    )


# --------------------------------------------------------------------------- basic calls


async def test_get_me_matches_sample(em: Emulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 7481203956 and me.username == "TowerTestBot" and me.is_bot
    assert me.can_join_groups is True and me.can_read_all_group_messages is False
    status, body = await em.call("GETME", {})
    assert status == 200
    assert body == json.loads((SAMPLES / "response_getMe.json").read_text())


async def test_send_message_to_group(em: Emulator, world: dict[str, Any], bot: Bot) -> None:
    gid = world["group"]["id"]
    first = await bot.send_message(gid, "第一条")
    second = await bot.send_message(gid, "第二条")
    assert first.chat.id == second.chat.id == gid
    assert first.chat.type == "group" and first.chat.title == "大圩镇团委工作群"
    assert second.message_id == first.message_id + 1
    assert first.from_user.id == em.bot_user["id"]
    assert [s.text for s in em.messages_to(gid)] == ["第一条", "第二条"]
    assert em.last_to(gid).message_id == second.message_id


async def test_html_card_like_sample(
    em: Emulator, world: dict[str, Any], bot: Bot, clock: FakeClock
) -> None:
    gid = world["group"]["id"]
    msg = await bot.send_message(gid, CARD_HTML, parse_mode="HTML", reply_markup=card_markup())
    sample = json.loads((SAMPLES / "response_sendMessage_group.json").read_text())["result"]
    assert msg.text == sample["text"]
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bold", 3, 16)]
    assert msg.reply_markup == card_markup()
    stored = em.message(gid, msg.message_id)
    assert stored is not None
    assert stored.keys() == sample.keys()
    assert stored["reply_markup"] == sample["reply_markup"]
    assert em.last_to(gid).parse_mode == "HTML"


async def test_malformed_html_is_bad_request(world: dict[str, Any], bot: Bot) -> None:
    with pytest.raises(BadRequest) as err:
        await bot.send_message(world["group"]["id"], "<b>活动名单</b><br>…", parse_mode="HTML")
    assert 'unsupported start tag "br" at byte offset 19' in err.value.message.lower()
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(world["group"]["id"], "<b>未闭合", parse_mode="HTML")


async def test_too_long_text(world: dict[str, Any], bot: Bot) -> None:
    gid = world["group"]["id"]
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(gid, "字" * 4097)
    # markup does not count: 4096 visible characters are fine
    await bot.send_message(gid, "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(gid, "<b> </b>", parse_mode="HTML")


async def test_callback_data_too_long(world: dict[str, Any], bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="a" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(world["group"]["id"], "卡片", reply_markup=markup)
    # 64 bytes of UTF-8 are allowed; 22 CJK characters are 66 bytes and are not
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="a" * 64)]])
    await bot.send_message(world["group"]["id"], "卡片", reply_markup=ok)
    cjk = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="报" * 22)]])
    with pytest.raises(BadRequest):
        await bot.send_message(world["group"]["id"], "卡片", reply_markup=cjk)


# --------------------------------------------------------------------------- errors & faults


async def test_injected_retry_after(em: Emulator, world: dict[str, Any], bot: Bot) -> None:
    gid = world["group"]["id"]
    em.inject("sendMessage", chat_id=gid, error="retry_after", retry_after=7)
    with pytest.raises(RetryAfter) as err:
        await bot.send_message(gid, "x")
    assert seconds(err.value) == 7
    await bot.send_message(gid, "x")  # times=1: the next call passes
    assert [c.status for c in em.calls if c.method == "sendMessage"] == [429, 200]
    assert em.errors_returned == 1


async def test_migration(em: Emulator, world: dict[str, Any], bot: Bot) -> None:
    gid = world["group"]["id"]
    em.inject("sendMessage", chat_id=gid, error="migrated")
    with pytest.raises(ChatMigrated) as err:
        await bot.send_message(gid, "x")
    new_id = err.value.new_chat_id
    assert em.migrated[gid] == new_id and str(new_id).startswith("-100")
    # the chat really moved: the old id keeps failing, the new one works
    with pytest.raises(ChatMigrated):
        await bot.send_message(gid, "x")
    msg = await bot.send_message(new_id, "迁移后")
    assert msg.chat.type == "supergroup" and msg.message_id == 2
    to_msg, from_msg = em.pending_updates[-2:]
    assert to_msg["message"]["migrate_to_chat_id"] == new_id
    assert from_msg["message"]["migrate_from_chat_id"] == gid
    assert from_msg["message"]["message_id"] == 1


async def test_forbidden_cases(em: Emulator, world: dict[str, Any], bot: Bot) -> None:
    xm = world["xiaoming"]
    with pytest.raises(Forbidden, match="initiate conversation"):
        await bot.send_message(xm["id"], "hi")
    em.text(xm, None, "/start")
    await bot.send_message(xm["id"], "hi")
    em.user_blocked_bot(xm)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(xm["id"], "hi")
    em.bot_removed(world["group"], xm)
    with pytest.raises(Forbidden, match="not a member of the group chat"):
        await bot.send_message(world["group"]["id"], "hi")
    em.bot_removed(world["supergroup"], xm)
    with pytest.raises(Forbidden, match="kicked from the supergroup chat"):
        await bot.send_message(world["supergroup"]["id"], "hi")
    lina = world["lina"]
    em.text(lina, None, "/start")
    em.inject("sendMessage", chat_id=lina, error="blocked")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(lina["id"], "hi")
    await bot.send_message(lina["id"], "hi again")
    em.inject("sendMessage", chat_id=lina, error="not_started")
    with pytest.raises(Forbidden, match="initiate conversation"):
        await bot.send_message(lina["id"], "hi")


async def test_transport_faults(
    em: Emulator, world: dict[str, Any], bot: Bot, transport: str
) -> None:
    gid = world["group"]["id"]
    em.http_timeout_delay = 2.0
    em.inject("sendMessage", error="timeout")
    with pytest.raises(TimedOut):
        await bot.send_message(gid, "x", read_timeout=0.2)
    em.inject("sendMessage", error="network")
    with pytest.raises(NetworkError):
        await bot.send_message(gid, "x")
    em.inject("sendMessage", error="server_error")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(gid, "x")
    # timeout_after: Telegram delivered it, but the answer was lost
    em.inject("sendMessage", error="timeout_after")
    with pytest.raises((TimedOut, NetworkError)):
        await bot.send_message(gid, "送达但超时", read_timeout=0.2)
    assert em.last_to(gid).text == "送达但超时"
    assert await bot.send_message(gid, "ok")


async def test_group_minute_limit(
    em: Emulator, world: dict[str, Any], bot: Bot, clock: FakeClock
) -> None:
    gid = world["group"]["id"]
    em.per_chat_per_second = None
    for i in range(20):
        await bot.send_message(gid, f"m{i}")
        clock.advance(1)
    with pytest.raises(RetryAfter) as err:
        await bot.send_message(gid, "m20")
    assert seconds(err.value) == 40  # the first of the 20 leaves the window 40 s later
    other = await bot.send_message(world["supergroup"]["id"], "other group is fine")
    assert other
    clock.advance(40)
    await bot.send_message(gid, "m20")
    em.limits = False
    for i in range(30):
        await bot.send_message(gid, f"burst{i}")


async def test_per_chat_burst_limit(
    em: Emulator, world: dict[str, Any], bot: Bot, clock: FakeClock
) -> None:
    xm = world["xiaoming"]
    em.text(xm, None, "/start")
    for _ in range(3):
        await bot.send_message(xm["id"], "burst")
    with pytest.raises(RetryAfter) as err:
        await bot.send_message(xm["id"], "too fast")
    assert seconds(err.value) >= 1
    clock.advance(1)
    await bot.send_message(xm["id"], "after a second")


async def test_global_limit(
    em: Emulator, world: dict[str, Any], bot: Bot, clock: FakeClock
) -> None:
    em.global_per_second = 2
    await bot.send_message(world["group"]["id"], "a")
    await bot.send_message(world["supergroup"]["id"], "b")
    with pytest.raises(RetryAfter):
        await bot.send_message(world["group"]["id"], "c")
    clock.advance(1)
    await bot.send_message(world["group"]["id"], "c")


async def test_unknown_token_and_method(em: Emulator, transport: str) -> None:
    wrong = (
        Bot("999:WRONG", request=em.request())
        if transport == "inproc"
        else Bot("999:WRONG", base_url=f"{em.base_url}/bot")
    )
    with pytest.raises(InvalidToken):
        await wrong.initialize()
    await wrong.shutdown()
    assert await em.call("noSuchMethod", {}) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    if transport == "http":
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{em.base_url}/bot999:WRONG/getMe")
            assert r.status_code == 401 and r.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
            r = await client.post(f"{em.base_url}/bot{em.token}/getMe", json={"unused": 1})
            assert r.json()["result"]["username"] == "TowerTestBot"


# --------------------------------------------------------------------------- polling & apps


async def test_get_updates_long_polling(em: Emulator, world: dict[str, Any], bot: Bot) -> None:
    xm = world["xiaoming"]
    first = em.text(xm, None, "/start join_x")
    got = await bot.get_updates(timeout=0)
    assert [u.update_id for u in got] == [first["update_id"]]
    waiter = asyncio.create_task(bot.get_updates(offset=first["update_id"] + 1, timeout=10))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    second = em.text(xm, None, "你好")
    got = await asyncio.wait_for(waiter, 5)
    assert [u.update_id for u in got] == [second["update_id"]]
    assert got[0].message.text == "你好"
    # the offset confirmed the first update
    assert [u["update_id"] for u in em.pending_updates] == [second["update_id"]]
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == ()


async def test_privacy_and_allowed_updates(em: Emulator, world: dict[str, Any]) -> None:
    xm, group, sg = world["xiaoming"], world["group"], world["supergroup"]
    em.text(xm, group, "大家好")  # privacy mode: not for the bot
    em.text(xm, group, "/org@OtherBot")
    cmd = em.text(xm, group, "/org@TowerTestBot")
    assert [u["update_id"] for u in em.pending_updates] == [cmd["update_id"]]
    em.pending_updates.clear()
    newcomer = em.add_user("Jie", "Chen", "chenjie_gl", language_code="en")
    joined = em.user_joined(sg, newcomer)
    _, body = await em.call("getUpdates", {"timeout": "0"})
    assert body["result"] == []  # chat_member is not delivered by default
    assert em.status_of(sg, newcomer) == "member"
    joined2 = em.user_left(sg, newcomer)
    _, body = await em.call("getUpdates", {"allowed_updates": '["chat_member", "message"]'})
    assert [u["update_id"] for u in body["result"]] == [joined2["update_id"]]
    assert joined["update_id"] < joined2["update_id"]
    em.press(xm, cmd["message"], "x")  # callback_query is now filtered out (sticky list)
    _, body = await em.call("getUpdates", {"offset": joined2["update_id"] + 1})
    assert body["result"] == []


async def test_application_start_command(
    em: Emulator, world: dict[str, Any], transport: str
) -> None:
    app = make_app(em, transport)
    payloads: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payloads.append(list(context.args or []))
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"欢迎 {update.effective_user.first_name}")

    app.add_handler(CommandHandler("start", start))
    xm = world["xiaoming"]
    async with app:
        update = em.text(xm, None, "/start join_x")
        await em.deliver(app, update)
    assert payloads == [["join_x"]]
    assert em.last_to(xm["id"]).text == "欢迎 晓明"
    assert em.pending_updates == []


async def test_callback_press_and_edit(em: Emulator, world: dict[str, Any], transport: str) -> None:
    app = make_app(em, transport)
    seen: list[str] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        seen.append(query.data)
        await query.answer("已报名", show_alert=True)
        new_text = CARD_HTML.replace("12/20", "13/20")
        await query.edit_message_text(new_text, parse_mode="HTML", reply_markup=card_markup())

    app.add_handler(CallbackQueryHandler(on_press))
    lina, gid = world["lina"], world["group"]["id"]
    async with app:
        card = await app.bot.send_message(
            gid, CARD_HTML, parse_mode="HTML", reply_markup=card_markup()
        )
        stored = em.message(gid, card.message_id)
        assert stored is not None
        press = em.press(lina, stored, "act:17:join")
        assert press["callback_query"]["message"]["reply_markup"] == stored["reply_markup"]
        assert press["callback_query"]["chat_instance"] == em.chat_instance(gid)
        await em.deliver(app, press)
        # editing again with the same content is "not modified"
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await app.bot.edit_message_text(
                CARD_HTML.replace("12/20", "13/20"),
                gid,
                card.message_id,
                parse_mode="HTML",
                reply_markup=card_markup(),
            )
        # answering the same query twice fails like Telegram
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await app.bot.answer_callback_query(press["callback_query"]["id"])
    assert seen == ["act:17:join"]
    assert em.callback_answers == [
        {
            "callback_query_id": press["callback_query"]["id"],
            "text": "已报名",
            "show_alert": True,
            "url": None,
            "cache_time": None,
        }
    ]
    edited = em.message(gid, card.message_id)
    assert edited is not None and edited["text"].endswith("13/20")
    sample = json.loads((SAMPLES / "response_editMessageText.json").read_text())["result"]
    assert list(edited) == list(sample)
    assert [s.method for s in em.sent] == ["sendMessage", "answerCallbackQuery", "editMessageText"]
    # a later press shows the current version of the card
    again = em.press(lina, edited, "act:17:leave")
    assert again["callback_query"]["message"]["text"].endswith("13/20")
    assert "edit_date" in again["callback_query"]["message"]


async def test_send_document_records_bytes(em: Emulator, world: dict[str, Any], bot: Bot) -> None:
    xm = world["xiaoming"]
    em.text(xm, None, "/start")
    content = b"PK\x03\x04 fake xlsx \x00\xff"
    msg = await bot.send_document(
        xm["id"],
        content,
        filename="yanshan_hours_2026-11.xlsx",
        caption="雁山区 2026-11 志愿服务时长导出",
    )
    assert msg.document is not None
    assert msg.document.file_name == "yanshan_hours_2026-11.xlsx"
    assert msg.document.file_size == len(content)
    assert msg.document.mime_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert msg.caption == "雁山区 2026-11 志愿服务时长导出"
    (doc,) = em.documents
    assert doc["chat_id"] == xm["id"] and doc["bytes"] == content
    assert doc["file_name"] == "yanshan_hours_2026-11.xlsx"
    sample = json.loads((SAMPLES / "response_sendDocument.json").read_text())["result"]
    assert list(em.message(xm["id"], msg.message_id) or {}) == list(sample)
    # re-send by file_id and download through the file endpoint
    again = await bot.send_document(xm["id"], msg.document.file_id)
    assert again.document.file_id == msg.document.file_id
    tg_file = await bot.get_file(msg.document.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == content
    assert em.messages_to(xm["id"], "sendDocument")[0].text == "雁山区 2026-11 志愿服务时长导出"


async def test_unicode_file_name_over_http(em: Emulator, world: dict[str, Any]) -> None:
    await em.serve()
    try:
        async with Bot(em.token, base_url=f"{em.base_url}/bot") as bot:
            lina = world["lina"]
            em.text(lina, None, "/start")
            await bot.send_document(lina["id"], b"%PDF-1.4", filename='述职报告 "终稿".pdf')
            assert em.documents[0]["file_name"] == '述职报告 "终稿".pdf'
            assert em.documents[0]["mime_type"] == "application/pdf"
    finally:
        await em.close()


async def test_chat_queries(em: Emulator, world: dict[str, Any], bot: Bot) -> None:
    gid, sg = world["group"]["id"], world["supergroup"]["id"]
    xm, lina = world["xiaoming"], world["lina"]
    em.set_member(sg, xm, "creator")
    info = await bot.get_chat(gid)
    assert isinstance(info, ChatFullInfo) and info.title == "大圩镇团委工作群"
    assert info.api_kwargs == {}
    member = await bot.get_chat_member(gid, lina["id"])
    assert member.status == "member" and member.user.username == "lina_daxu"
    stranger = em.add_user("赵雨桐")
    left = await bot.get_chat_member(gid, stranger["id"])
    assert left.status == "left"
    _, body = await em.call("getChatMember", {"chat_id": str(gid), "user_id": str(stranger["id"])})
    sample = json.loads((SAMPLES / "response_getChatMember_left.json").read_text())
    assert body["result"].keys() == sample["result"].keys()
    assert await bot.get_chat_member_count(gid) == 3
    admins = await bot.get_chat_administrators(sg)
    assert [a.status for a in admins] == ["creator", "administrator"]
    assert all(a.api_kwargs == {} for a in admins)
    with pytest.raises(BadRequest, match=r"(?i)not enough rights to manage chat invite link"):
        await bot.export_chat_invite_link(gid)
    link = await bot.create_chat_invite_link(sg, name="雁山区注册 2026-11")
    assert link.invite_link.startswith("https://t.me/+") and link.creator.id == em.bot_user["id"]
    joined = em.user_joined(sg, stranger, invite_link=link.invite_link)
    assert joined["chat_member"]["invite_link"]["name"] == "雁山区注册 2026-11"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(-123)
    assert await bot.send_chat_action(gid, "typing")
    assert await bot.set_my_commands([("start", "开始"), ("org", "组织")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "org"]
    assert await bot.delete_message(gid, (await bot.send_message(gid, "x")).message_id)
    assert await bot.leave_chat(gid)
    assert em.bot_status(gid) == "left"
    assert em.pending_updates[-1]["my_chat_member"]["new_chat_member"]["status"] == "left"


# --------------------------------------------------------------------------- update shapes


def _shape(value: Any) -> Any:
    """Structure of a JSON value: dict keys (recursively) and list element shapes."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def _leftover_kwargs(obj: Any, path: str = "update") -> list[str]:
    found: list[str] = []
    if isinstance(obj, TelegramObject):
        extra = set(obj.api_kwargs) - {"all_members_are_administrators"}
        if extra:
            found.append(f"{path}: {sorted(extra)}")
        for name, value in obj._get_attrs(recursive=False).items():
            found += _leftover_kwargs(value, f"{path}.{name}")
    elif isinstance(value := obj, (list, tuple)):
        for i, item in enumerate(value):
            found += _leftover_kwargs(item, f"{path}[{i}]")
    return found


async def test_update_shapes_match_samples(em: Emulator, clock: FakeClock) -> None:
    xm = em.add_user("晓明", "王", "wang_xiaoming")
    lina = em.add_user("李娜", username="lina_daxu")
    zhao = em.add_user("赵雨桐")
    jie = em.add_user("Jie", "Chen", "chenjie_gl", language_code="en")
    group = em.add_group("大圩镇团委工作群", [xm, lina], bot_status="left")
    sg = em.add_group("雁山区团委 塔群", [xm, lina], type="supergroup", bot_status="administrator")
    em.set_member(group, xm, "creator")
    link = (await em.call("createChatInviteLink", {"chat_id": sg["id"], "name": "注册"}))[1]

    produced: dict[str, dict[str, Any]] = {}
    produced["update_private_command"] = em.text(xm, None, "/start join_daxu")
    produced["update_my_chat_member_added"] = em.bot_added(group, xm)
    produced["update_group_command"] = em.text(xm, group, "/org@TowerTestBot")
    card = (
        await em.call(
            "sendMessage",
            {
                "chat_id": str(group["id"]),
                "text": CARD_HTML,
                "parse_mode": "HTML",
                "reply_markup": card_markup().to_json(),
            },
        )
    )[1]["result"]
    produced["update_callback_query"] = em.press(lina, card, "act:17:join")
    produced["update_new_chat_title"] = em.title(group, "大圩镇团委·塔群", xm)
    other = em.text(lina, sg, "各位好，我是大圩镇团委的李娜。")
    produced["update_supergroup_reply_command"] = em.text(
        xm, sg, "/role secretary", reply_to=other["message"]
    )
    produced["update_chat_member_joined"] = em.user_joined(sg, jie, link["result"]["invite_link"])
    produced["update_contact"] = em.contact(xm, "8613800138000")
    produced["update_document"] = em.document(
        lina,
        None,
        "述职报告.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        48213,
        caption="第四季度述职",
    )
    produced["update_location"] = em.location(
        zhao, None, 25.074613, 110.301482, live_period=3600, horizontal_accuracy=14.2
    )
    produced["update_my_chat_member_removed"] = em.bot_removed(group, xm)
    em.bot_added(group, xm)
    em.migrate(group, xm)
    produced["update_migrate_to"], produced["update_migrate_from"] = em.pending_updates[-2:]

    for name, update in produced.items():
        sample = json.loads((SAMPLES / f"{name}.json").read_text())
        if name == "update_document":
            sample["message"]["chat"].pop("last_name", None)
        assert _shape(update) == _shape(sample), name
        wire = json.loads(json.dumps(update, ensure_ascii=True))
        parsed = Update.de_json(wire, Bot(em.token))
        assert parsed is not None and parsed.update_id == update["update_id"]
        assert _leftover_kwargs(parsed) == [], name
    ids = [u["update_id"] for u in em.pending_updates]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert produced["update_private_command"]["message"]["date"] == int(clock.now)
    removed = produced["update_my_chat_member_removed"]["my_chat_member"]
    assert removed["new_chat_member"]["status"] == "left"
    kicked = em.bot_removed(sg, xm)["my_chat_member"]["new_chat_member"]
    assert kicked == {"user": em.bot_user, "status": "kicked", "until_date": 0}
    blocked = em.user_blocked_bot(xm)["my_chat_member"]
    assert blocked["chat"]["type"] == "private"
    assert blocked["new_chat_member"]["status"] == "kicked"


# --------------------------------------------------------------------------- parsers


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_html_parser_details() -> None:
    text, ents = parse_html('a &lt;b&gt; &amp; &#128204; <a href="https://t.me/x">链接</a> & c')
    assert text == "a <b> & 📌 链接 & c"
    assert ents == [{"offset": 11, "length": 2, "type": "text_link", "url": "https://t.me/x"}]
    text, ents = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler>"
    )
    assert text == "x = 1qs"
    assert [e["type"] for e in ents] == ["pre", "expandable_blockquote", "spoiler"]
    assert ents[0]["language"] == "python"
    for bad, message in [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ]:
        with pytest.raises(Exception, match=message.replace("(", r"\(")):
            parse_html(bad)


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_markdown_v2_parser() -> None:
    text, ents = parse_markdown(r"*粗体* _斜体_ __下划线__ [链接](https://t.me/x) `a\`b` 1\.5")
    assert text == "粗体 斜体 下划线 链接 a`b 1.5"
    assert [e["type"] for e in ents] == ["bold", "italic", "underline", "text_link", "code"]
    with pytest.raises(Exception, match="reserved"):
        parse_markdown("1.5")
    with pytest.raises(Exception, match="Can't find end"):
        parse_markdown("*粗体")


async def test_application_polling(em: Emulator, world: dict[str, Any], transport: str) -> None:
    app = make_app(em, transport)
    done = asyncio.Event()

    async def org(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("组织架构")
        done.set()

    app.add_handler(CommandHandler("org", org))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=2, allowed_updates=Update.ALL_TYPES
        )
        await app.start()
        await asyncio.sleep(0.05)
        em.text(world["xiaoming"], world["group"], "/org@TowerTestBot")
        await asyncio.wait_for(done.wait(), 5)
        await app.updater.stop()
        await app.stop()
    assert em.last_to(world["group"]["id"]).text == "组织架构"
    assert em.allowed_updates == list(Update.ALL_TYPES)
