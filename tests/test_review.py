"""Reading and reviewing report-backs (述职评议, issue 13) through the emulator: a two-part
campaign with a review panel, reports forwarded to the reviewers as they arrive, 查看材料 read
by a reviewer and refused to an outsider, /review open with its fire-once reminder, three
reviewers grading (one changes their mind, one double-taps, one comments), a restart in the
middle, /review close with results to the right people only, and the workbook cell by cell."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain.errors import Refusal
from bot.domain.review_calc import grade_data, material_data, outcome, parse_data
from tests.conftest import Harness, register, start_harness
from tests.helpers import until, with_button
from tests.test_campaigns import DUE_LOCAL, DUE_TS, clock_before, harness

pytestmark = pytest.mark.usefixtures("engine")

REMIND = "3s"


# --- pure ------------------------------------------------------------------------------------


def test_outcome_average_majority_ties_and_none() -> None:
    assert outcome([], 4, "average").grade is None
    assert outcome([0, 0, 1], 4, "average").grade == 0  # mean 3.67 → 好
    tie = outcome([2, 3], 4, "average")  # mean 1.5: between 一般 and 差 → the lower
    assert (tie.grade, tie.tie, tie.points) == (3, True, 1.5)
    assert outcome([1, 1, 0], 4, "majority").grade == 1
    split = outcome([0, 2], 4, "majority")
    assert (split.grade, split.tie) == (2, True)


def test_callback_data_round_trip_and_forgeries() -> None:
    assert parse_data(grade_data(3, 7, 2)).grade == 2
    assert parse_data(material_data(3, 7)).kind == "m"
    for bad in ("rv:g:3:7", "rv:m:3:7:1", "rv:x:1:1", "rv:g:1:1:12", "rv:m:１:1"):
        with pytest.raises(Refusal):
            parse_data(bad)


# --- through the emulator --------------------------------------------------------------------


def texts_to(tb: Harness, chat_id: int) -> list[str]:
    return [s.text or "" for s in tb.em.messages_to(chat_id)]


def cards(tb: Harness, user: dict) -> dict[int, Any]:
    """The reviewer's scoring cards by org id (the latest message carrying each)."""
    found: dict[int, Any] = {}
    for s in tb.em.messages_to(user["id"]):
        for row in (s.reply_markup or {}).get("inline_keyboard", []):
            for b in row:
                data = b.get("callback_data") or ""
                if data.startswith("rv:g:"):
                    found[int(data.split(":")[3])] = s
    return found


async def answer(tb: Harness, user: dict, chat: dict | None, text: str) -> str:
    """The bot's answers to `text` in that chat, joined (queued notices drained first)."""
    await tb.drain()
    sent = await tb.send(user, chat, text)
    where = chat["id"] if chat else user["id"]
    return "\n".join(s.text or "" for s in sent if s.chat_id == where)


async def grade(tb: Harness, user: dict, card: Any, data: str) -> str:
    await tb.press(user, card, data)
    return str(tb.em.callback_answers[-1].get("text") or "")


async def scores(tb: Harness) -> list[tuple[int, int, int | None, str | None]]:
    got = await tb.db.fetchall(
        "SELECT org_id, reviewer_id, grade, comment FROM review_scores ORDER BY org_id, reviewer_id"
    )
    return [(r[0], r[1], r[2], r[3]) for r in got]


