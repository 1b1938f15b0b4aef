"""Trust, items 2, 6, 7: who may bind a chat, nobody credits themselves, roles reach the right
person. Each through the emulator, several inputs per class; a refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator import GROUP_ANONYMOUS_BOT
from bot.emulator.entities import auto_entities
from storage import chats as chat_repo
from tests.conftest import Harness, build_tower, register
from tests.test_abuse import dump

CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


@pytest.fixture
async def w(tb: Harness) -> dict[str, Any]:
    """The small district, a staff member of the root org, and a new org to bind."""
    world = await build_tower(tb)
    em = tb.em
    em.limits = False
    staff = em.add_user("干部", username="ganbu")
    em.set_member(world["root"]["id"], staff["id"], "member")
    await register(tb, staff, "区团委干部", "yanshan")
    said = em.text(staff, world["root"], "报到")["message"]
    await tb.send(world["boss"], world["root"], "/role staff", reply_to=said)
    await tb.send(world["boss"], world["root"], "/org add yanshan.x 新组织 street")
    world["staff"] = staff
    world["group"] = em.add_group("新组织群", members=[staff["id"], world["member_a"]["id"]])
    return world


async def send_as(tb: Harness, user: dict, chat: dict, text: str, status: str | None) -> str:
    """`user` sends `text` in `chat` holding `status` there when it arrives; the reply text."""
    update = tb.em.text(user, chat, text)
    if status is not None:
        tb.em.set_member(chat["id"], user["id"], status)
    sent = await tb.deliver(update)
    return " ".join(s.text or "" for s in sent)


async def bound_org(tb: Harness, chat_id: int) -> int | None:
    chat = await chat_repo.get(tb.db.reader, chat_id)
    return chat.org_id if chat else None


# --- 2. /bind and /unbind need someone who administers the chat --------------------------------


@pytest.mark.parametrize(
    "status, allowed",
    [
        ("member", False),
        ("restricted", False),
        ("left", False),
        ("kicked", False),
        ("administrator", True),
        ("creator", True),
    ],
)
async def test_bind_needs_chat_admin(tb: Harness, w: dict, status: str, allowed: bool) -> None:
    group = w["group"]
    before = dump(tb.settings.db)
    text = await send_as(tb, w["staff"], group, "/bind yanshan.x", status)
    if allowed:
        assert "新组织" in text and await bound_org(tb, group["id"]) is not None
        tb.em.set_member(group["id"], w["staff"]["id"], "member")
        text = await send_as(tb, w["staff"], group, "/unbind", None)
        assert "群主或管理员" in text and await bound_org(tb, group["id"]) is not None
        text = await send_as(tb, w["staff"], group, "/unbind", status)
        assert await bound_org(tb, group["id"]) is None, text
    else:
        assert "群主或管理员" in text, text
        assert dump(tb.settings.db) == before


async def test_bind_by_superuser_who_is_not_even_a_member(tb: Harness, w: dict) -> None:
    text = await send_as(tb, w["boss"], w["group"], "/bind yanshan.x", "left")
    assert await bound_org(tb, w["group"]["id"]) is not None, text


async def test_chat_admin_without_the_staff_role_is_refused(tb: Harness, w: dict) -> None:
    before = dump(tb.settings.db)
    text = await send_as(tb, w["member_a"], w["group"], "/bind yanshan.x", "creator")
    assert "团干部" in text and dump(tb.settings.db) == before
    text = await send_as(tb, w["sec_a"], w["chat_a"], "/unbind", "administrator")
    assert "团干部" in text and dump(tb.settings.db) == before


async def test_unbind_needs_chat_admin(tb: Harness, w: dict) -> None:
    chat_a = w["chat_a"]
    for status in ("member", "restricted", "left", "kicked"):
        text = await send_as(tb, w["staff"], chat_a, "/unbind", status)
        assert "群主或管理员" in text and await bound_org(tb, chat_a["id"]) is not None, status
    await send_as(tb, w["staff"], chat_a, "/unbind", "administrator")
    assert await bound_org(tb, chat_a["id"]) is None


@pytest.mark.parametrize("sender", ["anonymous admin", "channel"])
@pytest.mark.parametrize("command", ["/bind yanshan.x", "/unbind"])
async def test_hidden_senders_are_told_to_show_themselves(
    tb: Harness, w: dict, sender: str, command: str
) -> None:
    em = tb.em
    chat = em.chats[w["group"]["id"] if command.startswith("/bind") else w["chat_a"]["id"]]
    if sender == "anonymous admin":
        who, as_chat = GROUP_ANONYMOUS_BOT, chat
    else:
        who, as_chat = CHANNEL_BOT, {"id": -1001234567890, "type": "channel", "title": "频道"}
    before = dump(tb.settings.db)
    msg = em._store_message(
        chat, who, {"text": command, "entities": auto_entities(command)}, sender_chat=as_chat
    )
    sent = await tb.deliver(em._emit("message", msg))
    text = " ".join(s.text or "" for s in sent)
    assert "匿名" in text, text
    assert dump(tb.settings.db) == before


# --- 6. nobody credits themselves ----------------------------------------------------------------


async def test_organiser_does_not_approve_own_attendance(tb: Harness, w: dict) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    sec, ma, chat_a = w["sec_a"], w["member_a"], w["chat_a"]
    ts = (int(datetime.now().timestamp()) + 1800) // 60 * 60 + 60
    when = datetime.fromtimestamp(ts, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    sent = await tb.send(sec, chat_a, f"/activity 清扫 | {when} | 2 | 5 | 村口")
    card = next(s for s in sent if "act:" in str(s.reply_markup or ""))
    act_id = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    for user in (sec, ma):
        await tb.press(user, card, f"act:{act_id}:join")
    sent = await tb.send(sec, chat_a, f"/checkin {act_id}")
    checkin = next(s for s in sent if "act:" in str(s.reply_markup or ""))
    for user in (sec, ma):
        await tb.press(user, checkin, f"act:{act_id}:in")
    closed = " ".join(s.text or "" for s in await tb.send(sec, chat_a, f"/close {act_id}"))
    assert "待审核" in closed
    rows = {
        r["user_id"]: (r["status"], r["decided_by"])
        for r in await tb.db.fetchall(
            "SELECT user_id, status, decided_by FROM hour_entries WHERE source = ?",
            (f"activity:{act_id}",),
        )
    }
    assert rows == {ma["id"]: ("approved", sec["id"]), sec["id"]: ("pending", None)}
    listing = (await tb.send(sec, None, "/pending"))[0]
    assert "清扫" not in (listing.text or "")  # not offered to themselves
    entry = int(
        (
            await tb.db.fetchone(
                "SELECT id FROM hour_entries WHERE user_id = ? AND source = ?",
                (sec["id"], f"activity:{act_id}"),
            )
        )[0]
    )
    other = (await tb.send(w["staff"], None, "/pending"))[0]
    await tb.press(w["staff"], other, f"hrs:ok:{entry}:0")
    status = await tb.db.fetchone(
        "SELECT status, decided_by FROM hour_entries WHERE id = ?", (entry,)
    )
    assert (status[0], status[1]) == ("approved", w["staff"]["id"])


@pytest.mark.parametrize("how", ["reply", "username", "username other case"])
@pytest.mark.parametrize("word", ["staff", "secretary", "member"])
async def test_nobody_changes_their_own_role(tb: Harness, w: dict, how: str, word: str) -> None:
    staff, chat_a = w["staff"], w["chat_a"]
    tb.em.set_member(chat_a["id"], staff["id"], "member")
    before = dump(tb.settings.db)
    if how == "reply":
        said = tb.em.text(staff, chat_a, "我")["message"]
        sent = await tb.send(staff, chat_a, f"/role {word}", reply_to=said)
    else:
        name = "@ganbu" if how == "username" else "@GanBu"
        sent = await tb.send(staff, chat_a, f"/role {word} {name}")
    assert "自己的角色" in sent[0].text
    assert dump(tb.settings.db) == before


# --- 7. roles go to the right person -------------------------------------------------------------


async def rename(tb: Harness, user: dict, username: str | None, chat: dict) -> dict:
    """The user takes a new username, and the bot sees it (they write in `chat`)."""
    tb.em.users[user["id"]]["username"] = username
    tb.em.text(user, chat, "改名了")
    await tb.deliver(tb.em.text(user, chat, "/org"))
    return tb.em.users[user["id"]]


async def role_of(tb: Harness, user_id: int) -> str | None:
    row = await tb.db.fetchone("SELECT role FROM roles WHERE user_id = ?", (user_id,))
    return row[0] if row else None


@pytest.mark.parametrize("name", ["@tom_b", "@TOM_B", "@Tom_B", "@tom_B"])
async def test_username_in_any_case_finds_the_registered_holder(
    tb: Harness, w: dict, name: str
) -> None:
    sent = await tb.send(w["boss"], w["chat_b"], f"/role secretary {name}")
    assert "书记" in sent[0].text and await role_of(tb, w["member_b"]["id"]) == "secretary"


@pytest.mark.parametrize(
    "name", ["@nobody_here", "@xy", "@名字啊啊", "@tom_b!", "@", "@@tom_b", "@" + "a" * 40]
)
async def test_unknown_or_malformed_usernames_ask_for_a_reply(
    tb: Harness, w: dict, name: str
) -> None:
    before = dump(tb.settings.db)
    sent = await tb.send(w["boss"], w["chat_b"], f"/role secretary {name}")
    assert "回复" in sent[0].text, sent[0].text
    assert dump(tb.settings.db) == before


async def test_unregistered_holder_asks_for_a_reply(tb: Harness, w: dict) -> None:
    stranger = tb.em.add_user("路过", username="passer_by")
    await tb.deliver(tb.em.text(stranger, w["chat_b"], "你好"))
    before = dump(tb.settings.db)
    for name in ("@passer_by", "@PASSER_BY"):
        sent = await tb.send(w["boss"], w["chat_b"], f"/role staff {name}")
        assert "回复" in sent[0].text
    assert dump(tb.settings.db) == before


async def test_moved_usernames_ask_for_a_reply(tb: Harness, w: dict) -> None:
    em, boss, chat_b = tb.em, w["boss"], w["chat_b"]
    first = em.add_user("甲", username="handle_one")
    second = em.add_user("乙", username="someone_else")
    for user, name in ((first, "甲某"), (second, "乙某")):
        await register(tb, user, name, "yanshan.jiedao")
        await tb.deliver(em.text(user, chat_b, "hi"))
    # the first gives the handle up; the second takes it
    await rename(tb, first, "handle_new", chat_b)
    await rename(tb, second, "Handle_One", chat_b)
    before = dump(tb.settings.db)
    for name in ("@handle_one", "@HANDLE_ONE", "@someone_else"):  # moved; and no longer current
        sent = await tb.send(boss, chat_b, f"/role secretary {name}")
        assert "回复" in sent[0].text, (name, sent[0].text)
    assert dump(tb.settings.db) == before
    # the first's new handle was only ever theirs, and is current
    sent = await tb.send(boss, chat_b, "/role secretary @Handle_New")
    assert await role_of(tb, first["id"]) == "secretary", sent[0].text
    assert await role_of(tb, second["id"]) is None
    # a reply always reaches the right person
    said = em.text(second, chat_b, "我在")["message"]
    await tb.send(boss, chat_b, "/role secretary", reply_to=said)
    assert await role_of(tb, second["id"]) == "secretary"


async def test_username_dropped_is_no_longer_current(tb: Harness, w: dict) -> None:
    await rename(tb, w["member_b"], None, w["chat_b"])
    sent = await tb.send(w["boss"], w["chat_b"], "/role secretary @tom_b")
    assert "回复" in sent[0].text and await role_of(tb, w["member_b"]["id"]) is None
