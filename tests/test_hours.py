"""Volunteer hours through the emulator: logging, history, approval, races, exports, erasure."""

from __future__ import annotations

import asyncio
import io
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain.hours import fmt_hours
from tests.conftest import INTEGRITY_ERRORS, register

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


async def count_rows(tb: Any, table: str = "hour_entries") -> int:
    row = await tb.db.fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(row[0])


async def entry(tb: Any, entry_id: int) -> dict:
    row = await tb.db.fetchone("SELECT * FROM hour_entries WHERE id = ?", (entry_id,))
    return dict(row)


async def listed(tb: Any, tower: dict, *staff: str) -> tuple[int, list]:
    """member_a logs 2 hours of 七彩四点半; the entry's id and the /pending listing each of
    `staff` (the tower's names for them) then gets in private, in that order."""
    entry_id = await log(tb, tower["member_a"], "2 七彩四点半")
    await tb.drain()  # queued notices land before /pending's answers
    return entry_id, [(await tb.send(tower[who], None, "/pending"))[0] for who in staff]


async def log(tb: Any, user: dict, text: str) -> int:
    """Log hours; returns the new entry's id."""
    before = await count_rows(tb)
    out = await tb.send(user, None, f"/hours {text}")
    assert await count_rows(tb) == before + 1, out[-1].text
    row = await tb.db.fetchone("SELECT MAX(id) FROM hour_entries")
    return int(row[0])


async def add_people(tb: Any, tower: dict) -> dict:
    """A secretary of the other branch (jiedao) and a staff member of the district."""
    em = tb.em
    sec_b = em.add_user("周强", username="zhouqiang")
    staff = em.add_user("赵敏", username="zhaomin")
    for user in (sec_b, staff):
        em.set_member(tower["root"], user, "member")
    em.set_member(tower["chat_b"], sec_b, "member")
    await register(tb, sec_b, "周强", "yanshan.jiedao")
    await register(tb, staff, "赵敏", "yanshan")
    msg = em.text(sec_b, tower["chat_b"], "收到")["message"]
    await tb.send(tower["boss"], tower["chat_b"], "/role secretary", reply_to=msg)
    msg = em.text(staff, tower["root"], "收到")["message"]
    await tb.send(tower["boss"], tower["root"], "/role staff", reply_to=msg)
    return dict(tower, sec_b=sec_b, staff=staff)


# --- logging ---------------------------------------------------------------------------------


async def test_log_hours_records_a_pending_entry_at_the_persons_org(tb, tower):
    ma = tower["member_a"]
    out = await tb.send(ma, None, "/hours 2.5 七彩四点半 homework club")
    assert "#1" in out[-1].text and "2.5" in out[-1].text
    row = await entry(tb, 1)
    dabu = await tb.db.fetchone("SELECT id FROM orgs WHERE code = 'yanshan.dabu'")
    assert row["status"] == "pending" and row["quarters"] == 10
    assert row["org_id"] == dabu[0]
    assert row["served_on"] == tb.services.hours.today().isoformat()
    assert row["description"] == "七彩四点半 homework club"


@pytest.mark.parametrize(
    ("text", "needle_zh"),
    [
        ("/hours abc 服务", "不是时长"),
        ("/hours 0 服务", "大于 0"),
        ("/hours 25 服务", "不超过 24"),
        ("/hours 1.1 服务", "0.25"),
        ("/hours 2 2020-01-01 服务", "最近 365 天"),
        ("/hours 2 2999-01-01 服务", "不能晚于今天"),
        ("/hours 2 2025-02-30 服务", "不是有效日期"),
        ("/hours 2", "服务内容"),
        ("/hours 2 " + "长" * 501, "太长"),
    ],
)
async def test_bad_input_gets_a_clear_answer_and_changes_nothing(tb, tower, text, needle_zh):
    before = await count_rows(tb), await count_rows(tb, "hour_drafts")
    out = await tb.send(tower["member_a"], None, text)
    assert len(out) == 1
    assert needle_zh in out[0].text
    assert "/hours 2.5" in out[0].text  # with a correct example
    assert (await count_rows(tb), await count_rows(tb, "hour_drafts")) == before


async def test_wrong_input_answers_in_english_too(tb, tower):
    out = await tb.send(tower["member_b"], None, "/hours 1.1 homework club")
    assert "steps of 0.25" in out[0].text and "/hours 2.5" in out[0].text


