"""Activities through the Bot API emulator: cards, the sign-up storm, waitlist promotions,
reminders across a restart, check-in, closing with hours, and every kind of bad input."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.demo.worlds import register_people
from bot.domain.activities import distance_m, parse_activity, step_name
from bot.domain.errors import Refusal
from bot.gateway.cards import CardEditor
from bot.settings import Settings
from storage import activities as act_repo
from storage import hours as hours_repo
from storage import reminders as rem_repo
from tests.conftest import Harness, build_tower, start_harness
from tests.helpers import with_button

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

TZ = Settings().tz


def when(seconds_ahead: float) -> tuple[str, float]:
    """A 'YYYY-MM-DD HH:MM' at least `seconds_ahead` from now, and its timestamp."""
    ts = math.ceil((time.time() + seconds_ahead) / 60) * 60
    return datetime.fromtimestamp(ts, TZ).strftime("%Y-%m-%d %H:%M"), float(ts)


async def latest_activity(tb: Harness) -> int:
    row = await tb.db.fetchone("SELECT MAX(id) FROM activities")
    return int(row[0])


async def create(tb: Harness, who: dict, chat: dict, fields: str) -> tuple[int, Any]:
    """Post an activity by command; returns (id, the card as sent)."""
    sent = await tb.send(who, chat, f"/activity {fields}")
    cards = [s for s in sent if s.reply_markup and "act:" in str(s.reply_markup)]
    assert cards, [s.text for s in sent]
    return await latest_activity(tb), cards[0]


async def join(tb: Harness, card: Any, act_id: int, *people: dict) -> None:
    """Each of `people`, in turn, presses "join" on `card`, activity `act_id`'s card."""
    for person in people:
        await tb.press(person, card, f"act:{act_id}:join")


async def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return False


def current(tb: Harness, chat_id: int, message_id: int) -> str:
    return (tb.em.message(chat_id, message_id) or {}).get("text", "")


async def register_many(tb: Harness, n: int, org_code: str, prefix: str) -> list[dict]:
    """n emulator users registered into an org directly through storage (setup speed)."""
    org = await tb.services.tower.org_by_code(org_code)
    users = [tb.em.add_user(f"{prefix}{i}") for i in range(n)]
    tb.em.started.update(u["id"] for u in users)  # as if each had pressed Start
    async with tb.db.transaction() as tx:
        await register_people(tx, users, org.id, real_name=lambda u: f"R{u['id']}")
    return users


def first_reply(sent: list) -> object:
    """The bot's answer among what it sent (a coalesced card edit may land in between)."""
    return next(s for s in sent if s.method == "sendMessage")


def answers_since(tb: Harness, mark: int) -> list[dict]:
    return tb.em.callback_answers[mark:]


# --- parsing (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, key",
    [
        ("only | three | fields", "usage_activity"),
        ("a | 2030-13-01 09:00 | 2 | 20 | here", "err_act_when"),
        ("a | 2030-01-01 quarter past 9 | 2 | 20 | here", "err_act_when"),  # 9am is a time now
        ("a | 2020-01-01 09:00 | 2 | 20 | here", "err_act_past"),
        ("a | NEXT | 0 | 20 | here", "err_act_hours"),
        ("a | NEXT | 24.25 | 20 | here", "err_act_hours"),
        ("a | NEXT | 1.3 | 20 | here", "err_act_hours"),
        ("a | NEXT | 2 | 0 | here", "err_act_capacity"),
        ("a | NEXT | 2 | 100001 | here", "err_act_capacity"),
        ("a | NEXT | 2 | -5 | here", "err_act_capacity"),
        ("x" * 101 + " | NEXT | 2 | 5 | here", "err_act_title_long"),
        (" | NEXT | 2 | 5 | here", "err_act_title_empty"),
        ("a | NEXT | 2 | 5 | " + "p" * 201, "err_act_place_long"),
        ("a | NEXT | 2 | 5 | here | 91,10", "err_act_coords"),
        ("a | NEXT | 2 | 5 | here | nonsense", "err_act_extra"),
    ],
)
def test_parse_refusals(text: str, key: str) -> None:
    nxt, _ = when(86400)
    with pytest.raises(Refusal) as caught:
        parse_activity(text.replace("NEXT", nxt), time.time(), Settings())
    assert caught.value.key == key


