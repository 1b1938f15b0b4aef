"""Minors (PIPL): under 14, nothing personal is kept until a guardian's consent is recorded."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.clock import FakeClock
from storage import users as user_repo
from tests.conftest import Harness, build_tower, start_harness
from tests.security.test_forget import dump

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

DAY = 86400
REAL_NAME = "欧阳小华"
PHONE = "+8613911112222"


async def begin_minor(tb: Harness, minor: dict, code: str = "yanshan.dabu") -> str:
    """/start join_<code>, answer "under 14"; returns the guardian token from the link."""
    await tb.send(minor, None, f"/start join_{code.replace('.', '-')}")
    asked = tb.em.messages_to(minor["id"])[-1]
    assert "14" in asked.text
    sent = await tb.press(minor, asked, "reg:age:y")
    match = re.search(r"start=guard_([A-Za-z0-9_-]+)", sent[-1].text)
    assert match, [s.text for s in sent]
    return match.group(1)


async def consents(tb: Harness) -> list[dict]:
    rows = await tb.db.fetchall(
        "SELECT minor_id, org_id, method, guardian_id, recorded_by FROM guardian_consents"
    )
    return [dict(r) for r in rows]


async def finish(tb: Harness, minor: dict) -> None:
    """The minor goes on from the name step to a stored registration."""
    asked = await tb.send(minor, None, REAL_NAME)
    assert "手机号" in asked[0].text
    consent = await tb.deliver(tb.em.contact(minor, PHONE))
    confirm = await tb.press(minor, consent[-1], "reg:consent:y")
    await tb.press(minor, confirm[-1], "reg:confirm:y")
    person = await user_repo.get_person(tb.db.reader, minor["id"])
    assert person is not None and person.real_name == REAL_NAME and person.phone == PHONE


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeClock, dict]]:
    clock = FakeClock()
    ctx, tb = await start_harness(tmp_path, clock=clock)
    try:
        yield tb, clock, await build_tower(tb)
    finally:
        await ctx.__aexit__(None, None, None)


async def test_nothing_personal_is_kept_before_consent(tower: dict, tb: Harness) -> None:
    minor = tb.em.add_user("小华")
    await begin_minor(tb, minor)
    typed = await tb.send(minor, None, REAL_NAME)
    assert "监护人" in typed[0].text
    shared = await tb.deliver(tb.em.contact(minor, PHONE))
    assert "监护人" in shared[0].text
    state = await tb.services.people.registration(minor["id"])
    assert state.step == "guardian" and state.minor and state.org_id
    assert state.real_name is None and state.phone is None
    await tb.drain()
    text, _ = dump(tb.settings.db)
    for secret in (REAL_NAME, PHONE, PHONE[3:], "小华"):
        assert secret not in text
    assert await user_repo.get_person(tb.db.reader, minor["id"]) is None
    # the age question is answered with its buttons, and the guardian step with a consent
    again = tb.em.add_user("再试")
    await tb.send(again, None, "/start join_yanshan-dabu")
    refused = await tb.send(again, None, REAL_NAME)
    assert "14" in refused[0].text
    assert (await tb.services.people.registration(again["id"])).real_name is None


async def test_guardian_link_happy_path(tower: dict, tb: Harness) -> None:
    minor, parent = tb.em.add_user("小华"), tb.em.add_user("华妈妈")
    token = await begin_minor(tb, minor)
    ask = await tb.send(parent, None, f"/start guard_{token}")
    assert "小华" in ask[0].text and "大埠乡团委" in ask[0].text
    buttons = ask[0].reply_markup["inline_keyboard"][0]
    assert buttons[0]["callback_data"] == f"guard:{token}" and "监护人" in buttons[0]["text"]
    done = await tb.press(parent, ask[0], f"guard:{token}")
    assert any("已记录" in (s.text or "") for s in done if s.chat_id == parent["id"])
    dabu = (await tb.db.fetchone("SELECT id FROM orgs WHERE code = 'yanshan.dabu'"))["id"]
    assert await consents(tb) == [
        {
            "minor_id": minor["id"],
            "org_id": dabu,
            "method": "telegram",
            "guardian_id": parent["id"],
            "recorded_by": None,
        }
    ]
    assert await tb.drain()
    assert "监护人已同意" in tb.last_text(minor["id"])
    await finish(tb, minor)
    # /mydata shows the consent to the minor and to the guardian
    for who in (minor, parent):
        data = json.loads(await tb.services.privacy.mydata(who["id"]))
        assert data["guardian_consents"][0]["minor_id"] == minor["id"]
    assert len(json.loads(await tb.services.privacy.mydata(minor["id"]))["guardian_requests"]) == 1


async def test_own_account_and_second_use_are_refused(tower: dict, tb: Harness) -> None:
    minor, parent, other = tb.em.add_user("小华"), tb.em.add_user("家长"), tb.em.add_user("路人甲")
    token = await begin_minor(tb, minor)
    own = await tb.send(minor, None, f"/start guard_{token}")
    assert "本人" in own[0].text and "guard:" not in json.dumps(own[0].reply_markup or {})
    assert await consents(tb) == []
    ask = await tb.send(parent, None, f"/start guard_{token}")
    await tb.press(parent, ask[0], f"guard:{token}")
    # the outbox may deliver the minor's "go on" message meanwhile: read the answer to `other`
    second = [
        m for m in await tb.send(other, None, f"/start guard_{token}") if m.chat_id == other["id"]
    ]
    assert "已经用过" in second[0].text
    await tb.press(parent, ask[0], f"guard:{token}")  # the same button pressed again
    # its keyboard is gone, so the central button check refuses it before the consent does
    answer = tb.em.callback_answers[-1]
    assert answer["show_alert"] and ("已经用过" in answer["text"] or "失效" in answer["text"])
    assert len(await consents(tb)) == 1


async def test_an_expired_link_is_refused(clocked: tuple[Harness, FakeClock, dict]) -> None:
    tb, clock, _ = clocked
    minor, parent = tb.em.add_user("小华"), tb.em.add_user("家长")
    token = await begin_minor(tb, minor)
    ask = await tb.send(parent, None, f"/start guard_{token}")
    clock.advance(7 * DAY + 1)
    late = await tb.send(parent, None, f"/start guard_{token}")
    assert "过期" in late[0].text
    await tb.press(parent, ask[0], f"guard:{token}")  # the button shown before it expired
    assert "过期" in tb.em.callback_answers[-1]["text"]
    assert await consents(tb) == []
    # registering again gives a fresh link that works
    fresh = await begin_minor(tb, minor)
    ask = await tb.send(parent, None, f"/start guard_{fresh}")
    await tb.press(parent, ask[0], f"guard:{fresh}")
    assert len(await consents(tb)) == 1


def forgeries(token: str) -> list[str]:
    """Links a guesser or a tamperer might try."""
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    return [
        secrets.token_urlsafe(16),
        flipped,
        token[:-1],
        token + "A",
        "A" * 22,
        "x",
        token.upper() if token.upper() != token else token.lower(),
        "../../" + token,
        token + "'--",
        "%00" + token,
    ]


async def test_forged_tokens_are_refused(tower: dict, tb: Harness) -> None:
    minor, guesser = tb.em.add_user("小华"), tb.em.add_user("猜测者")
    token = await begin_minor(tb, minor)
    for forged in forgeries(token):
        refused = await tb.send(guesser, None, f"/start guard_{forged}")
        assert "无效" in refused[0].text, forged
        assert not (refused[0].reply_markup or {}).get("inline_keyboard"), forged
    # a forged press of the guardian button, on a real message of the bot
    ask = await tb.send(guesser, None, "/start")
    for forged in forgeries(token)[:4]:
        await tb.press(guesser, ask[0], f"guard:{forged}")
        assert tb.em.callback_answers[-1]["show_alert"], forged
    assert await consents(tb) == []
    assert (await tb.services.people.registration(minor["id"])).step == "guardian"
    open_ = await tb.db.fetchone(
        "SELECT COUNT(*) AS n FROM guardian_requests WHERE used_at IS NULL"
    )
    assert open_["n"] == 1


async def test_paper_consent_by_the_secretary(tower: dict, tb: Harness) -> None:
    sec, chat = tower["sec_a"], tower["chat_a"]
    minor = tb.em.add_user("小华")
    await begin_minor(tb, minor)
    said = tb.em.text(minor, chat, "书记好，我交了纸质同意书")["message"]
    done = await tb.send(sec, chat, "/consent", reply_to=said)
    assert "已登记" in done[0].text and REAL_NAME not in done[0].text
    rows = await consents(tb)
    assert len(rows) == 1 and rows[0]["method"] == "paper" and rows[0]["recorded_by"] == sec["id"]
    assert rows[0]["guardian_id"] is None and rows[0]["minor_id"] == minor["id"]
    assert await tb.drain()
    assert "监护人已同意" in tb.last_text(minor["id"])
    await finish(tb, minor)
    # a second /consent finds nothing waiting
    again = await tb.send(sec, chat, "/consent", reply_to=said)
    assert "没有等待" in again[0].text


async def test_paper_consent_by_token_and_who_may_not(tower: dict, tb: Harness) -> None:
    boss, sec, member = tower["boss"], tower["sec_a"], tower["member_a"]
    tom, chat_a, chat_b = tower["member_b"], tower["chat_a"], tower["chat_b"]
    said = tb.em.text(tom, chat_b, "hello")["message"]
    await tb.send(boss, chat_b, "/role secretary", reply_to=said)  # Tom: secretary of jiedao
    minor = tb.em.add_user("小华")
    token = await begin_minor(tb, minor)
    plain = await tb.send(member, chat_a, f"/consent {token}")
    assert "书记" in plain[0].text
    other_chat = await tb.send(tom, chat_b, f"/consent {token}")
    assert "secretary" in other_chat[0].text  # Tom reads English
    other_org = await tb.send(tom, chat_a, f"/consent {token}")
    assert "secretary" in other_org[0].text
    in_private = await tb.send(sec, None, f"/consent {token}")
    assert "群" in in_private[0].text
    usage = await tb.send(sec, chat_a, "/consent")
    assert "用法" in usage[0].text
    assert await consents(tb) == []
    link = f"https://t.me/{tb.em.bot_user['username']}?start=guard_{token}"
    done = await tb.send(sec, chat_a, f"/consent {link}")
    assert "已登记" in done[0].text and len(await consents(tb)) == 1


async def test_forgetme_erases_and_repoints_consents(tower: dict, tb: Harness) -> None:
    minor, parent = tb.em.add_user("小华"), tb.em.add_user("家长")
    token = await begin_minor(tb, minor)
    ask = await tb.send(parent, None, f"/start guard_{token}")
    await tb.press(parent, ask[0], f"guard:{token}")
    await tb.drain()
    await finish(tb, minor)
    ask = await tb.send(parent, None, "/forgetme")
    await tb.press(parent, ask[0], "forget:y")
    rows = await consents(tb)
    assert len(rows) == 1 and rows[0]["guardian_id"] < 0  # the guardian's tombstone
    ask = await tb.send(minor, None, "/forgetme")
    await tb.press(minor, ask[0], "forget:y")
    assert await consents(tb) == []
    left = await tb.db.fetchone("SELECT COUNT(*) AS n FROM guardian_requests")
    assert left["n"] == 0


async def test_fourteen_or_older_goes_straight_to_the_name(tower: dict, tb: Harness) -> None:
    adult = tb.em.add_user("小李")
    await tb.send(adult, None, "/start join_yanshan-dabu")
    asked = await tb.press(adult, tb.em.messages_to(adult["id"])[-1], "reg:age:n")
    assert "真实姓名" in asked[-1].text
    state = await tb.services.people.registration(adult["id"])
    assert state.step == "name" and not state.minor
    assert await tb.db.fetchone("SELECT 1 FROM guardian_requests") is None


async def test_a_minor_without_a_link_picks_the_org_first(tower: dict, tb: Harness) -> None:
    minor = tb.em.add_user("小华")
    await tb.send(minor, None, "/register")
    picker = await tb.press(minor, tb.em.messages_to(minor["id"])[-1], "reg:age:y")
    pick = next(
        b["callback_data"]
        for row in picker[-1].reply_markup["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("reg:pick:")
    )
    link = await tb.press(minor, picker[-1], pick)
    assert "start=guard_" in link[-1].text
    state = await tb.services.people.registration(minor["id"])
    assert state.step == "guardian" and state.org_id == int(pick.rsplit(":", 1)[1])