async def test_only_registered_people_log_and_only_in_private(tb, tower):
    out = await tb.send(tower["outsider"], None, "/hours 2 服务")
    assert "还没有注册" in out[0].text
    out = await tb.send(tower["member_a"], tower["chat_a"], "/hours 2 服务")
    assert "私聊" in out[0].text
    assert await count_rows(tb) == 0


async def test_same_entry_twice_in_a_day_asks_before_logging(tb, tower):
    ma = tower["member_a"]
    await log(tb, ma, "2 图书馆整理")
    out = await tb.send(ma, None, "/hours 2 图书馆整理")
    assert "已经登记过相同" in out[0].text
    assert await count_rows(tb) == 1
    await tb.press(ma, out[0], out[0].reply_markup["inline_keyboard"][0][1]["callback_data"])
    assert await count_rows(tb) == 1 and await count_rows(tb, "hour_drafts") == 0
    out = await tb.send(ma, None, "/hours 2 图书馆整理")
    yes = out[0].reply_markup["inline_keyboard"][0][0]["callback_data"]
    answer = await tb.press(ma, out[0], yes)
    assert await count_rows(tb) == 2
    assert any("#2" in (s.text or "") for s in answer)
    again = await tb.press(ma, out[0], yes)  # a stale second press logs nothing
    assert await count_rows(tb) == 2
    assert any("失效" in (s.text or "") for s in again)


async def test_myhours_pages_with_prev_and_next(tb, tower):
    ma = tower["member_a"]
    for i in range(10):
        await log(tb, ma, f"1 服务 {i}")
    out = await tb.send(ma, None, "/myhours")
    first = out[0]
    assert "1/2" in first.text and "#10" in first.text and "#1\n" not in first.text
    buttons = first.reply_markup["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["hrs:my:1"]
    await tb.press(ma, first, "hrs:my:1")
    shown = tb.em.message(first.chat_id, first.message_id)
    assert "2/2" in shown["text"] and "#1 " in shown["text"]
    assert [b["callback_data"] for b in shown["reply_markup"]["inline_keyboard"][0]] == ["hrs:my:0"]


async def test_me_shows_totals_stars_and_hours_to_next_star(tb, tower):
    ma = tower["member_a"]
    hours = tb.services.hours
    uid = ma["id"]
    person = await tb.services.people.person(uid)
    async with tb.db.transaction() as tx:
        for _ in range(5):
            await hours.credit(
                tx,
                user_id=uid,
                org_id=person.org_id,
                hours=24,
                served_on=hours.today().isoformat(),
                description="活动",
                source="activity:1",
                by=tower["boss"]["id"],
            )
    await log(tb, ma, "1.5 待审")
    out = await tb.send(ma, None, "/me")
    text = out[0].text
    assert "已认定：120 小时（今年 120 小时）" in text
    assert "待审核：1.5 小时" in text
    assert "★，再服务 180 小时达到 ★★" in text


# --- approval ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("member_a", False),
        ("sec_b", False),
        ("sec_a", True),
        ("staff", True),
        ("boss", True),
    ],
)
async def test_permission_matrix(tb, tower, who, allowed):
    people = await add_people(tb, tower)
    entry_id = await log(
        tb, people["member_b"] if who == "member_a" else people["member_a"], "2 七彩四点半"
    )
    if who == "member_a":  # a member cannot approve even a fellow member of another branch
        entry_id = await log(tb, people["member_a"], "2 七彩四点半")
    user = people[who]
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(user, None, "/pending"))[0]
    listed = f"hrs:ok:{entry_id}:0" in str(listing.reply_markup)
    assert listed == allowed
    await tb.press(user, listing, f"hrs:ok:{entry_id}:0")
    status = (await entry(tb, entry_id))["status"]
    assert status == ("approved" if allowed else "pending")
    if not allowed:
        assert tb.em.callback_answers[-1]["show_alert"]