def test_parse_full_line() -> None:
    nxt, ts = when(86400)
    got = parse_activity(
        f"七彩 | {nxt} | 2.5 | 20 | 青年之家 | 25.18,110.30 | cascade", time.time(), Settings()
    )
    assert (got.title, got.starts_at, got.quarters, got.capacity, got.place) == (
        "七彩",
        ts,
        10,
        20,
        "青年之家",
    )
    assert (got.lat, got.lon, got.cascade) == (25.18, 110.30, True)
    assert step_name(timedelta(hours=24)) == "24h" and step_name(timedelta(minutes=90)) == "90m"
    assert 110 < distance_m(25.0, 110.0, 25.001, 110.0) < 112


# --- cards and sign-up -----------------------------------------------------------------------


async def test_card_signup_cancel_and_repeat(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(3 * 86400)
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"七彩四点半 | {nxt} | 2 | 1 | 大埠")
    assert "0/1 · 候补 0" in card.text
    assert card.reply_markup["inline_keyboard"][0][0]["callback_data"] == f"act:{act_id}:join"

    mark = len(tb.em.callback_answers)
    await tb.press(t["member_a"], card, f"act:{act_id}:join")
    await tb.press(t["member_a"], card, f"act:{act_id}:join")  # a repeat changes nothing
    await tb.press(t["boss"], card, f"act:{act_id}:join")  # full: waitlist
    answers = [a["text"] for a in answers_since(tb, mark)]
    assert answers[0].startswith("报名成功") and answers[1] == "你已经报名了。"
    assert "候补第 1 位" in answers[2]
    assert await act_repo.recount(tb.db.reader, act_id) == (1, 1)

    # the card copy catches up (coalesced)
    assert await wait_for(lambda: _has(tb, card, "1/1 · 候补 1"))
    # cancelling promotes the first waiting person, who is told privately
    await tb.press(t["member_a"], card, f"act:{act_id}:leave")
    await tb.drain()
    assert "候补转为正式报名" in tb.last_text(t["boss"]["id"])
    signup = await act_repo.signup_of(tb.db.reader, act_id, t["boss"]["id"])
    assert signup.status == "confirmed"
    assert await wait_for(lambda: _has(tb, card, "1/1 · 候补 0"))
    # leaving twice: nothing to cancel
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_a"], card, f"act:{act_id}:leave")
    assert answers_since(tb, mark)[0]["text"] == "你还没有报名这个活动。"


async def _has(tb: Harness, card: Any, text: str) -> bool:
    return text in current(tb, card.chat_id, card.message_id)


# --- the storm -------------------------------------------------------------------------------


