"""/start, /register, /me, /forgetme, /lang, /help, /cancel through the emulator."""

from __future__ import annotations

import pytest

from storage import users as user_repo
from tests.conftest import Harness, register
from tests.helpers import replies


async def person(tb: Harness, user: dict):
    return await user_repo.get_person(tb.db.reader, user["id"])


async def test_deep_link_registration_with_phone(tower: dict, tb: Harness) -> None:
    em = tb.em
    user = em.add_user("阿明")
    await tb.send(user, None, "/start join_yanshan-jiedao")
    await tb.press(user, tb.em.messages_to(user["id"])[-1], "reg:age:n")
    asked = await tb.send(user, None, "黄明")
    assert "手机号" in asked[0].text
    assert asked[0].reply_markup["keyboard"][0][0]["request_contact"] is True
    someone_else = em.contact(tower["member_a"], "13800000000", chat=None)
    someone_else["message"]["from"] = em.users[user["id"]]
    someone_else["message"]["chat"] = {
        "id": user["id"],
        "type": "private",
        "first_name": user["first_name"],
    }
    refused = await tb.deliver(someone_else)
    assert "本人" in refused[0].text
    consent = await tb.deliver(em.contact(user, "8613812345678"))
    assert "隐私说明" in consent[-1].text and "手机号" in consent[-1].text
    # the summary shows with the notice: agreeing is the one tap that registers
    assert "+8613812345678" in consent[-1].text and "雁山街道团工委" in consent[-1].text
    await tb.press(user, consent[-1], "reg:consent:y")
    stored = await person(tb, user)
    assert stored.real_name == "黄明" and stored.phone == "+8613812345678"