async def test_pending_in_a_group_lists_that_branch_with_display_names_only(tb, tower):
    people = await add_people(tb, tower)
    a = await log(tb, people["member_a"], "2 七彩四点半")
    b = await log(tb, people["member_b"], "3 clean-up")
    out = await tb.send(people["sec_a"], people["chat_a"], "/pending")
    assert f"#{a}" in out[0].text and f"#{b}" not in out[0].text
    assert "陈小红" not in out[0].text and "小红" in out[0].text  # display name, not real name
    out = await tb.send(people["staff"], people["root"], "/pending")
    assert f"#{a}" in out[0].text and f"#{b}" in out[0].text
    out = await tb.send(people["sec_a"], people["root"], "/pending")
    assert "只有" in out[0].text  # not a secretary of the district


async def test_nobody_approves_their_own_entries(tb, tower):
    people = await add_people(tb, tower)
    own = await log(tb, people["sec_a"], "3 组织活动")
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(people["sec_a"], None, "/pending"))[0]
    assert f"#{own}" not in listing.text
    answer = await tb.press(people["sec_a"], listing, f"hrs:ok:{own}:0")
    # not a button of that listing: refused before it is looked at (a forged copy that carries
    # it is refused as their own entry: tests/security/test_buttons.py)
    assert "已失效" in tb.em.callback_answers[-1]["text"]
    assert (await entry(tb, own))["status"] == "pending"
    assert not [s for s in answer if s.method == "sendMessage"]
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(people["staff"], None, "/pending"))[0]
    await tb.press(people["staff"], listing, f"hrs:ok:{own}:0")
    assert (await entry(tb, own))["status"] == "approved"


async def test_approve_and_reject_at_once_make_exactly_one_decision(tb, tower):
    ma, sec, boss = tower["member_a"], tower["sec_a"], tower["boss"]
    entry_id, (l1, l2) = await listed(tb, tower, "sec_a", "boss")
    prompt = next(
        s for s in await tb.press(boss, l2, f"hrs:no:{entry_id}:0") if s.method == "sendMessage"
    )
    mark = len(tb.em.callback_answers)
    await asyncio.gather(
        tb.press(sec, l1, f"hrs:ok:{entry_id}:0"), tb.press(boss, prompt, f"hrs:nr:{entry_id}")
    )
    row = await entry(tb, entry_id)
    assert row["status"] in ("approved", "rejected")
    assert row["decided_by"] == (sec if row["status"] == "approved" else boss)["id"]
    stale = [a for a in tb.em.callback_answers[mark:] if "已由" in (a.get("text") or "")]
    stale += [s for s in tb.em.messages_to(boss["id"]) if "已由" in (s.text or "")]
    assert len(stale) == 1  # the loser learns who decided
    await tb.drain()
    told = [t for t in tb.texts(ma["id"]) if "通过审核" in t]
    assert len(told) == 1


async def test_two_approves_at_once_one_decision_one_notification(tb, tower):
    ma, sec, boss = tower["member_a"], tower["sec_a"], tower["boss"]
    entry_id, (l1, l2) = await listed(tb, tower, "sec_a", "boss")
    mark = len(tb.em.callback_answers)
    await asyncio.gather(
        tb.press(sec, l1, f"hrs:ok:{entry_id}:0"), tb.press(boss, l2, f"hrs:ok:{entry_id}:0")
    )
    row = await entry(tb, entry_id)
    assert row["status"] == "approved" and row["decided_by"] in (sec["id"], boss["id"])
    answers = tb.em.callback_answers[mark:]
    assert len([a for a in answers if "已通过" in (a.get("text") or "")]) == 1
    stale = [a for a in answers if "已由" in (a.get("text") or "")]
    assert len(stale) == 1
    winner = "李娜" if row["decided_by"] == sec["id"] else "晓明"
    assert winner in stale[0]["text"]
    queued = await tb.db.fetchone(
        "SELECT COUNT(*) FROM outbox WHERE ref = ?", (f"hours:{entry_id}",)
    )
    assert queued[0] == 1
    await tb.drain()
    told = [t for t in tb.texts(ma["id"]) if "已通过审核" in t]
    assert len(told) == 1


async def test_stale_button_says_who_decided_and_when(tb, tower):
    sec, boss = tower["sec_a"], tower["boss"]
    entry_id, (old, listing) = await listed(tb, tower, "boss", "sec_a")
    await tb.press(sec, listing, f"hrs:ok:{entry_id}:0")
    await tb.press(boss, old, f"hrs:ok:{entry_id}:0")
    answer = tb.em.callback_answers[-1]
    when = tb.services.hours.fmt_time((await entry(tb, entry_id))["decided_at"])
    assert answer["show_alert"] and "李娜" in answer["text"] and when in answer["text"]
    assert "通过" in answer["text"]


