"""Attendance marked by the organiser through the emulator: the private roster, marks before
/close (they decide what /close counts), marks after it (the hours follow: credited, revoked),
the log of marks, totals, the export's evidence column, and presses from the wrong person."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain.activities.attendance import build
from storage import activities as act_repo
from storage import attendance as att_repo
from storage import hours as hours_repo
from tests.conftest import Harness, build_tower
from tests.helpers import with_button
from tests.test_activities import answers_since, create, register_many, when

pytestmark = pytest.mark.usefixtures("engine")


async def roster(tb: Harness, who: dict, chat: Any, act_id: int) -> Any:
    """`/attendance <id>` in `chat`; the roster message in `who`'s private chat."""
    await tb.send(who, chat, f"/attendance {act_id}")
    return roster_in(tb, who, act_id)


def roster_in(tb: Harness, who: dict, act_id: int) -> Any:
    """The newest roster of `act_id` in `who`'s private chat."""
    data = f"'att:p:{act_id}:"
    return next(s for s in reversed(tb.em.messages_to(who["id"])) if data in str(s.reply_markup))


async def press(tb: Harness, who: dict, message: Any, data: str) -> str:
    """`who` presses `data` on `message`; the button's answer."""
    mark = len(tb.em.callback_answers)
    await tb.press(who, message, data)
    got = answers_since(tb, mark)
    assert got, data
    return str(got[-1].get("text") or "")


def shown(tb: Harness, message: Any) -> str:
    return str((tb.em.message(message.chat_id, message.message_id) or {}).get("text", ""))


async def entries(tb: Harness, user: dict) -> list[tuple[str, str | None]]:
    rows = await tb.db.fetchall(
        "SELECT status, evidence FROM hour_entries WHERE user_id = ? ORDER BY id", (user["id"],)
    )
    return [(r[0], r[1]) for r in rows]


async def totals_match(tb: Harness, org_id: int) -> None:
    """hour_totals (kept by triggers) equal the approved entries recounted."""
    kept = await tb.db.fetchall(
        "SELECT year, quarters, entries FROM hour_totals WHERE org_id = ? AND entries > 0"
        " ORDER BY year",
        (org_id,),
    )
    counted = await tb.db.fetchall(
        "SELECT CAST(substr(served_on, 1, 4) AS INTEGER), SUM(quarters), COUNT(*)"
        " FROM hour_entries WHERE status = 'approved' AND org_id = ? GROUP BY 1 ORDER BY 1",
        (org_id,),
    )
    assert [tuple(r) for r in kept] == [tuple(r) for r in counted]