async def test_signup_storm_three_chats(tb: Harness) -> None:
    """300 people in 3 chats press Sign up at once on capacity 50."""
    t = await build_tower(tb)
    nxt, _ = when(3 * 86400)
    act_id, _root_card = await create(
        tb, t["boss"], t["root"], f"全区志愿服务日 | {nxt} | 4 | 50 | 雁山广场 | cascade"
    )
    await tb.drain()
    cards = {c.chat_id: c for c in await act_repo.cards_of(tb.db.reader, [act_id])}
    assert set(cards) == {t["root"]["id"], t["chat_a"]["id"], t["chat_b"]["id"]}
    await tb.services.activities.cards.resolve([act_id])
    cards = {c.chat_id: c for c in await act_repo.cards_of(tb.db.reader, [act_id])}
    assert all(c.message_id for c in cards.values())

    people = (
        await register_many(tb, 100, "yanshan", "R")
        + await register_many(tb, 100, "yanshan.dabu", "A")
        + await register_many(tb, 100, "yanshan.jiedao", "B")
    )
    chats = [t["root"]["id"]] * 100 + [t["chat_a"]["id"]] * 100 + [t["chat_b"]["id"]] * 100
    # interleave the chats so that every copy takes presses during the whole storm
    order = [i for k in range(100) for i in (k, 100 + k, 200 + k)]
    updates = []
    for i in order:
        stored = tb.em.message(chats[i], cards[chats[i]].message_id)
        updates.append((people[i]["id"], tb.em.press(people[i], stored, f"act:{act_id}:join")))
    edits_before = len(tb.em.messages_to(t["root"]["id"], "editMessageText"))
    await asyncio.gather(*(tb.em.deliver(tb.app, u) for _, u in updates))

    assert await act_repo.recount(tb.db.reader, act_id) == (50, 250)
    activity = await act_repo.get(tb.db.reader, act_id)
    assert (activity.confirmed, activity.waiting) == (50, 250)
    roster = await act_repo.roster(tb.db.reader, act_id, ("confirmed", "waiting"))
    pressed = [uid for uid, _ in updates]
    by_seq = [s.user_id for s in roster]  # press (commit) order
    assert sorted(by_seq) == sorted(pressed)
    assert [s.user_id for s in roster if s.status == "confirmed"] == pressed[:50]
    assert [s.user_id for s in roster if s.status == "waiting"] == pressed[50:]
    assert len(tb.em.callback_answers) >= 300

    # after the debounce settles every copy shows the right count
    await tb.drain()

    async def settled() -> bool:
        return all("50/50 · 候补 250" in current(tb, cid, c.message_id) for cid, c in cards.items())

    assert await wait_for(settled, timeout=15)
    edit_calls = [c for c in tb.em.calls if c.method == "editMessageText"]
    assert all(c.status == 200 for c in edit_calls), "an edit broke a limit"
    per_chat = {cid: len(tb.em.messages_to(cid, "editMessageText")) for cid in cards}
    assert all(1 <= n <= 20 for n in per_chat.values()), per_chat
    assert per_chat[t["root"]["id"]] - edits_before <= 20


async def test_cancellations_promote_in_order(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"清扫 | {nxt} | 1 | 2 | 河边")
    people = await register_many(tb, 5, "yanshan.dabu", "P")
    await join(tb, card, act_id, *people)
    ids = [p["id"] for p in people]
    # 0, 1 confirmed; 2, 3, 4 waiting. A waiting person leaving promotes nobody.
    await tb.press(people[3], card, f"act:{act_id}:leave")
    await tb.drain()
    assert not any("候补转为正式" in x for x in tb.texts(ids[2]) + tb.texts(ids[4]))
    # a confirmed person leaving promotes the first waiting (2), then the next one (4)
    await tb.press(people[0], card, f"act:{act_id}:leave")
    await tb.press(people[1], card, f"act:{act_id}:leave")
    await tb.drain()
    assert any("候补转为正式" in x for x in tb.texts(ids[2]))
    assert any("候补转为正式" in x for x in tb.texts(ids[4]))
    confirmed = await act_repo.roster(tb.db.reader, act_id, ("confirmed",))
    assert [s.user_id for s in confirmed] == [ids[2], ids[4]]
    # a re-join goes to the back of the queue
    await tb.press(people[0], card, f"act:{act_id}:join")
    waiting = await act_repo.roster(tb.db.reader, act_id, ("waiting",))
    assert [s.user_id for s in waiting] == [ids[0]]
    assert await act_repo.recount(tb.db.reader, act_id) == (2, 1)