async def test_reject_from_a_group_asks_the_reason_privately(tb, tower):
    ma, sec = tower["member_a"], tower["sec_a"]
    entry_id = await log(tb, ma, "2 七彩四点半")
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(sec, tower["chat_a"], "/pending"))[0]
    reject = listing.reply_markup["inline_keyboard"][0][1]["callback_data"]
    assert reject == f"hrs:no:{entry_id}:{await _org_id(tb, 'yanshan.dabu')}"
    out = await tb.press(sec, listing, reject)
    prompt = [s for s in out if s.chat_id == sec["id"] and s.method == "sendMessage"]
    assert prompt and "驳回理由" in prompt[0].text
    assert (await entry(tb, entry_id))["status"] == "pending"
    await tb.send(sec, None, "日期填错了，请改为上周六")
    row = await entry(tb, entry_id)
    assert row["status"] == "rejected" and row["reason"] == "日期填错了，请改为上周六"
    shown = tb.em.message(listing.chat_id, listing.message_id)
    assert f"#{entry_id}" not in shown["text"]  # the listing was redrawn without it
    await tb.drain()
    told = tb.texts(ma["id"])[-1]
    assert "未通过审核" in told and "日期填错了" in told
    assert "陈小红" not in "".join(tb.texts(tower["chat_a"]["id"]))


async def _org_id(tb: Any, code: str) -> int:
    row = await tb.db.fetchone("SELECT id FROM orgs WHERE code = ?", (code,))
    return int(row[0])


async def test_reject_without_reason(tb, tower):
    sec = tower["sec_a"]
    entry_id, (listing,) = await listed(tb, tower, "sec_a")
    out = await tb.press(sec, listing, f"hrs:no:{entry_id}:0")
    prompt = next(s for s in out if s.method == "sendMessage")
    await tb.press(sec, prompt, f"hrs:nr:{entry_id}")
    row = await entry(tb, entry_id)
    assert row["status"] == "rejected" and row["reason"] is None
    assert await tb.services.people.flow_name(sec["id"]) is None


async def test_decided_entries_never_change(tb, tower):
    sec = tower["sec_a"]
    entry_id, (listing,) = await listed(tb, tower, "sec_a")
    await tb.press(sec, listing, f"hrs:ok:{entry_id}:0")
    for sql in (
        "UPDATE hour_entries SET quarters = 40 WHERE id = ?",
        "UPDATE hour_entries SET status = 'pending', decided_at = NULL WHERE id = ?",
        "DELETE FROM hour_entries WHERE id = ?",
    ):
        with pytest.raises(INTEGRITY_ERRORS):
            async with tb.db.transaction() as tx:
                await tx.execute(sql, (entry_id,))
    assert (await entry(tb, entry_id))["quarters"] == 8


async def test_weekly_digest_goes_once_per_approver_per_week(tb, tower):
    people = await add_people(tb, tower)
    await log(tb, people["member_a"], "2 七彩四点半")
    hours = tb.services.hours
    first = await hours.weekly_digest()
    second = await hours.weekly_digest()
    assert second == 0
    rows = await tb.db.fetchall("SELECT chat_id FROM outbox WHERE ref = 'hours:digest'")
    # the dabu entry waits for sec_a, the district staff and the superuser; not for sec_b
    assert sorted(r[0] for r in rows) == sorted(
        [people["sec_a"]["id"], people["staff"]["id"], people["boss"]["id"]]
    )
    assert first == 3


# --- erasure and exports ----------------------------------------------------------------------


async def test_forgetme_keeps_approved_hours_anonymised(tb, tower):
    ma, sec = tower["member_a"], tower["sec_a"]
    approved = await log(tb, ma, "2 七彩四点半")
    pending = await log(tb, ma, "1 另一次")
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(sec, None, "/pending"))[0]
    await tb.press(sec, listing, f"hrs:ok:{approved}:0")
    ask = (await tb.send(ma, None, "/forgetme"))[0]
    await tb.press(ma, ask, "forget:y")
    assert (await entry(tb, approved))["user_id"] < 0  # a tombstone, not the account
    assert await tb.db.fetchone("SELECT 1 FROM hour_entries WHERE id = ?", (pending,)) is None
    assert await tb.db.fetchone("SELECT 1 FROM people WHERE user_id = ?", (ma["id"],)) is None
    await tb.send(tower["boss"], tower["root"], "/export hours")
    await tb.drain()
    wb = load_workbook(io.BytesIO(tb.em.documents[-1]["bytes"]))
    rows = list(wb.worksheets[0].iter_rows(min_row=3, values_only=True))[:-1]  # no totals
    assert [(r[0], r[4]) for r in rows] == [(approved, "（已删除）")]
    totals = list(wb.worksheets[2].iter_rows(min_row=3, values_only=True))
    assert totals[0][2] == 2  # the district's total keeps the hours


