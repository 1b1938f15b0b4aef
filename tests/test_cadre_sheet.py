"""The annual cadre sheet (`/export cadres [year]`, 评先评优参考) through the emulator: a year of
the branch secretary's work — a report-back on time and its review result, an activity they
organised, a training they attended, their members' approved hours — checked cell by cell
against the database; sent privately only, refused to members and for a year that is not one."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain.cadre_sheet import parse_year
from bot.domain.errors import Refusal
from bot.settings import Settings
from tests.conftest import Harness, build_tower
from tests.helpers import with_button
from tests.test_cadres import say

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

TZ = Settings().tz


def test_parse_year() -> None:
    assert parse_year([], 2026) == 2026
    assert parse_year(["2025"], 2026) == 2025
    assert parse_year(["２０２５"], 2026) == 2025  # full-width digits
    for bad in (
        ["25"],
        ["20255"],
        ["二〇二五"],
        ["1999"],
        ["2025", "x"],
        [""],
        ["２０２５x"],
        ["٢٠٢٥"],
    ):
        with pytest.raises(Refusal):
            parse_year(bad, 2026)


def local(seconds_ahead: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_ahead, TZ).strftime("%Y-%m-%d %H:%M")


async def attended(tb: Harness, organiser: dict, chat: dict, line: str, who: list[dict]) -> int:
    """An activity created, joined, checked in and closed: its id."""
    sent = await tb.send(organiser, chat, line)
    await tb.drain()
    act = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    card = with_button(sent, f"act:{act}:join")
    for user in who:
        await tb.press(user, card, f"act:{act}:join")
    button = with_button(await tb.send(organiser, chat, f"/checkin {act}"), f"act:{act}:in")
    for user in who:
        await tb.press(user, button, f"act:{act}:in")
    await tb.send(organiser, chat, f"/close {act}")
    await tb.drain()
    return act


async def reviewed(tb: Harness, w: dict[str, Any]) -> int:
    """A report-back the branch sent on time, reviewed and closed by the district: its id."""
    boss, sec, root = w["boss"], w["sec_a"], w["root"]
    await tb.send(boss, root, f"/deadline new 年度述职 | {local(5 * 86400)}")
    camp = int((await tb.db.fetchone("SELECT MAX(id) FROM campaigns"))[0])
    await tb.send(sec, None, f"/submit {camp}")
    await tb.send(sec, None, "全年工作总结")
    await tb.drain()
    async with tb.db.transaction() as tx:  # its due time passed (the test cannot wait days)
        await tx.execute("UPDATE campaigns SET due_at = ? WHERE id = ?", (time.time() - 60, camp))
    await tb.send(boss, None, f"/review open {camp}")
    await tb.drain()
    card = next(
        s for s in reversed(tb.em.messages_to(boss["id"])) if "rv:g:" in str(s.reply_markup)
    )
    grade = next(
        b["callback_data"]
        for row in card.reply_markup["inline_keyboard"]
        for b in row
        if b.get("callback_data", "").startswith("rv:g:")
    )
    await tb.press(boss, card, grade)  # the first grade: 好
    await tb.send(boss, None, f"/review close {camp}")
    await tb.drain()
    return camp


async def test_annual_sheet_cell_by_cell(tb: Harness) -> None:
    w = await build_tower(tb)
    boss, sec, member, chat_a, root = w["boss"], w["sec_a"], w["member_a"], w["chat_a"], w["root"]
    camp = await reviewed(tb, w)
    soon = local(1800)
    # the secretary organises an activity their member attends (approved hours of the branch)
    await attended(tb, sec, chat_a, f"/activity 社区服务 | {soon} | 3 | 10 | 社区", [member])
    # and attends the district's 团课 (their training record)
    await attended(
        tb, boss, root, f"/activity 青马工程团课 | {soon} | 2.5 | 30 | 会议室 | 团课", [sec]
    )

    year = datetime.now(TZ).year
    mark, docs = len(tb.em.sent), len(tb.em.documents)
    answer = await say(tb, boss, root, f"/export cadres {year}")
    await tb.drain()
    assert "私聊" in answer, answer
    sent = [s for s in tb.em.sent[mark:] if s.method == "sendDocument"]
    assert [s.chat_id for s in sent] == [boss["id"]]  # privately, to the one who asked
    doc = tb.em.documents[docs:][-1]
    assert str(doc["file_name"]) == f"cadres-yanshan-{year}.xlsx"
    ws = load_workbook(io.BytesIO(doc["bytes"])).worksheets[0]
    header = [c for c in next(ws.iter_rows(min_row=2, max_row=2, values_only=True))]
    assert header[0] == "组织" and header[-1] == "本组织及下级志愿服务时长"
    rows = {r[2]: r for r in ws.iter_rows(min_row=3, values_only=True) if r[0]}
    row = rows["李娜"]  # the branch secretary, by their real name

    # every figure, recounted from the database
    dabu = int((await tb.db.fetchone("SELECT id FROM orgs WHERE code = 'yanshan.dabu'"))[0])
    late = await tb.db.fetchone(
        "SELECT late FROM campaign_submissions WHERE campaign_id = ? AND org_id = ?", (camp, dabu)
    )
    assert late is not None and int(late[0]) == 0
    result = await tb.db.fetchone(
        "SELECT grade, points FROM review_results WHERE campaign_id = ? AND org_id = ?",
        (camp, dabu),
    )
    organised = await tb.db.fetchone(
        "SELECT COUNT(*) FROM activities WHERE created_by = ? AND status <> 'cancelled'",
        (sec["id"],),
    )
    training = await tb.db.fetchone(
        "SELECT SUM(a.quarters) FROM activity_signups s JOIN activities a ON a.id = s.activity_id"
        " WHERE s.user_id = ? AND s.attendance = 'present' AND a.kind IS NOT NULL",
        (sec["id"],),
    )
    members = await tb.db.fetchone(
        "SELECT SUM(e.quarters) FROM hour_entries e JOIN orgs o ON o.id = e.org_id"
        " WHERE o.path LIKE (SELECT path FROM orgs WHERE id = ?) || '%' AND e.status = 'approved'",
        (dabu,),
    )
    assert row[:2] == ("大埠乡团委", "书记")
    assert (row[6], row[7]) == (1, 1)  # on time / owed
    assert int(result[0]) == 0 and row[8] == f"好 ({float(result[1]):.2f})"
    assert row[9] == int(organised[0]) == 1
    assert row[10] == int(training[0]) / 4 == 2.5
    # the member's 3 h and the secretary's own 2.5 h of the 团课 (credited to their org)
    assert row[11] == int(members[0]) / 4 == 5.5
    # the sibling branch's secretary row, if any, owes nothing that year and organised nothing
    for name, other in rows.items():
        if name != "李娜":
            assert other[9] == 0 and other[10] == 0

    # nothing of it reached a group: no real name, no result
    for chat in (root, chat_a, w["chat_b"]):
        for s in tb.em.sent[mark:]:
            if s.chat_id == chat["id"]:
                assert "陈小红" not in (s.text or "") and "好 (" not in (s.text or "")


async def test_refusals(tb: Harness) -> None:
    w = await build_tower(tb)
    boss, member, root, chat_a = w["boss"], w["member_a"], w["root"], w["chat_a"]
    before = len(tb.em.documents)
    for text in ("/export cadres 20x6", "/export cadres 1999", "/export cadres ２０２６年"):
        answer = await say(tb, boss, root, text)
        assert "年份" in answer and "\n" not in answer, answer
    assert "团干部" in await say(tb, member, chat_a, "/export cadres")
    assert "团干部" in await say(tb, member, None, "/export cadres")
    await tb.drain()
    assert len(tb.em.documents) == before  # nothing was sent


async def test_mydata_holds_the_review_a_person_took_part_in(tb: Harness) -> None:
    """A reviewer's grades and comments are theirs: /mydata lists them (with the panel)."""
    w = await build_tower(tb)
    camp = await reviewed(tb, w)
    data = json.loads(await tb.services.privacy.mydata(w["boss"]["id"]))
    assert [(s["campaign_id"], s["grade"]) for s in data["review_scores"]] == [(camp, 0)]
    assert {"review_panels", "report_parts"} <= set(data)
    assert json.loads(await tb.services.privacy.mydata(w["member_a"]["id"]))["review_scores"] == []