async def test_overlap_is_warned_privately(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    one, card1 = await create(tb, t["sec_a"], t["chat_a"], f"上午 | {nxt} | 3 | 10 | 甲")
    two, card2 = await create(tb, t["sec_a"], t["chat_a"], f"同时 | {nxt} | 1 | 10 | 乙")
    await tb.press(t["member_a"], card1, f"act:{one}:join")
    await tb.press(t["member_a"], card2, f"act:{two}:join")
    await tb.drain()
    assert any("时间重叠" in x and "上午" in x for x in tb.texts(t["member_a"]["id"]))
    assert await act_repo.recount(tb.db.reader, two) == (1, 0)  # warned, still signed up


# --- not registered --------------------------------------------------------------------------


async def test_unregistered_press_gets_deep_link_and_is_signed_up_after(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"读书会 | {nxt} | 1.5 | 5 | 书屋")
    newbie = tb.em.add_user("新人")
    mark = len(tb.em.callback_answers)
    await tb.press(newbie, card, f"act:{act_id}:join")
    answer = answers_since(tb, mark)[0]
    assert answer["url"] == f"https://t.me/{tb.em.bot_user['username']}?start=act_{act_id}"
    assert await act_repo.recount(tb.db.reader, act_id) == (0, 0)

    await tb.send(newbie, None, f"/start act_{act_id}")
    await tb.press(newbie, tb.em.messages_to(newbie["id"])[-1], "reg:age:n")
    picker = await tb.send(newbie, None, "张三")
    # the picker opens at the activity's org: picking it is one tap
    assert "大埠乡团委" in picker[-1].text
    dabu = await tb.services.tower.org_by_code("yanshan.dabu")
    await tb.press(newbie, picker[-1], f"reg:pick:{dabu.id}")
    await tb.send(newbie, None, "跳过")
    sent = await tb.press(newbie, tb.em.messages_to(newbie["id"])[-1], "reg:consent:y")
    assert any("你已报名" in (s.text or "") for s in sent)
    assert await act_repo.recount(tb.db.reader, act_id) == (1, 0)
    # a user who has started the bot is told privately instead
    started = tb.em.add_user("已开始")
    await tb.send(started, None, "/start")
    mark = len(tb.em.callback_answers)
    await tb.press(started, card, f"act:{act_id}:join")
    assert answers_since(tb, mark)[0]["url"] is None
    await tb.drain()
    assert f"start=act_{act_id}" in tb.last_text(started["id"])


# --- reminders across a restart --------------------------------------------------------------


async def test_reminders_fire_once_across_a_restart(tmp_path: Path) -> None:
    start_text, start_ts = when(240)
    now = time.time()
    first = timedelta(seconds=start_ts - now - 4)  # due ~4 s from now
    second = timedelta(seconds=start_ts - now - 9)  # due ~9 s from now, while the bot is down
    ctx, tb = await start_harness(tmp_path, activity_reminders=[first, second])
    t = await build_tower(tb)
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"夜跑 | {start_text} | 1 | 10 | 操场")
    await join(tb, card, act_id, t["member_a"], t["member_b"])
    em = tb.em

    def reminders_to(user: dict) -> list[str]:
        return [x for x in tb.texts(user["id"]) if "活动提醒" in x or "Reminder" in x]

    async def first_arrived() -> bool:
        await tb.drain(1.0)
        return len(reminders_to(t["member_a"])) == 1 and len(reminders_to(t["member_b"])) == 1

    assert await wait_for(first_arrived, timeout=15)
    await ctx.__aexit__(None, None, None)
    await asyncio.sleep(max(0.0, now + 9.5 - time.time()))  # the second comes due while down

    ctx2, tb2 = await start_harness(tmp_path, em=em, activity_reminders=[first, second])
    try:

        async def second_arrived() -> bool:
            await tb2.drain(1.0)
            return len(reminders_to(t["member_a"])) == 2

        assert await wait_for(second_arrived, timeout=15)
        await asyncio.sleep(1.0)
        await tb2.drain()
        for user in (t["member_a"], t["member_b"]):
            assert len(reminders_to(user)) == 2, reminders_to(user)
        assert "Reminder" in reminders_to(t["member_b"])[0]  # in the person's language
        rows = await rem_repo.of_ref(tb2.db.reader, "activity", act_id)
        assert sorted(r.status for r in rows) == ["done", "done", "pending"]  # 'start' ahead
        assert not any(r.status == "missed" for r in rows)
    finally:
        await ctx2.__aexit__(None, None, None)


# --- check-in, closing, hours ----------------------------------------------------------------