async def test_export_hours_matches_the_database_cell_by_cell(tb, tower):
    people = await add_people(tb, tower)
    ids = [
        await log(tb, people["member_a"], "2 七彩四点半"),
        await log(tb, people["member_b"], "1.25 clean-up <b>&"),
        await log(tb, people["member_a"], "3 图书馆"),
        await log(tb, people["sec_a"], "0.5 组织"),
    ]
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(people["staff"], None, "/pending"))[0]
    await tb.press(people["staff"], listing, f"hrs:ok:{ids[0]}:0")
    await tb.press(people["staff"], listing, f"hrs:ok:{ids[1]}:0")
    await tb.press(people["staff"], listing, f"hrs:ok:{ids[3]}:0")
    out = await tb.send(people["boss"], people["root"], "/export hours")
    # the approvals' notifications go out meanwhile: pick the answer in the root chat
    answer = next(s for s in out if s.chat_id == people["root"]["id"])
    assert "私聊" in answer.text
    await tb.drain()
    doc = tb.em.documents[-1]
    assert doc["chat_id"] == people["boss"]["id"] and doc["file_name"].endswith(".xlsx")
    wb = load_workbook(io.BytesIO(doc["bytes"]))
    assert wb.sheetnames == ["明细", "按人员汇总", "按组织汇总"]

    db_rows = await tb.db.fetchall(
        "SELECT e.*, p.real_name, o.code, o.name AS org_name FROM hour_entries e"
        " JOIN orgs o ON o.id = e.org_id LEFT JOIN people p ON p.user_id = e.user_id"
        " ORDER BY e.served_on, e.id"
    )
    sheet = list(wb["明细"].iter_rows(values_only=True))  # title, header, rows, totals
    assert sheet[1][:5] == ("编号", "服务日期", "时长（小时）", "状态", "姓名")
    status = {"pending": "待审核", "approved": "已通过", "rejected": "已驳回"}
    assert len(sheet) - 3 == len(db_rows)
    for got, want in zip(sheet[2:-1], db_rows, strict=True):
        assert got[0] == want["id"]
        assert got[1].date() == date.fromisoformat(want["served_on"])
        assert got[2] == want["quarters"] / 4
        assert got[3] == status[want["status"]]
        assert got[4] == want["real_name"]
        assert want["user_id"] not in got  # names, not Telegram ids
        assert got[5] == want["org_name"]
        assert got[6] == want["description"]
    approved_sum = sum(r["quarters"] for r in db_rows if r["status"] == "approved") / 4
    assert sheet[-1][0] == "合计（已通过）" and sheet[-1][2] == approved_sum

    people_sheet = list(wb["按人员汇总"].iter_rows(min_row=3, values_only=True))[:-1]
    sums = await tb.db.fetchall(
        "SELECT p.real_name, SUM(CASE WHEN status = 'approved' THEN quarters ELSE 0 END) AS a,"
        " SUM(CASE WHEN status = 'pending' THEN quarters ELSE 0 END) AS p, COUNT(*) AS n"
        " FROM hour_entries e JOIN people p ON p.user_id = e.user_id GROUP BY e.user_id, p.real_name"
    )
    want = {r["real_name"]: (r["a"] / 4, r["p"] / 4, r["n"]) for r in sums}
    assert len(want) == len(sums)  # the names are distinct: they key the sheet
    assert {r[0]: (r[2], r[3], r[4]) for r in people_sheet} == want

    names = {r["code"]: r["name"] for r in await tb.db.fetchall("SELECT code, name FROM orgs")}
    by_name = {r[0]: r for r in wb["按组织汇总"].iter_rows(min_row=3, values_only=True)}
    orgs_sheet = {code: by_name[name] for code, name in names.items() if name in by_name}
    for code in ("yanshan", "yanshan.dabu", "yanshan.jiedao"):
        own = await tb.db.fetchone(
            "SELECT COALESCE(SUM(quarters), 0) FROM hour_entries e JOIN orgs o ON o.id = e.org_id"
            " WHERE o.code = ? AND status = 'approved'",
            (code,),
        )
        sub = await tb.db.fetchone(
            "SELECT COALESCE(SUM(quarters), 0) FROM hour_entries e JOIN orgs o ON o.id = e.org_id"
            " WHERE o.path LIKE (SELECT path FROM orgs WHERE code = ?) || '%'"
            " AND status = 'approved'",
            (code,),
        )
        assert orgs_sheet[code][1] == own[0] / 4
        assert orgs_sheet[code][2] == sub[0] / 4
    assert orgs_sheet["yanshan"][2] == 2 + 1.25 + 0.5

    # a secretary's export holds only their subtree; nothing of it reaches a group chat
    await tb.send(people["sec_a"], people["chat_a"], "/export hours")
    await tb.drain()
    doc = tb.em.documents[-1]
    assert doc["chat_id"] == people["sec_a"]["id"]
    book = load_workbook(io.BytesIO(doc["bytes"]))
    sheet = list(book["明细"].iter_rows(min_row=3, values_only=True))[:-1]
    assert sorted(r[0] for r in sheet) == [ids[0], ids[2], ids[3]]
    assert not any("陈小红" in t for t in tb.texts(people["chat_a"]["id"]))
    out = await tb.send(people["member_a"], people["chat_a"], "/export hours")
    assert "只有" in out[0].text


