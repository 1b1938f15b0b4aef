"""Requests upward (请示报告) through the emulator: a secretary's request reaches the staff of the
org above privately; the first decision wins; replies are relayed; the reminder fires once,
across a restart; bad input and the wrong people are refused; the export matches the database;
nothing of a request ever reaches a group chat."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain.clock import FakeClock
from bot.domain.errors import Refusal
from bot.domain.requests import clean, parse_request_data, request_data
from tests.conftest import Harness, build_tower, register, start_harness
from tests.helpers import with_button

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


# --- pure parts ----------------------------------------------------------------------------


def test_callback_data_round_trip() -> None:
    for verb in ("ok", "no", "re"):
        assert parse_request_data(request_data(verb, 42)) == (verb, 42)  # type: ignore[arg-type]
    for bad in ("req:ok:", "req:xx:1", "req:ok:1\n", "req:ok:١", "req:ok:" + "9" * 13, None):
        with pytest.raises(Refusal):
            parse_request_data(bad)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("  申请经费\r\n500 元 ", "申请经费\n500 元"),
        ("👨‍👩‍👧 family ZWJ", "👨‍👩‍👧 family ZWJ"),  # zero-width joiners stay
        ("שלום عربى", "שלום عربى"),
        ("e\u0301", "é"),  # NFC
        ("bell\x07 and nul\x00", "bell and nul"),
    ],
)
def test_clean_keeps_odd_unicode(text: str, kept: str) -> None:
    assert clean(text, 2000) == kept


def test_clean_refuses_empty_and_long() -> None:
    for empty in ("", "   ", "\x00\x01"):
        with pytest.raises(Refusal) as err:
            clean(empty, 2000)
        assert err.value.key == "err_req_empty"
    with pytest.raises(Refusal) as err:
        clean("长" * 2001, 2000)
    assert err.value.key == "err_req_too_long"
    assert clean("长" * 2000, 2000) == "长" * 2000


# --- through the emulator ----------------------------------------------------------------------


async def district(tb: Harness) -> dict[str, Any]:
    """build_tower, plus two staff of the district (the org above the secretary's branch)."""
    t = await build_tower(tb)
    em = tb.em
    s1 = em.add_user("张干部", username="zhang_staff")
    s2 = em.add_user("Jane", username="jane_staff", language_code="en")
    for staff, name in ((s1, "张三丰"), (s2, "Jane Roe")):
        em.set_member(t["root"], staff, "member")
        await register(tb, staff, name, "yanshan")
        said = em.text(staff, t["root"], "你好")["message"]
        await tb.send(t["boss"], t["root"], "/role staff", reply_to=said)
    granted = await tb.db.fetchall("SELECT user_id FROM roles WHERE role = 'staff'")
    assert {r[0] for r in granted} == {s1["id"], s2["id"]}
    await tb.drain()
    return {**t, "s1": s1, "s2": s2}


async def ask(tb: Harness, user: dict, text: str) -> int:
    """`user` sends `/request <text>` privately; the new request's id."""
    sent = await tb.send(user, None, f"/request {text}")
    assert any("已提交请示" in (s.text or "") for s in sent), [s.text for s in sent]
    row = await tb.db.fetchone("SELECT MAX(id) FROM requests")
    await tb.drain()
    return int(row[0])


def card(tb: Harness, user: dict, request_id: int) -> Any:
    """The card of `request_id` in `user`'s private chat (the newest, with its buttons)."""
    data = request_data("ok", request_id)
    return [s for s in tb.em.messages_to(user["id"]) if f"'{data}'" in str(s.reply_markup)][-1]


async def status(tb: Harness, request_id: int) -> dict:
    row = await tb.db.fetchone(
        "SELECT status, decided_by, decided_at, requester_id, to_org_id FROM requests WHERE id = ?",
        (request_id,),
    )
    return dict(row)


def group_texts(tb: Harness, t: dict) -> str:
    """Everything the bot ever sent to a group chat (texts, captions, documents' names)."""
    groups = {t[k]["id"] for k in ("root", "chat_a", "chat_b")}
    return "\n".join(
        f"{s.text or ''} {s.params}" for s in tb.em.sent if s.chat_id in groups
    ) + "\n".join(str(d) for d in tb.em.documents if d["chat_id"] in groups)


async def test_approve_reject_reply_and_first_decision_wins(tb: Harness) -> None:
    t = await district(tb)
    em, sec, s1, s2, boss = tb.em, t["sec_a"], t["s1"], t["s2"], t["boss"]
    secret = "申请活动经费 500 元 ✨ 秘密A"
    first = await ask(tb, sec, secret)
    # both staff of the district got the card privately, with the three buttons; the
    # superuser did not (the org has staff of its own)
    for staff in (s1, s2):
        c = card(tb, staff, first)
        assert "秘密A" in (c.text or "") or "秘密A" in str(c.params)
        labels = [b["callback_data"] for b in c.reply_markup["inline_keyboard"][0]]
        assert labels == [f"req:ok:{first}", f"req:no:{first}", f"req:re:{first}"]
    assert not any("秘密A" in (s.text or "") for s in em.messages_to(boss["id"]))
    assert (await status(tb, first))["to_org_id"] == (
        await tb.services.tower.org_by_code("yanshan")
    ).id

    # s1 approves with a double tap (both presses made on the card as it was): it acts once,
    # the card loses its buttons; s2's later press learns who decided
    mark = len(em.callback_answers)
    c1 = card(tb, s1, first)
    stored = em.message(c1.chat_id, c1.message_id)
    taps = [em.press(s1, stored, f"req:ok:{first}") for _ in range(2)]
    for tap in taps:
        await tb.deliver(tap)
    decided = await status(tb, first)
    assert decided["status"] == "approved" and decided["decided_by"] == s1["id"]
    answers = [a["text"] or "" for a in em.callback_answers[mark:]]
    assert len(answers) == 2 and "已同意" in answers[0] and "已由" in answers[1], answers
    assert em.message(c1.chat_id, c1.message_id).get("reply_markup") is None
    assert "已同意" in (em.message(c1.chat_id, c1.message_id)["text"] or "")
    await tb.drain()
    told = [x for x in tb.texts(sec["id"]) if f"#{first}" in x and "同意" in x]
    assert len(told) == 1 and "获" in told[0]
    mark = len(em.callback_answers)
    await tb.press(s2, card(tb, s2, first), f"req:no:{first}")
    answer = em.callback_answers[mark]["text"] or ""
    assert "already decided" in answer and "张干部" in answer, answer
    assert await status(tb, first) == decided
    await tb.drain()
    assert len([x for x in tb.texts(sec["id"]) if f"#{first}" in x and "同意" in x]) == 1

    # a second request is rejected by s2 (English)
    second = await ask(tb, sec, "申请借用会议室 秘密B")
    await tb.press(s2, card(tb, s2, second), f"req:no:{second}")
    assert (await status(tb, second))["status"] == "rejected"
    await tb.drain()
    assert any(f"#{second}" in x and "未获" in x for x in tb.texts(sec["id"]))

    # a third gets a reply: relayed to the requester, the request stays open
    third = await ask(tb, sec, "请问经费能否提前拨付 秘密C")
    await tb.press(s1, card(tb, s1, third), f"req:re:{third}")
    sent = await tb.send(s1, None, "可以，请补充预算表 秘密D")
    assert any("已把回复转达" in (s.text or "") for s in sent), [s.text for s in sent]
    await tb.drain()
    relayed = [x for x in tb.texts(sec["id"]) if "秘密D" in x]
    assert len(relayed) == 1 and f"#{third}" in relayed[0]
    assert (await status(tb, third))["status"] == "open"
    replies = await tb.db.fetchall(
        "SELECT request_id, user_id, text FROM request_replies ORDER BY id"
    )
    assert [tuple(r) for r in replies] == [(third, s1["id"], "可以，请补充预算表 秘密D")]

    # /requests: staff see the open one with its age; the secretary sees all three
    listing = (await tb.send(s1, None, "/requests"))[0].text or ""
    assert f"#{third}" in listing and f"#{first}" not in listing
    mine = (await tb.send(sec, None, "/requests"))[0].text or ""
    assert all(f"#{i}" in mine for i in (first, second, third))
    assert "已同意" in mine and "不同意" in mine and "待决定" in mine and "回复 1 条" in mine

    # nothing of any request reached a group chat
    await tb.drain()
    seen = group_texts(tb, t)
    for word in ("秘密", "请示", "申请"):
        assert word not in seen, word


async def test_outsider_and_wrong_roles_are_refused(tb: Harness) -> None:
    t = await district(tb)
    em, sec, s1 = tb.em, t["sec_a"], t["s1"]
    rid = await ask(tb, sec, "秘密E 申请")
    c = card(tb, s1, rid)
    before = await status(tb, rid)
    # someone else pressing the staff's card (forged into their own chat) is refused
    for who in (t["member_a"], t["outsider"], sec, t["member_b"]):
        stored = em.message(c.chat_id, c.message_id)
        mark = len(em.callback_answers)
        await tb.deliver(em.press(who, stored, f"req:ok:{rid}"))
        assert em.callback_answers[mark:], who
        assert await status(tb, rid) == before
    # the wrong people sending /request get one line, and nothing is stored
    count = (await tb.db.fetchone("SELECT COUNT(*) FROM requests"))[0]
    for who in (t["member_a"], t["outsider"], t["s1"], t["boss"]):
        sent = await tb.send(who, None, "/request 秘密F")
        assert len(sent) == 1 and "书记" in (sent[0].text or ""), [s.text for s in sent]
    # in a group: one line saying to send it privately, the text never echoed
    for chat in (t["chat_a"], t["root"]):
        sent = await tb.send(sec, chat, "/request 秘密G 不要公开")
        assert len(sent) == 1 and "私聊" in (sent[0].text or "")
        assert "秘密G" not in str(sent[0].params)
        sent = await tb.send(s1, chat, "/requests")
        assert len(sent) == 1 and "私聊" in (sent[0].text or "")
    assert (await tb.db.fetchone("SELECT COUNT(*) FROM requests"))[0] == count
    # /requests from someone without a role or a request
    sent = await tb.send(t["member_a"], None, "/requests")
    assert "没有请示" in (sent[0].text or "")
    # staff of a sibling branch is not staff of the district
    said = em.text(t["member_b"], t["chat_b"], "hi")["message"]
    await tb.send(t["boss"], t["chat_b"], "/role staff", reply_to=said)
    mark = len(em.callback_answers)
    await tb.deliver(em.press(t["member_b"], em.message(c.chat_id, c.message_id), f"req:ok:{rid}"))
    assert em.callback_answers[mark:] and await status(tb, rid) == before
    await tb.drain()
    assert "秘密" not in group_texts(tb, t)


async def test_bad_input(tb: Harness) -> None:
    t = await district(tb)
    sec = t["sec_a"]
    count = "SELECT COUNT(*) FROM requests"
    sent = await tb.send(sec, None, "/request " + "长" * 5000)
    assert "太长" in (sent[0].text or "") and "2000" in (sent[0].text or "")
    sent = await tb.send(sec, None, "/request " + "x" * 2001)
    assert "2001" in (sent[0].text or "")
    assert (await tb.db.fetchone(count))[0] == 0
    # /request alone asks; an empty (invisible) text is refused, the flow stays
    sent = await tb.send(sec, None, "/request")
    assert "请发送请示内容" in (sent[0].text or "")
    sent = await tb.send(sec, None, "\u0007")
    assert "空" in (sent[0].text or ""), [s.text for s in sent]
    # a direction override would make the card read differently: refused, the flow stays
    sent = await tb.send(sec, None, "申请\u202e翻转")
    assert "U+202E" in (sent[0].text or ""), [s.text for s in sent]
    odd = "𠀀𠀁 👨‍👩‍👧 <b>粗</b> & שלום 翻转"
    sent = await tb.send(sec, None, odd)
    assert any("已提交请示" in (s.text or "") for s in sent)
    row = await tb.db.fetchone("SELECT id, text FROM requests")
    assert row["text"] == odd
    await tb.drain()
    shown = card(tb, t["s1"], row["id"])
    assert "<b>粗</b> &" in (shown.text or "")  # shown as typed, not as markup
    # exactly at the limit is fine
    await ask(tb, sec, "长" * 2000)
    assert (await tb.db.fetchone(count))[0] == 2
    # /cancel leaves the guided step: the next text is not a request
    await tb.send(sec, None, "/request")
    sent = await tb.send(sec, None, "/cancel")
    assert "已退出" in (sent[0].text or ""), sent[0].text
    await tb.send(sec, None, "这不是请示")
    assert (await tb.db.fetchone(count))[0] == 2
    # a sticker-like message during the step gets one line and stores nothing
    await tb.send(sec, None, "/request")
    sent = await tb.deliver(tb.em.photo(sec, None))
    assert len(sent) == 1 and sent[0].text, [s.text for s in sent]
    assert (await tb.db.fetchone(count))[0] == 2


async def test_document_request_is_resent_by_file_id(tb: Harness) -> None:
    t = await district(tb)
    em, sec, s1, s2 = tb.em, t["sec_a"], t["s1"], t["s2"]
    upload = em.document(sec, None, "经费申请.pdf", caption="见附件 秘密H")
    await tb.deliver(upload)
    file_id = upload["message"]["document"]["file_id"]
    sent = await tb.send(sec, None, "/request", reply_to=upload["message"])
    assert any("已提交请示" in (s.text or "") for s in sent), [s.text for s in sent]
    row = await tb.db.fetchone("SELECT id, text, file_id, file_name FROM requests")
    assert (row["text"], row["file_id"], row["file_name"]) == (
        "见附件 秘密H",
        file_id,
        "经费申请.pdf",
    )
    await tb.drain()
    for staff in (s1, s2):
        docs = [d for d in em.documents if d["chat_id"] == staff["id"]]
        assert [d["file_id"] for d in docs] == [file_id]
        assert "经费申请.pdf" in (card(tb, staff, row["id"]).text or "")
    # /request alone then a document works too
    await tb.send(sec, None, "/request")
    await tb.deliver(em.document(sec, None, "计划.docx"))
    assert (await tb.db.fetchone("SELECT COUNT(*) FROM requests WHERE file_id IS NOT NULL"))[0] == 2
    await tb.drain()
    assert "秘密" not in group_texts(tb, t)


async def test_reminder_fires_once_and_survives_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    ctx, tb = await start_harness(tmp_path, clock=clock, request_reminder="48h")
    try:
        t = await district(tb)
        s1, sec = t["s1"], t["sec_a"]
        rid = await ask(tb, sec, "秘密I 请尽快批复")
        undecided = await ask(tb, sec, "秘密J 会被同意")
        await tb.press(s1, card(tb, s1, undecided), f"req:ok:{undecided}")
        clock.advance(47 * 3600)
        await tb.services.reminders.fire_due()
        await tb.drain()
        assert not any("还未处理" in x for x in tb.texts(s1["id"]))
    finally:
        await ctx.__aexit__(None, None, None)
    clock.advance(2 * 3600)  # due while the bot is down (less than 12 h late)
    em = tb.em
    for _ in range(2):
        ctx, tb = await start_harness(tmp_path, em=em, clock=clock, request_reminder="48h")
        try:
            await tb.services.reminders.fire_due()
            await tb.drain()
            rows = await tb.db.fetchall(
                "SELECT ref_id, status FROM reminders WHERE kind = 'request' ORDER BY ref_id"
            )
            # the decided one's reminder was cancelled with the decision
            assert [tuple(r) for r in rows] == [(rid, "done"), (undecided, "cancelled")]
        finally:
            await ctx.__aexit__(None, None, None)
    for staff in (t["s1"], t["s2"]):
        reminded = [x for x in tb.texts(staff["id"]) if "还未处理" in x or "still undecided" in x]
        assert len(reminded) == 1 and f"#{rid}" in reminded[0], reminded
    # the reminder carries the buttons: the staff can decide from it
    c = card(tb, t["s2"], rid)
    assert "undecided" in (c.text or "")


async def test_handover_moves_open_requests(tb: Harness) -> None:
    """Requests are addressed to the org: new staff of it can decide, the old cannot."""
    t = await district(tb)
    em, sec, s1, s2, root = tb.em, t["sec_a"], t["s1"], t["s2"], t["root"]
    rid = await ask(tb, sec, "秘密K")
    said = em.text(s2, root, "交接")["message"]
    await tb.send(t["boss"], root, "/role member", reply_to=said)
    mark = len(em.callback_answers)
    await tb.press(s2, card(tb, s2, rid), f"req:ok:{rid}")
    assert "Only staff" in (em.callback_answers[mark]["text"] or "")
    assert (await status(tb, rid))["status"] == "open"
    listing = (await tb.send(s1, None, "/requests"))[0].text or ""
    assert f"#{rid}" in listing
    await tb.press(s1, card(tb, s1, rid), f"req:no:{rid}")
    assert (await status(tb, rid))["status"] == "rejected"


async def test_export_cell_by_cell(tb: Harness) -> None:
    t = await district(tb)
    em, sec, s1 = tb.em, t["sec_a"], t["s1"]
    a = await ask(tb, sec, '=HYPERLINK("http://x") 公式')
    b = await ask(tb, sec, "第二件")
    await tb.press(s1, card(tb, s1, a), f"req:ok:{a}")
    await tb.press(s1, card(tb, s1, b), f"req:re:{b}")
    await tb.send(s1, None, "+1 请补充")
    await tb.drain()
    # the secretary may not export; staff may, in the district's chat
    sent = await tb.send(sec, t["chat_a"], "/export requests")
    assert "团干部" in (sent[0].text or "")
    mark = len(em.documents)
    await tb.send(s1, t["root"], "/export requests")
    await tb.drain()
    docs = [d for d in em.documents[mark:] if d["chat_id"] == s1["id"]]
    assert len(docs) == 1 and docs[0]["file_name"].startswith("requests-yanshan-")
    ws = load_workbook(io.BytesIO(docs[0]["bytes"])).active
    grid = [[c.value for c in row] for row in ws.iter_rows()]
    assert grid[1] == [
        "编号",
        "请示组织",
        "报送组织",
        "请示人",
        "内容",
        "文件",
        "请示时间",
        "状态",
        "决定人",
        "决定时间",
        "回复",
    ]
    rows = await tb.db.fetchall(
        "SELECT r.id, f.name AS f, t.name AS t, r.text, r.created_at, r.status, r.decided_at"
        " FROM requests r JOIN orgs f ON f.id = r.from_org_id JOIN orgs t ON t.id = r.to_org_id"
        " ORDER BY r.id"
    )
    tz = tb.settings.tz

    def wall(ts: float | None) -> datetime | None:
        if ts is None:
            return None
        return datetime.fromtimestamp(ts, tz).replace(tzinfo=None, microsecond=0)

    def minute(value: Any) -> Any:
        return value.replace(second=0, microsecond=0) if isinstance(value, datetime) else value

    status_word = {"open": "待决定", "approved": "已同意", "rejected": "不同意"}
    replies = {a: None, b: "张三丰: +1 请补充"}
    deciders = {a: "张三丰", b: None}
    assert len(grid) == 2 + len(rows)
    for got, row in zip(grid[2:], rows, strict=True):
        expected = [
            row["id"],
            row["f"],
            row["t"],
            "李娜",
            row["text"],
            None,
            wall(row["created_at"]),
            status_word[row["status"]],
            deciders[row["id"]],
            wall(row["decided_at"]),
            replies[row["id"]],
        ]
        assert [minute(v) for v in got] == [minute(v) for v in expected]
    # formula-like text stays text
    cell = ws.cell(row=3, column=5)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    assert "秘密" not in group_texts(tb, t)


async def test_forgetme_erases_request_texts(tb: Harness) -> None:
    t = await district(tb)
    sec, s1 = t["sec_a"], t["s1"]
    rid = await ask(tb, sec, "秘密L 李娜的请示")
    await tb.press(s1, card(tb, s1, rid), f"req:re:{rid}")
    await tb.send(s1, None, "收到 秘密M")
    await tb.drain()
    ask_forget = await tb.send(sec, None, "/forgetme")
    await tb.press(sec, with_button(ask_forget, "forget:y"), "forget:y")
    row = await tb.db.fetchone("SELECT * FROM requests WHERE id = ?", (rid,))
    assert row["requester_id"] is None and row["text"] == "" and row["erased"] == 1
    assert row["status"] == "open"
    # the staff's copies of the request lose their text
    left = await tb.db.fetchall("SELECT payload FROM outbox WHERE ref = ?", (f"request:{rid}",))
    assert all("秘密L" not in str(r[0]) for r in left)
    # the staff can still decide; nobody is told
    await tb.press(s1, card(tb, s1, rid), f"req:ok:{rid}")
    assert (await status(tb, rid))["status"] == "approved"