async def test_checkin_window_roster_and_close_credits_hours(tb: Harness) -> None:
    t = await build_tower(tb)
    soon, _ = when(1800)  # inside the 2 h window around the start
    later, _ = when(4 * 3600)  # outside it
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"义诊 | {soon} | 2.5 | 5 | 卫生院")
    far_id, far_card = await create(tb, t["sec_a"], t["chat_a"], f"晚会 | {later} | 1 | 5 | 礼堂")
    people = await register_many(tb, 2, "yanshan.dabu", "C")
    for p in (t["member_a"], *people):
        await tb.press(p, card, f"act:{act_id}:join")
        await tb.press(p, far_card, f"act:{far_id}:join")

    # only the organiser opens check-in, and only for activities of this chat's tree
    sent = await tb.send(t["member_a"], t["chat_a"], f"/checkin {act_id}")
    assert "书记或团干部" in first_reply(sent).text
    sent = await tb.send(t["boss"], t["chat_b"], f"/checkin {act_id}")
    assert f"没有编号为 {act_id} 的活动" in first_reply(sent).text
    sent = await tb.send(t["sec_a"], t["chat_a"], "/checkin")
    assert first_reply(sent).text.startswith("用法")

    button = with_button(
        await tb.send(t["sec_a"], t["chat_a"], f"/checkin {act_id}"), f"act:{act_id}:in"
    )
    assert "签到已开放" in button.text
    far_button = with_button(
        await tb.send(t["sec_a"], t["chat_a"], f"/checkin {far_id}"), f"act:{far_id}:in"
    )

    mark = len(tb.em.callback_answers)
    await tb.press(t["member_b"], button, f"act:{act_id}:in")  # not signed up
    await tb.press(t["member_a"], far_button, f"act:{far_id}:in")  # outside the window
    await tb.press(t["member_a"], button, f"act:{act_id}:in")
    await tb.press(t["member_a"], button, f"act:{act_id}:in")
    await tb.press(people[0], button, f"act:{act_id}:in")
    got = [a["text"] for a in answers_since(tb, mark)]
    assert "Only people signed up" in got[0] and "现在不能签到" in got[1]
    assert got[2:] == ["签到成功！", "你已经签到过了。", "签到成功！"]
    # a join press on the check-in message is refused (it is not the card)
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_b"], button, f"act:{act_id}:join")
    assert "does not belong" in answers_since(tb, mark)[0]["text"]

    sent = await tb.send(t["sec_a"], t["chat_a"], f"/close {act_id}")
    assert (
        "签到 2 人" in first_reply(sent).text
        and "5 小时" in first_reply(sent).text
        and "未到 1 人" in first_reply(sent).text
    )
    for p in (t["member_a"], people[0]):
        entries = await hours_repo.approved_of(tb.db.reader, p["id"])
        assert [(e.quarters, e.source, e.status) for e in entries] == [
            (10, f"activity:{act_id}", "approved")
        ]
    no_show = await act_repo.signup_of(tb.db.reader, act_id, people[1]["id"])
    assert no_show.attendance == "no_show"
    assert await hours_repo.approved_of(tb.db.reader, people[1]["id"]) == []
    # closing twice changes nothing; the card shows it has ended
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/close {act_id}")
    assert "已结束" in first_reply(sent).text
    assert len(await hours_repo.approved_of(tb.db.reader, t["member_a"]["id"])) == 1
    assert await wait_for(lambda: _has(tb, card, "活动已结束"))
    assert tb.em.message(card.chat_id, card.message_id).get("reply_markup") is None
    # closing before the start without check-in is refused
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/close {far_id}")
    assert "现在不能结束" in first_reply(sent).text


