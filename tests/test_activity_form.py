"""The guided /activity form (issue 14): the optional steps (sign-up deadline, posts,
repetition) with their Skip buttons, bad answers refused in one line with the step asked again,
and an activity made by the form identical to the one the same one-line command makes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.activities.form import skip_data
from storage import activities as act_repo
from storage import reminders as rem_repo
from tests.conftest import Harness, build_tower
from tests.test_activities import first_reply, latest_activity, when
from tests.test_activity_series import next_monday, occurrences

pytestmark = pytest.mark.usefixtures("engine")

#: what differs between two otherwise identical activities
OWN = {"id", "created_at", "series_id", "org_name"}


async def answer(tb: Harness, user: dict, text: str) -> Any:
    """`user` answers the form in private; the bot's (last) answer there."""
    sent = [s for s in await tb.send(user, None, text) if s.chat_id == user["id"]]
    assert sent, text
    return sent[-1]


async def skip(tb: Harness, user: dict, question: Any, step: str) -> Any:
    """`user` presses Skip on the question of `step`; the next question."""
    sent = [s for s in await tb.press(user, question, skip_data(step)) if s.chat_id == user["id"]]
    assert sent, step
    return sent[-1]


def has_skip(sent: Any, step: str) -> bool:
    return skip_data(step) in str(sent.reply_markup or "")


async def flow_step(tb: Harness, user: dict) -> str:
    state = await tb.services.activities.form_state(user["id"])
    return state.step if state is not None else ""


async def test_common_case_skips_and_bad_answers_ask_again(tb: Harness) -> None:
    t = await build_tower(tb)
    sec = t["sec_a"]
    assert (
        "书记或团干部" in first_reply(await tb.send(t["member_a"], t["chat_a"], "/activity")).text
    )
    assert "私聊" in first_reply(await tb.send(sec, t["chat_a"], "/activity")).text
    await tb.drain()
    assert "第 1 步" in tb.last_text(sec["id"])
    nxt, starts = when(2 * 86400)
    q = await answer(tb, sec, "周末支教")
    assert "第 2 步" in q.text and not q.reply_markup
    q = await answer(tb, sec, nxt)
    assert "第 3 步" in q.text and "截止" in q.text and has_skip(q, "deadline")
    # a deadline after the start: its reason in one line, the same question again, nothing kept
    late, _ = when(3 * 86400)
    q = await answer(tb, sec, late)
    reason, *rest = q.text.split("\n")
    assert late in reason and "晚于活动开始" in reason and rest, q.text
    assert "第 3 步" in q.text and has_skip(q, "deadline")
    assert await flow_step(tb, sec) == "deadline"
    # a stale Skip (of another step) changes nothing
    mark = len(tb.em.callback_answers)
    await tb.press(sec, q, skip_data("posts"))
    assert tb.em.callback_answers[mark:] and await flow_step(tb, sec) == "deadline"
    q = await skip(tb, sec, q, "deadline")
    assert "第 4 步" in q.text and has_skip(q, "repeat")
    q = await skip(tb, sec, q, "repeat")
    assert "第 5 步" in q.text
    q = await answer(tb, sec, "0.1")
    assert "0.25 到 24" in q.text and "第 5 步" in q.text
    q = await answer(tb, sec, "3")
    assert "第 6 步" in q.text and has_skip(q, "posts")
    q = await answer(tb, sec, "引导 0")  # the one-line form's own reason
    assert "名额“0”无效" in q.text.split("\n")[0] and "第 6 步" in q.text
    q = await answer(tb, sec, "跳过")  # typed works as well as the button
    assert "第 7 步" in q.text and "名额" in q.text
    q = await answer(tb, sec, "20")
    assert "第 8 步" in q.text
    q = await answer(tb, sec, "希望小学")
    assert "第 9 步" in q.text and has_skip(q, "location")
    done = await skip(tb, sec, q, "location")
    assert "已创建" in done.text
    await tb.drain()
    act = await act_repo.get(tb.db.reader, await latest_activity(tb))
    assert act is not None
    assert (act.title, act.starts_at, act.quarters, act.capacity) == ("周末支教", starts, 12, 20)
    assert act.signup_deadline is None and act.series_id is None and act.posts == ()
    card = tb.em.last_to(t["chat_a"]["id"])
    assert "0/20 · 候补 0" in card.text
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_a"], card, f"act:{act.id}:join")  # the outbox's card is live
    assert tb.em.callback_answers[mark]["text"].startswith("报名成功")
    assert await tb.services.people.flow_name(sec["id"]) is None


def _same(a: Any) -> dict[str, Any]:
    return a.model_dump(exclude=OWN)