async def test_export_myhours_is_a_service_record_to_certify(tb, tower):
    ma, sec = tower["member_a"], tower["sec_a"]
    ids = [
        await log(tb, ma, "2 七彩四点半"),
        await log(tb, ma, "1.75 图书馆"),
        await log(tb, ma, "3 未审"),
    ]
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(sec, None, "/pending"))[0]
    for entry_id in ids[:2]:
        await tb.press(sec, listing, f"hrs:ok:{entry_id}:0")
    await tb.send(ma, None, "/export myhours")
    await tb.drain()
    doc = tb.em.documents[-1]
    assert doc["chat_id"] == ma["id"]
    ws = load_workbook(io.BytesIO(doc["bytes"])).active
    cells = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    assert cells[0][0] == "志愿服务记录证明"
    assert ["姓名", "陈小红"] == list(cells[2][:2])
    assert ["所在组织", "大埠乡团委"] == list(cells[3][:2])
    head = cells.index(next(c for c in cells if c and c[0] == "序号"))
    body = cells[head + 1 : head + 3]
    db_rows = await tb.db.fetchall(
        "SELECT served_on, quarters, description FROM hour_entries WHERE user_id = ?"
        " AND status = 'approved' ORDER BY served_on, id",
        (ma["id"],),
    )
    assert [(r[1].date(), r[2], r[3]) for r in body] == [
        (date.fromisoformat(r["served_on"]), r["quarters"] / 4, r["description"]) for r in db_rows
    ]
    total = cells[head + 3]
    assert total[0] == "合计" and total[2] == 3.75
    flat = [str(c) for row in cells for c in row if c]
    assert "记录组织（盖章）" in flat and "负责人签字" in flat
    assert any(fmt_hours(15) in c for c in flat)


async def test_cli_export_hours(tb, tower, tmp_path, monkeypatch):
    from bot import cli

    sec = tower["sec_a"]
    entry_id, (listing,) = await listed(tb, tower, "sec_a")
    await tb.press(sec, listing, f"hrs:ok:{entry_id}:0")
    monkeypatch.setenv("TOWERBOT_DB", tb.settings.db)
    out = tmp_path / "hours.xlsx"
    year = tb.services.hours.today().year
    code = await asyncio.to_thread(
        cli.main, ["export", "hours", "--org", "yanshan", "--year", str(year), "-o", str(out)]
    )
    assert code == 0
    wb = load_workbook(out)
    rows = list(wb.worksheets[0].iter_rows(min_row=3, values_only=True))[:-1]
    assert [r[0] for r in rows] == [entry_id]
    code = await asyncio.to_thread(
        cli.main, ["export", "hours", "--org", "nosuch", "-o", str(tmp_path / "x.xlsx")]
    )
    assert code == 2