async def test_export_campaign_shows_both_parts_of_a_two_part_report(tb: Harness) -> None:
    """/export campaign of a two-part report-back: the org's row, then one row per part."""
    w = await build_tower(tb)
    boss, sec, root = w["boss"], w["sec_a"], w["root"]
    await tb.send(boss, root, f"/deadline new 两部分述职 | {local(5 * 86400)} | 两部分")
    camp = int((await tb.db.fetchone("SELECT MAX(id) FROM campaigns"))[0])
    await tb.send(sec, None, f"/submit {camp}")
    await tb.send(sec, None, "工作总结：全年开展活动 12 次")
    await tb.send(sec, None, "=工作计划：明年开展 15 次")  # formula-like: kept as text
    await tb.drain()
    docs = len(tb.em.documents)
    await tb.send(boss, root, f"/export campaign {camp}")
    await tb.drain()
    doc = tb.em.documents[docs:][-1]
    ws = load_workbook(io.BytesIO(doc["bytes"])).worksheets[0]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True) if any(r)]
    parts = await tb.db.fetchall(
        "SELECT part, text FROM campaign_parts WHERE campaign_id = ? ORDER BY part DESC", (camp,)
    )
    assert [p["part"] for p in parts] == ["summary", "plan"]
    at = next(i for i, r in enumerate(rows) if r[0] == "大埠乡团委")
    got = [(str(r[1]).strip(), r[6]) for r in rows[at + 1 : at + 3]]
    assert got == [("工作总结", parts[0]["text"]), ("工作计划", parts[1]["text"])], rows