async def test_form_with_deadline_posts_and_repetition_equals_the_one_line(tb: Harness) -> None:
    t = await build_tower(tb)
    sec, chat = t["sec_a"], t["chat_a"]
    monday = next_monday()
    until = monday + timedelta(days=11)  # two weeks of weekdays: ten occurrences
    start, deadline = f"{monday} 16:30", f"{monday - timedelta(days=1)} 20:00"
    posts = "引导 20, 检票 10 09:00-12:00"
    rule = f"每个工作日 至 {until}"
    await tb.send(sec, chat, "/activity")
    await tb.drain()
    for text, expected in [
        ("七彩四点半", "第 2 步"),
        (start, "第 3 步"),
        (deadline, "第 4 步"),
        ("每月一次", "看不懂重复规则"),  # refused: asked again
        (f"每个工作日 至 {monday - timedelta(days=3)}", "早于第一场"),
        (rule, "第 5 步"),
        ("1.5", "第 6 步"),
        (posts, "第 7 步"),  # the capacity is the posts' sum: not asked
        ("青年之家", "第 8 步"),
    ]:
        q = await answer(tb, sec, text)
        assert expected in q.text, (text, q.text)
    assert "地点" in q.text or "定位" in q.text
    done = await skip(tb, sec, q, "location")
    assert "已创建" in done.text
    await tb.drain()
    by_form = await occurrences(tb, int(done.text.split("#")[1].split()[0]))
    line = f"七彩四点半 | {start} | 1.5 | - | 青年之家 | 截止 {deadline} | 岗位 {posts} | {rule}"
    sent = await tb.send(sec, chat, f"/activity {line}")
    card_line = next(s for s in sent if "act:" in str(s.reply_markup))
    await tb.drain()
    by_line = await occurrences(tb, await latest_activity(tb) - len(by_form) + 1)
    assert len(by_form) == len(by_line) == 10
    assert [_same(a) for a in by_form] == [_same(a) for a in by_line]
    first = by_form[0]
    assert first.capacity == 30 and [p.name for p in first.posts] == ["引导", "检票"]
    assert first.signup_deadline is not None and first.signup_deadline < first.starts_at
    for a, b in zip(by_form, by_line, strict=True):
        due = [(r.step, r.due_at) for r in await rem_repo.of_ref(tb.db.reader, "activity", a.id)]
        assert due == [
            (r.step, r.due_at) for r in await rem_repo.of_ref(tb.db.reader, "activity", b.id)
        ]
    # the cards: one each in the chat, the same text but for the id
    card_form = next(
        s for s in tb.em.messages_to(chat["id"]) if f"act:{first.id}:" in str(s.reply_markup)
    )
    assert card_form.text == card_line.text.replace(f"#{by_line[0].id}", f"#{first.id}")
    for found in (by_form, by_line):
        cards = await tb.db.fetchall(
            "SELECT activity_id, chat_id FROM activity_cards WHERE activity_id IN ("
            + ",".join(str(a.id) for a in found)
            + ")"
        )
        assert [tuple(r) for r in cards] == [(found[0].id, chat["id"])]
    series = await tb.db.fetchall(
        "SELECT rule, total, org_id, created_by FROM activity_series ORDER BY id"
    )
    assert [tuple(r) for r in series] == [("weekdays", 10, first.org_id, sec["id"])] * 2


async def test_the_form_ends_in_the_activitys_own_transaction(
    tb: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ending the form and creating the activity commit together: if the first fails, no
    activity stays behind for a second answer to create again."""
    from bot.domain import cache as flows

    t = await build_tower(tb)
    sec = t["sec_a"]
    await tb.send(sec, t["chat_a"], "/activity")
    await tb.drain()
    nxt, _ = when(2 * 86400)
    for text in ["一次的活动", nxt, "跳过", "跳过", "2", "跳过", "10", "青年之家"]:
        await answer(tb, sec, text)
    assert await flow_step(tb, sec) == "location"

    async def made() -> list[int]:
        rows = await tb.db.fetchall("SELECT id FROM activities WHERE title = ?", ("一次的活动",))
        return [int(r[0]) for r in rows]

    real = flows.clear_flow

    async def broken(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(flows, "clear_flow", broken)
    failed = await answer(tb, sec, "跳过")
    assert "已创建" not in failed.text
    assert await made() == [] and await flow_step(tb, sec) == "location"
    monkeypatch.setattr(flows, "clear_flow", real)
    done = await answer(tb, sec, "跳过")
    assert "已创建" in done.text and await flow_step(tb, sec) == ""
    assert len(await made()) == 1