async def test_kept_totals_match_the_entries(tb, tower):
    from storage import hours as repo

    people = await add_people(tb, tower)
    hours = tb.services.hours
    ids = [await log(tb, people["member_a"], f"{q} 服务 {q}") for q in (1, 2.5, 3.75, 4)]
    ids.append(await log(tb, people["member_b"], "6 clean-up"))
    await tb.drain()  # queued notices land before /pending's answer
    listing = (await tb.send(people["staff"], None, "/pending"))[0]
    for entry_id, verb in zip(ids, ("ok", "ok", "no", "ok", "ok"), strict=True):
        out = await tb.press(people["staff"], listing, f"hrs:{verb}:{entry_id}:0")
        if verb == "no":
            prompt = next(s for s in out if s.method == "sendMessage")
            await tb.press(people["staff"], prompt, f"hrs:nr:{entry_id}")
    person = await tb.services.people.person(people["member_b"]["id"])
    async with tb.db.transaction() as tx:
        await hours.credit(
            tx,
            user_id=person.user_id,
            org_id=person.org_id,
            hours=2,
            served_on="2025-12-31",
            description="去年的活动",
            source="activity:7",
            by=people["boss"]["id"],
        )
    root = await tb.services.tower.org_by_code("yanshan")
    year = hours.today().year
    for y in (year, 2025):
        kept = await repo.totals_by_org(tb.db.reader, root.path, year=y)
        recount = await repo.totals_from_entries(tb.db.reader, root.path, year=y)
        assert sorted(kept, key=lambda s: s.org_id) == sorted(recount, key=lambda s: s.org_id)
    top = (await hours.rollup(root))[0]
    assert top.subtree == (1 + 2.5 + 4 + 6 + 2) * 4
    assert top.subtree_year == (1 + 2.5 + 4 + 6) * 4 + (8 if year == 2025 else 0)


# --- star levels with a region's own thresholds ------------------------------------------------

#: (hours logged and approved, star line in /me: zh, en) with TOWERBOT_STAR_THRESHOLDS=2,5,10,20,30
STAR_STEPS = [
    (1.75, "再服务 0.25 小时达到 ★", "0.25 h more to ★"),
    (0.25, "★，再服务 3 小时达到 ★★", "★, 3 h more to ★★"),
    (2.75, "★，再服务 0.25 小时达到 ★★", "★, 0.25 h more to ★★"),
    (0.25, "★★，再服务 5 小时达到 ★★★", "★★, 5 h more to ★★★"),
    (5, "★★★，再服务 10 小时达到 ★★★★", "★★★, 10 h more to ★★★★"),
    (10, "★★★★，再服务 10 小时达到 ★★★★★", "★★★★, 10 h more to ★★★★★"),
    (10, "★★★★★（最高星级）", "★★★★★ (top level)"),
]


def star_line(me_text: str) -> str:
    return next(
        line.split("：", 1)[-1].split(": ", 1)[-1]
        for line in me_text.splitlines()
        if line.startswith(("星级", "Stars"))
    )


async def test_custom_star_thresholds_through_me(tmp_path):
    """Each threshold of a custom STAR_THRESHOLDS, crossed by approved hours, changes /me."""
    from tests.conftest import build_tower, start_harness

    ctx, tb = await start_harness(tmp_path, star_thresholds="2,5,10,20,30")
    try:
        t = await build_tower(tb)
        approver = {"member_a": t["sec_a"], "member_b": t["boss"]}  # 中文 and English
        for n, (hours, zh, en) in enumerate(STAR_STEPS):
            for who, want in (("member_a", zh), ("member_b", en)):
                entry_id = await log(tb, t[who], f"{hours} 第{n}次服务")
                listing = (await tb.send(approver[who], None, "/pending"))[-1]
                await tb.press(approver[who], listing, f"hrs:ok:{entry_id}:0")
                assert (await entry(tb, entry_id))["status"] == "approved"
                # the approval notice goes through the outbox; let it land before /me so the
                # first reply to /me is /me's own answer
                assert await tb.drain()
                me = (await tb.send(t[who], None, "/me"))[0].text
                assert star_line(me) == want, (who, n, me)
    finally:
        await ctx.__aexit__(None, None, None)