async def test_picker_registration(tower: dict, tb: Harness) -> None:
    user = tb.em.add_user("小周")
    await tb.send(user, None, "/register")
    await tb.press(user, tb.em.messages_to(user["id"])[-1], "reg:age:n")
    picker = await tb.send(user, None, "周杰")
    buttons = [b["callback_data"] for row in picker[0].reply_markup["inline_keyboard"] for b in row]
    assert any(d.startswith("reg:org:") for d in buttons) and any(
        d.startswith("reg:pick:") for d in buttons
    )
    drill = next(d for d in buttons if d.startswith("reg:org:"))
    await tb.press(user, picker[0], drill)
    edited = tb.em.message(user["id"], picker[0].message_id)
    pick = next(
        b["callback_data"]
        for row in edited["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("reg:pick:")
    )
    phone = await tb.press(user, picker[0], pick)
    assert "手机号" in phone[-1].text
    consent = await tb.send(user, None, "跳过")
    await tb.press(user, consent[-1], "reg:consent:y")
    assert (await person(tb, user)).org_id == int(drill.split(":")[2])


@pytest.mark.parametrize(
    "name, shown",
    [
        ("<b>王</b> & 李", "<b>王</b> & 李"),
        ("\u05d0\u05d1 王", "\u05d0\u05d1 王"),  # right-to-left script; a bare RLM mark is refused
        ("🌟小星星🌟", "🌟小星星🌟"),
    ],
)
async def test_strange_names_are_shown_escaped(
    tower: dict, tb: Harness, name: str, shown: str
) -> None:
    user = tb.em.add_user("某人")
    await register(tb, user, name, "yanshan.dabu")
    me = await tb.send(user, None, "/me")
    # Sent.text is what Telegram shows after parsing the HTML: tags appear literally
    assert shown in me[0].text


async def test_overlong_and_empty_names_change_nothing(tower: dict, tb: Harness) -> None:
    user = tb.em.add_user("长名")
    await tb.send(user, None, "/start join_yanshan-dabu")
    await tb.press(user, tb.em.messages_to(user["id"])[-1], "reg:age:n")
    long = await tb.send(user, None, "名" * 5000)
    assert "太长" in long[0].text and "5000" in long[0].text
    control = await tb.send(user, None, "王\x07五")
    assert "控制字符" in control[0].text
    state = await tb.services.people.registration(user["id"])
    assert state.step == "name" and state.real_name is None
    assert await person(tb, user) is None


async def test_cancel_leaves_and_rerun_edits(tower: dict, tb: Harness) -> None:
    member = tower["member_a"]
    await tb.send(member, None, "/register")
    await replies(
        tb,
        member,
        None,
        ("/cancel", "已退出"),
        ("/cancel", "没有"),  # nothing to cancel
        ("/register", "当前：陈小红"),  # a rerun edits
        ("陈晓红", "选择"),  # editing lets the person move org
    )
    await tb.send(member, None, "yanshan.dabu")
    consent = await tb.send(member, None, "跳过")
    done = await tb.press(member, consent[-1], "reg:consent:y")
    assert "已更新" in done[-1].text
    assert (await person(tb, member)).real_name == "陈晓红"


async def test_declining_consent_saves_nothing(tower: dict, tb: Harness) -> None:
    user = tb.em.add_user("拒绝")
    await tb.send(user, None, "/start join_yanshan")
    await tb.press(user, tb.em.messages_to(user["id"])[-1], "reg:age:n")
    await tb.send(user, None, "张三")
    consent = await tb.send(user, None, "跳过")
    declined = await tb.press(user, consent[-1], "reg:consent:n")
    assert "没有保存" in declined[-1].text and await person(tb, user) is None
    stale = await tb.press(user, consent[-1], "reg:consent:y")
    assert tb.em.callback_answers[-1]["show_alert"] and await person(tb, user) is None
    assert stale == [] or all(s.method == "answerCallbackQuery" for s in stale)


async def test_bad_deep_links(tb: Harness) -> None:
    user = tb.em.add_user("链接")
    unknown = await tb.send(user, None, "/start join_nosuch")
    assert "找不到" in unknown[0].text
    garbage = await tb.send(user, None, "/start zzz_1")
    assert "无效" in garbage[0].text


async def test_me_is_private_and_shows_roles(tower: dict, tb: Harness) -> None:
    in_group = await tb.send(tower["sec_a"], tower["chat_a"], "/me")
    assert "私聊" in in_group[0].text and "李娜" not in in_group[0].text
    me = await tb.send(tower["sec_a"], None, "/me")
    assert "李娜" in me[0].text and "书记" in me[0].text
    stranger = await tb.send(tower["outsider"], None, "/me")
    assert "还没有注册" in stranger[0].text


async def test_forget_me(tower: dict, tb: Harness) -> None:
    sec = tower["sec_a"]
    ask = await tb.send(sec, None, "/forgetme")
    kept = await tb.press(sec, ask[0], "forget:n")
    assert "未删除" in kept[-1].text and await person(tb, sec) is not None
    ask = await tb.send(sec, None, "/forgetme")
    done = await tb.press(sec, ask[0], "forget:y")
    assert "已删除" in done[-1].text
    assert await person(tb, sec) is None
    assert await user_repo.roles_of(tb.db.reader, sec["id"]) == []


async def test_language_choice(tower: dict, tb: Harness) -> None:
    tom = tower["member_b"]  # Telegram language en
    me = await tb.send(tom, None, "/me")
    assert "My profile" in me[0].text
    bad = await tb.send(tom, None, "/lang fr")
    assert "zh or en" in bad[0].text
    await tb.send(tom, None, "/lang zh")
    assert "我的信息" in (await tb.send(tom, None, "/me"))[0].text
    usage = await tb.send(tom, None, "/lang")
    assert "用法" in usage[0].text


async def test_help_is_role_aware(tower: dict, tb: Harness) -> None:
    member = (await tb.send(tower["member_a"], None, "/help"))[0].text
    secretary = (await tb.send(tower["sec_a"], None, "/help"))[0].text
    boss = (await tb.send(tower["boss"], None, "/help"))[0].text
    assert "/register" in member and "/bind" not in member and "/setup" not in member
    assert "/org" in secretary and "/bind" not in secretary
    assert "/bind" in boss and "/setup" in boss
    group = (await tb.send(tower["member_a"], tower["chat_a"], "/help"))[0].text
    assert "/org" in group and "start=help" in group and "陈小红" not in group


@pytest.mark.parametrize("command", ["/register", "/me", "/forgetme", "/cancel"])
async def test_private_commands_refused_in_groups(tower: dict, tb: Harness, command: str) -> None:
    sent = await tb.send(tower["member_a"], tower["chat_a"], command)
    assert len(sent) == 1 and "私聊" in sent[0].text
    assert await tb.services.people.registration(tower["member_a"]["id"]) is None