async def test_checkin_needs_a_live_location_nearby(tb: Harness) -> None:
    t = await build_tower(tb)
    soon, _ = when(1800)
    act_id, card = await create(
        tb, t["sec_a"], t["chat_a"], f"定点签到 | {soon} | 1 | 5 | 广场 | 25.1823,110.3051"
    )
    await tb.press(t["member_a"], card, f"act:{act_id}:join")
    button = with_button(
        await tb.send(t["sec_a"], t["chat_a"], f"/checkin {act_id}"), f"act:{act_id}:in"
    )
    assert "300 米" in button.text
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_a"], button, f"act:{act_id}:in")
    assert "实时位置" in answers_since(tb, mark)[0]["text"]
    await tb.drain()
    assert "实时位置" in tb.last_text(t["member_a"]["id"])
    uid = t["member_a"]["id"]

    sent = await tb.deliver(tb.em.location(t["member_a"], None, 25.1823, 110.3051))
    assert "普通位置不能用于签到" in sent[-1].text  # plain location refused
    sent = await tb.deliver(tb.em.location(t["member_a"], None, 25.20, 110.3051, live_period=900))
    assert "需在 300 米以内" in sent[-1].text
    assert (await act_repo.signup_of(tb.db.reader, act_id, uid)).checked_in_at is None
    sent = await tb.deliver(tb.em.location(t["member_a"], None, 25.1830, 110.3055, live_period=900))
    assert "签到成功" in sent[-1].text
    assert (await act_repo.signup_of(tb.db.reader, act_id, uid)).checked_in_at is not None


# --- tampered and stale buttons --------------------------------------------------------------