async def test_marks_before_and_after_close_move_the_hours(tb: Harness) -> None:
    t = await build_tower(tb)
    sec, member = t["sec_a"], t["member_a"]
    soon, _ = when(1800)
    act_id, card = await create(tb, sec, t["chat_a"], f"义诊 | {soon} | 2.5 | 10 | 卫生院")
    a, b, c = await register_many(tb, 3, "yanshan.dabu", "P")
    for p in (member, a, b, c, sec):
        await tb.press(p, card, f"act:{act_id}:join")
    button = with_button(await tb.send(sec, t["chat_a"], f"/checkin {act_id}"), f"act:{act_id}:in")
    await tb.press(member, button, f"act:{act_id}:in")  # member checks in; a, b, c do not

    # the roster goes privately; the group is told so, and sees no name
    sent = await tb.send(sec, t["chat_a"], f"/attendance {act_id}")
    group = [s.text for s in sent if s.chat_id == t["chat_a"]["id"]]
    assert group and "私信" in group[0] and "R" not in group[0]
    page = roster_in(tb, sec, act_id)
    assert "陈小红" in page.text and "📍" in page.text and "共 5 人" in page.text

    # before /close: marks decide what /close will count
    assert "到场" in await press(tb, sec, page, build("p", act_id, 0, a["id"]))
    assert "没有变化" in await press(tb, sec, page, build("p", act_id, 0, a["id"]))  # double tap
    await press(tb, sec, page, build("n", act_id, 0, member["id"]))  # checked in, marked absent
    await press(tb, sec, page, build("u", act_id, 0, member["id"]))  # undone: the check-in counts
    await press(tb, sec, page, build("p", act_id, 0, c["id"]))
    await press(tb, sec, page, build("u", act_id, 0, c["id"]))  # undone: not checked in
    assert "不能标记自己" in await press(tb, sec, page, build("p", act_id, 0, sec["id"]))
    assert "组织者标记" in shown(tb, page)  # the roster redrew with a's mark
    assert await hours_repo.count_of(tb.db.reader, a["id"]) == 0  # no hours before /close

    sent = await tb.send(sec, t["chat_a"], f"/close {act_id}")
    assert "签到 2 人" in next(s.text for s in sent if s.method == "sendMessage")
    assert await entries(tb, member) == [("approved", "checkin")]
    assert await entries(tb, a) == [("approved", "marked")]
    assert await entries(tb, b) == [] and await entries(tb, c) == []
    assert (await act_repo.signup_of(tb.db.reader, act_id, c["id"])).attendance == "no_show"

    # after /close: the hours follow each mark
    await tb.drain()
    page = await roster(tb, sec, t["chat_a"], act_id)
    assert "活动已结束" in page.text
    got = await press(tb, sec, page, build("p", act_id, 0, b["id"]))
    assert "已为其记入时长" in got
    assert await entries(tb, b) == [("approved", "marked")]
    assert "没有变化" in await press(tb, sec, page, build("p", act_id, 0, b["id"]))
    assert await entries(tb, b) == [("approved", "marked")]  # a double tap credits once
    got = await press(tb, sec, page, build("n", act_id, 0, a["id"]))
    assert "已撤销时长" in got
    assert await entries(tb, a) == [("revoked", "marked")]
    entry = (await hours_repo.history(tb.db.reader, a["id"], limit=1, offset=0))[0]
    assert entry.revoked_by == sec["id"] and "义诊" in (entry.revoke_reason or "")
    await press(tb, sec, page, build("u", act_id, 0, b["id"]))  # b never checked in: revoked
    assert await entries(tb, b) == [("revoked", "marked")]
    await press(tb, sec, page, build("p", act_id, 0, b["id"]))  # and present again: a new entry
    assert await entries(tb, b) == [("revoked", "marked"), ("approved", "marked")]
    # the staff above may mark too, privately
    page = await roster(tb, t["boss"], None, act_id)
    await press(tb, t["boss"], page, build("n", act_id, 0, member["id"]))
    assert await entries(tb, member) == [("revoked", "checkin")]

    # totals count approved entries only
    for p, approved in ((member, 0), (a, 0), (b, 10), (c, 0)):
        assert (await tb.services.hours.summary(p["id"])).approved == approved, p
    dabu = await tb.services.tower.org_by_code("yanshan.dabu")
    await totals_match(tb, dabu.id)
    # the volunteer is told privately, once per revoked entry
    await tb.drain()
    told = [s for s in tb.texts(a["id"]) if "已被撤销" in s]
    assert len(told) == 1 and "义诊" in told[0]
    # ... and once per entry credited after the close (b: marked present twice)
    credited = [s for s in tb.texts(b["id"]) if "组织者已确认你参加了" in s]
    assert len(credited) == 2 and all("义诊" in s and "小时" in s for s in credited)
    assert not [s for s in tb.texts(member["id"]) if "组织者已确认你参加了" in s]  # by /close
    # every mark is logged: who, when, what, the entry it moved
    log = await att_repo.log_of(tb.db.reader, act_id)
    assert [(m.user_id, m.mark, m.after_close) for m in log] == [
        (a["id"], "present", False),
        (member["id"], "no_show", False),
        (member["id"], "undo", False),
        (c["id"], "present", False),
        (c["id"], "undo", False),
        (b["id"], "present", True),
        (a["id"], "no_show", True),
        (b["id"], "undo", True),
        (b["id"], "present", True),
        (member["id"], "no_show", True),
    ]
    assert {m.by_user for m in log} == {sec["id"], t["boss"]["id"]}
    assert log[5].credited and log[6].revoked

    # the export says which entries have evidence, and which are revoked
    docs = len(tb.em.documents)
    await tb.send(sec, t["chat_a"], "/export hours")
    await tb.drain()
    doc = tb.em.documents[docs:][-1]
    ws = load_workbook(io.BytesIO(doc["bytes"])).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    head = next(r for r in rows if r and r[0] == "编号")
    assert head[-1] == "凭证"
    body = [r for r in rows if isinstance(r[0], int)]
    assert {(r[3], r[-1]) for r in body} == {
        ("已撤销", "签到记录"),
        ("已撤销", "组织者点名"),
        ("已通过", "组织者点名"),
    }


async def test_roster_refuses_others_and_odd_presses(tb: Harness) -> None:
    t = await build_tower(tb)
    sec, member = t["sec_a"], t["member_a"]
    soon, _ = when(1800)
    act_id, card = await create(tb, sec, t["chat_a"], f"义诊 | {soon} | 2 | 10 | 卫生院")
    await tb.press(member, card, f"act:{act_id}:join")
    # a member may not open the roster; usage for a missing or odd id
    sent = await tb.send(member, t["chat_a"], f"/attendance {act_id}")
    assert "书记或团干部" in sent[0].text
    assert not [s for s in tb.em.messages_to(member["id"]) if "att:" in str(s.reply_markup)]
    assert (await tb.send(sec, t["chat_a"], "/attendance"))[0].text.startswith("用法")
    assert "0–9" in (await tb.send(sec, t["chat_a"], "/attendance ١٢"))[0].text
    assert "活动编号" in (await tb.send(sec, t["chat_a"], "/attendance abc"))[0].text
    page = await roster(tb, sec, t["chat_a"], act_id)
    data = build("n", act_id, 0, member["id"])
    # someone else pressing the organiser's private roster: refused, nothing changes
    assert "不属于这里" in await press(tb, member, page, data)
    assert await att_repo.log_of(tb.db.reader, act_id) == []
    # data not on the message (a forged person): refused before any feature sees it
    assert "失效" in await press(tb, sec, page, build("p", act_id, 0, t["outsider"]["id"]))
    assert await att_repo.log_of(tb.db.reader, act_id) == []
    # Tom has no role: refused in private too
    sent = await tb.send(t["member_b"], None, f"/attendance {act_id}")
    assert sent and "secretar" in (sent[0].text or "").lower()
    # a cancelled activity has no attendance
    await tb.send(sec, t["chat_a"], f"/activity cancel {act_id}")
    assert "取消" in await press(tb, sec, page, data)
    assert await att_repo.log_of(tb.db.reader, act_id) == []