async def test_two_part_campaign_read_reviewed_and_filed(tmp_path: Path) -> None:
    clock = clock_before(DUE_TS, 3 * 86400)
    ctx, tb, t = await harness(tmp_path, clock=clock, review_reminder=REMIND)
    em = tb.em
    boss, sec_a, tom, member_a = t["boss"], t["sec_a"], t["member_b"], t["member_a"]
    root, chat_a, chat_b, outsider = t["root"], t["chat_a"], t["chat_b"], t["outsider"]
    zhang = em.add_user("张评", username="zhang_rv")
    zhao = em.add_user("赵评", username="zhao_rv")
    await register(tb, zhang, "张评审", "yanshan")
    await register(tb, zhao, "赵评审", "yanshan")
    said = em.text(tom, chat_b, "hi")["message"]
    await tb.send(boss, chat_b, "/role secretary", reply_to=said)
    groups = [root["id"], chat_a["id"], chat_b["id"]]
    dabu = (await tb.db.fetchone("SELECT id FROM orgs WHERE code = 'yanshan.dabu'"))[0]
    jiedao = (await tb.db.fetchone("SELECT id FROM orgs WHERE code = 'yanshan.jiedao'"))[0]
    reviewers = [boss, zhang, zhao]
    try:
        # --- a two-part campaign with a panel of three
        sent = await tb.send(
            boss,
            root,
            f"/deadline new 2026年度述职 | {DUE_LOCAL} | 两部分 | 评审 @wang_xiaoming @zhang_rv @zhao_rv",
        )
        created = sent[0].text or ""
        assert "#1" in created and "工作总结" in created and "3 人" in created
        panel = await tb.db.fetchall("SELECT user_id FROM campaign_reviewers ORDER BY user_id")
        assert sorted(r[0] for r in panel) == sorted(u["id"] for u in reviewers)
        assert "找不到 @nobody_here" in (
            (await tb.send(boss, root, f"/deadline new x | {DUE_LOCAL} | 评审 @nobody_here"))[
                0
            ].text
            or ""
        )

        # --- the secretary submits the summary as text, then the plan as a document
        assert "工作总结" in await answer(tb, sec_a, None, "/submit")
        got = await answer(tb, sec_a, None, "总结：全年开展活动 12 次。")
        assert "工作总结" in got and "工作计划" in got
        mark = len(em.sent)
        await tb.deliver(em.document(sec_a, None, "2027工作计划.pdf", file_size=4096))
        got = [s.text or "" for s in em.sent[mark:] if s.chat_id == sec_a["id"]][0]
        assert "工作计划" in got and "交齐" in got
        # Tom sends his summary only
        await tb.send(tom, None, "/submit 1")
        await tb.send(tom, None, "Summary: 5 activities.")
        await tb.drain()
        sub = await tb.db.fetchall("SELECT org_id, late FROM campaign_submissions")
        assert [(r[0], r[1]) for r in sub] == [(dabu, 0)]  # both parts in, on time; Tom not yet

        # --- each reviewer got each part privately as it arrived (not the submitter)
        plan_file = (
            await tb.db.fetchone("SELECT file_id FROM campaign_parts WHERE part = 'plan'")
        )[0]
        for r in reviewers:
            assert sum("全年开展活动 12 次" in x for x in texts_to(tb, r["id"])) == 1
            assert sum("5 activities" in x for x in texts_to(tb, r["id"])) == 1
            docs = [d for d in em.documents if d["chat_id"] == r["id"]]
            assert len(docs) == 1 and docs[0]["file_id"] == plan_file
        assert not any("全年开展活动" in x for x in texts_to(tb, sec_a["id"]))

        # --- the board shows both parts per org, with 查看材料 for orgs that sent anything
        await tb.drain()
        sent = await tb.send(boss, root, "/deadline status 1")
        board = with_button(sent, material_data(1, dabu))
        assert "总结✅ 计划✅" in (board.text or "") and "总结✅ 计划❌" in (board.text or "")
        data = [b["callback_data"] for row in board.reply_markup["inline_keyboard"] for b in row]
        assert data == [material_data(1, dabu), material_data(1, jiedao)]
        # an outsider (and a member who is neither reviewer nor submitter) is refused
        for stranger in (outsider, member_a):
            before = len(em.sent)
            await tb.press(stranger, board, material_data(1, dabu))
            assert "评审和提交人" in (em.callback_answers[-1].get("text") or "")
            await tb.drain()
            assert [s for s in em.sent[before:] if s.chat_id == stranger["id"]] == []
        # a reviewer reads it (the document again, by file_id); a double tap sends once
        before_docs = len(em.documents)
        await tb.press(zhang, board, material_data(1, dabu))
        await tb.press(zhang, board, material_data(1, dabu))
        await tb.drain()
        again = [d for d in em.documents[before_docs:] if d["chat_id"] == zhang["id"]]
        assert [d["file_id"] for d in again] == [plan_file]
        # the submitter may read her own
        await tb.press(sec_a, board, material_data(1, dabu))
        await tb.drain()
        assert any(d["chat_id"] == sec_a["id"] for d in em.documents[before_docs:])

        # --- /review refuses before the due time, in a group, and to anyone but the creator
        assert "私聊" in await answer(tb, boss, root, "/review open 1")
        assert "截止" in await answer(tb, boss, None, "/review open 1")
        assert "只有发布" in await answer(tb, zhang, None, "/review open 1")
        assert "还没有开始" in await answer(tb, boss, None, "/review status 1")

        # --- after the due time: open; every reviewer gets both reports and two cards
        clock.offset += 3 * 86400 + 60
        opened = await answer(tb, boss, None, "/review open 1")
        assert "已开始" in opened and "3 位评审" in opened and "收不到" not in opened
        assert "已经开始" in await answer(tb, boss, None, "/review open 1")
        await tb.drain()
        for r in reviewers:
            assert set(cards(tb, r)) == {dabu, jiedao}
        # the fire-once reminder: nobody has graded yet, each reviewer is told once
        await until(
            lambda: all(any("还有 2/2" in x for x in texts_to(tb, r["id"])) for r in reviewers),
            15,
        )

        # --- grading: zhang changes his mind; a double tap acts once; a stranger is refused
        c = cards(tb, boss)
        assert "已记录" in await grade(tb, boss, c[dabu], grade_data(1, dabu, 0))
        await grade(tb, boss, c[jiedao], grade_data(1, jiedao, 2))
        c = cards(tb, zhang)
        await grade(tb, zhang, c[dabu], grade_data(1, dabu, 1))
        assert "已记录" in await grade(tb, zhang, c[dabu], grade_data(1, dabu, 0))
        assert "仍是" in await grade(tb, zhang, c[dabu], grade_data(1, dabu, 0))
        shown = em.message(zhang["id"], c[dabu].message_id)
        assert shown is not None and "当前评分：好" in shown["text"]
        assert "✅ 好" in str(shown["reply_markup"])
        await grade(tb, zhang, c[jiedao], grade_data(1, jiedao, 3))
        await tb.press(member_a, c[dabu], grade_data(1, dabu, 3))  # someone else's card
        assert em.callback_answers[-1].get("show_alert")
        c = cards(tb, zhao)
        await grade(tb, zhao, c[dabu], grade_data(1, dabu, 1))
        await tb.press(zhao, c[dabu], f"rv:n:1:{dabu}")
        assert "评语已保存" in await answer(tb, zhao, None, "材料翔实，计划具体。")
        assert await scores(tb) == sorted(
            [
                (dabu, boss["id"], 0, None),
                (dabu, zhang["id"], 0, None),
                (dabu, zhao["id"], 1, "材料翔实，计划具体。"),
                (jiedao, boss["id"], 2, None),
                (jiedao, zhang["id"], 3, None),
            ]
        )
        status = await answer(tb, boss, None, "/review status 1")
        assert "2/2" in status and "1/2" in status
        assert not any(g in status for g in ("较好", "一般", "材料翔实"))
        assert "只有发布" in await answer(tb, zhao, None, "/review status 1")
        await tb.drain()
    finally:
        await ctx.__aexit__(None, None, None)

    # --- restart mid-review: nothing lost, nothing sent again
    sent_before = len(em.sent)
    ctx, tb = await start_harness(tmp_path, em=em, clock=clock, review_reminder=REMIND)
    try:
        await asyncio.sleep(1.0)
        await tb.drain()
        assert [s for s in em.sent[sent_before:] if s.method != "getMe"] == []
        assert len(await scores(tb)) == 5
        for r in reviewers:
            assert sum("还有" in x for x in texts_to(tb, r["id"])) == 1
        # the card from before the restart still works
        await grade(tb, zhao, cards(tb, zhao)[jiedao], grade_data(1, jiedao, 2))

        # --- close: only the creator; then results to the right people only
        assert "只有发布" in await answer(tb, zhang, None, "/review close 1")
        mark, docs_mark = len(em.sent), len(em.documents)
        assert "已结束" in await answer(tb, boss, None, "/review close 1")
        assert "已结束" in await answer(tb, boss, None, "/review close 1")
        await tb.drain()
        new = [s for s in em.sent[mark:] if s.method in ("sendMessage", "sendDocument")]
        to_sec = [s.text or "" for s in new if s.chat_id == sec_a["id"]]
        assert len(to_sec) == 1
        assert "大埠乡团委：好" in to_sec[0] and "材料翔实" in to_sec[0]
        assert "雁山街道" not in to_sec[0]
        to_tom = [s.text or "" for s in new if s.chat_id == tom["id"]]
        # jiedao: 一般, 差, 一般 → mean 1.67 → 一般 (Tom reads English)
        assert len(to_tom) == 1 and "Average" in to_tom[0] and "材料翔实" not in to_tom[0]
        for r in reviewers:
            summary = [
                s.text or ""
                for s in new
                if s.chat_id == r["id"] and "述职评议结果" in (s.text or "")
            ]
            assert len(summary) == 1 and "大埠乡团委：好" in summary[0] and "一般" in summary[0]
        # no group got a score, a grade or a comment, ever
        for s in em.sent:
            if s.chat_id in groups:
                text = s.text or ""
                assert not any(w in text for w in ("评分卡", "材料翔实", "平均分", "述职评议结果"))
        assert not any(d["chat_id"] in groups for d in em.documents)
        # a late grade is refused and changes nothing
        await grade(tb, zhang, cards(tb, zhang)[dabu], grade_data(1, dabu, 3))
        assert "已结束" in (em.callback_answers[-1].get("text") or "")
        assert (dabu, zhang["id"], 0, None) in await scores(tb)

        # --- the workbook, to the creator only, cell by cell against the database
        docs = [d for d in em.documents[docs_mark:] if d["file_name"].endswith(".xlsx")]
        assert [d["chat_id"] for d in docs] == [boss["id"]]
        mark = len(em.documents)
        sent = await tb.send(boss, None, "/export review 1")
        await tb.drain()
        again = [d for d in em.documents[mark:] if d["chat_id"] == boss["id"]]
        assert len(again) == 1
        assert "只有发布" in await answer(tb, zhang, None, "/export review 1")
        await check_workbook(tb, again[0]["bytes"], {dabu: "大埠乡团委", jiedao: "雁山街道团工委"})
    finally:
        await ctx.__aexit__(None, None, None)