async def test_tampered_and_stale_buttons_are_refused(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    soon, _ = when(1800)
    one, card1 = await create(tb, t["sec_a"], t["chat_a"], f"甲 | {nxt} | 1 | 5 | 甲地")
    two, card2 = await create(tb, t["sec_a"], t["chat_a"], f"乙 | {soon} | 1 | 5 | 乙地")
    await tb.press(t["member_a"], card2, f"act:{two}:join")
    await tb.send(t["sec_a"], t["chat_a"], f"/checkin {two}")
    await tb.send(t["sec_a"], t["chat_a"], f"/close {two}")

    cases = [
        (card1, f"act:{two}:join", "不属于"),  # another activity's id on this card
        (card1, "act:xyz:join", "不属于"),  # garbage
        (card1, f"act:{one}:explode", "不属于"),
        (card1, "act:99999999:join", "不属于"),
        (card2, f"act:{two}:join", "已结束"),  # a closed activity
        (card2, f"act:{two}:leave", "已结束"),
    ]
    for message, data, expected in cases:
        mark = len(tb.em.callback_answers)
        await tb.press(t["boss"], message, data)
        answer = answers_since(tb, mark)[0]
        assert expected in answer["text"] and answer["show_alert"], (data, answer)
    assert await act_repo.recount(tb.db.reader, one) == (0, 0)
    assert await act_repo.recount(tb.db.reader, two) == (1, 0)
    # English speakers get English
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_b"], card1, "act:xyz:join")
    assert "does not belong" in answers_since(tb, mark)[0]["text"]


# --- bad input -------------------------------------------------------------------------------


async def test_bad_input_answers_and_changes_nothing(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(86400)
    cases = [
        ("x | y", "用法：/activity"),
        ("x | 2020-01-01 09:00 | 1 | 5 | y", "已经过去"),
        ("x | 2030-02-30 09:00 | 1 | 5 | y", "时间“2030-02-30 09:00”无效"),
        (f"x | {nxt} | 0.3 | 5 | y", "0.25 到 24"),
        (f"x | {nxt} | 25 | 5 | y", "0.25 到 24"),
        (f"x | {nxt} | 1 | 0 | y", "1 到 100000"),
        (f"x | {nxt} | 1 | 100001 | y", "1 到 100000"),
        (f"{'长' * 101} | {nxt} | 1 | 5 | y", "标题太长"),
        (f"x | {nxt} | 1 | 5 | {'地' * 201}", "地点太长"),
    ]
    for fields, expected in cases:
        sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity {fields}")
        assert len(sent) == 1 and expected in first_reply(sent).text, (
            fields,
            first_reply(sent).text,
        )
        assert "例如：/activity" in first_reply(sent).text or "例如" in first_reply(sent).text
    good = f"x | {nxt} | 1 | 5 | y"
    sent = await tb.send(t["member_a"], t["chat_a"], f"/activity {good}")
    assert "书记或团干部" in first_reply(sent).text  # wrong role
    sent = await tb.send(t["sec_a"], None, f"/activity {good}")
    assert "群聊" in first_reply(sent).text  # wrong chat
    lonely = tb.em.add_group("未绑定的群", members=[t["boss"]["id"]])
    sent = await tb.send(t["boss"], lonely, f"/activity {good}")
    assert "尚未绑定" in first_reply(sent).text
    await tb.send(t["boss"], None, "/lang en")
    sent = await tb.send(t["boss"], t["root"], f"/activity x | {nxt} | 1 | 0 | y")
    assert "Capacity" in first_reply(sent).text and "e.g. /activity" in first_reply(sent).text
    sent = await tb.send(t["member_b"], t["chat_b"], f"/activity {good}")
    assert first_reply(sent).text.startswith("Only the secretary")
    for cmd in ("/checkin abc", "/close #x"):
        sent = await tb.send(t["sec_a"], t["chat_a"], cmd)
        assert "不是" in first_reply(sent).text or "无效" in first_reply(sent).text
    row = await tb.db.fetchone("SELECT COUNT(*) FROM activities")
    assert row[0] == 0


# --- cancel, list (the guided form: test_activity_form.py) --------------------------------


async def test_cancel_tells_everyone_and_list_shows_open_ones(tb: Harness) -> None:
    t = await build_tower(tb)
    nxt, _ = when(2 * 86400)
    keep, _ = await create(tb, t["boss"], t["root"], f"全区活动 | {nxt} | 1 | 5 | 区里")
    act_id, card = await create(tb, t["sec_a"], t["chat_a"], f"乡里活动 | {nxt} | 1 | 1 | 乡里")
    await join(tb, card, act_id, t["member_a"], t["boss"])  # the boss waits
    listed = (await tb.send(t["boss"], t["root"], "/activities"))[0].text
    assert f"#{keep} 全区活动" in listed and f"#{act_id} 乡里活动" in listed
    assert "1/1 · 候补 1" in listed
    only_here = (await tb.send(t["sec_a"], t["chat_a"], "/activities"))[0].text
    assert f"#{keep}" not in only_here and f"#{act_id}" in only_here

    sent = await tb.send(t["member_a"], t["chat_a"], f"/activity cancel {act_id}")
    assert "书记或团干部" in first_reply(sent).text
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity cancel {act_id}")
    assert "已私聊通知 2 人" in first_reply(sent).text
    await tb.drain()
    for user in (t["member_a"], t["boss"]):
        assert "已被组织者取消" in tb.last_text(user["id"])
    assert await wait_for(lambda: _has(tb, card, "活动已取消"))
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_b"], card, f"act:{act_id}:join")
    # the card lost its buttons when it was redrawn: a press of the old button is refused
    assert "no longer valid" in answers_since(tb, mark)[0]["text"]
    listed = (await tb.send(t["boss"], t["root"], "/activities"))[0].text
    assert f"#{act_id}" not in listed
    rows = await rem_repo.of_ref(tb.db.reader, "activity", act_id)
    assert rows and all(r.status == "cancelled" for r in rows)


def test_editor_pacing_limits() -> None:
    """One copy: at most one edit per interval; one group: at most 20 a minute."""
    editor = CardEditor.__new__(CardEditor)
    editor._last_edit, editor._chats = {}, {}
    card = act_repo.Card(id=1, activity_id=1, chat_id=-5, message_id=9)
    now = 1000.0
    assert editor._ready_at(card, now) <= now
    editor._last_edit[1] = now
    assert editor._ready_at(card, now + 1) == now + CardEditor.COPY_INTERVAL
    pace = editor._chats[-5]
    pace.window.extend(now + i for i in range(20))
    other = act_repo.Card(id=2, activity_id=2, chat_id=-5, message_id=10)
    assert editor._ready_at(other, now + 30) > now + 60