async def check_workbook(tb: Harness, data: bytes, names: dict[int, str]) -> None:
    wb = load_workbook(io.BytesIO(data))
    scores_ws, results_ws = wb.worksheets
    grades = ["好", "较好", "一般", "差"]
    rows = list(scores_ws.iter_rows(min_row=3, values_only=True))
    db = await tb.db.fetchall(
        "SELECT s.org_id, u.first_name, s.grade, s.comment FROM review_scores s"
        " JOIN users u ON u.id = s.reviewer_id ORDER BY s.org_id, s.reviewer_id"
    )
    assert len(rows) == len(db) == 6
    for row, r in zip(rows, db, strict=True):
        assert row[0] == names[r[0]]
        assert row[1] == r[1]
        assert row[2] == grades[r[2]]
        assert row[3] == 4 - r[2]
        assert (row[4] or None) == r[3]
    results = list(results_ws.iter_rows(min_row=3, values_only=True))
    db = await tb.db.fetchall(
        "SELECT org_id, grade, points, scored, tie FROM review_results ORDER BY org_id"
    )
    assert len(results) == len(db) == 2
    for row, r in zip(results, db, strict=True):
        assert row[0] == names[r[0]]
        assert row[1] == grades[r[1]]
        assert row[2] == round(r[2], 2)
        assert row[3] == r[3]
        assert (row[4] or None) is None and r[4] == 0
