"""/forgetme forgets: no table, free page, WAL frame or later backup links the account to the person."""

from __future__ import annotations

import html
import math
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.review_calc import comment_data, grade_data
from bot.settings import Settings
from tests.conftest import INTEGRITY_ERRORS, Harness, build_tower, register
from tests.dbdump import is_pg, sql_rows, tables
from tests.helpers import with_button

TZ = Settings().tz

#: (Telegram first name, username, registered real name, phone as the contact shares it,
#:  the forms the stored phone may be written in). Someone else's strings are substrings of
#: these (小明 / Ming), so "other people untouched" is checked against near misses.
VICTIMS = [
    (
        "小明🌟",
        "Ming_Victim42",
        "欧阳小明Ω",
        "+86 139 8765 4321",
        ["+8613987654321", "8613987654321", "13987654321", "139 8765 4321", "139-8765-4321"],
    ),
    (
        "Zoë",
        "zoe_OBrien_7",
        "Zoë <O'Brien> & Co",
        "+44 7700 900123",
        ["+447700900123", "447700900123"],
    ),
]


def when(seconds_ahead: float) -> str:
    ts = math.ceil((time.time() + seconds_ahead) / 60) * 60
    return datetime.fromtimestamp(ts, TZ).strftime("%Y-%m-%d %H:%M")


async def register_with_phone(tb: Harness, user: dict, name: str, phone: str, code: str) -> None:
    em = tb.em
    await tb.send(user, None, f"/start join_{code.replace('.', '-')}")
    await tb.press(user, em.messages_to(user["id"])[-1], "reg:age:n")
    await tb.send(user, None, name)
    consent = await tb.deliver(em.contact(user, phone))
    await tb.press(user, consent[-1], "reg:consent:y")


async def log(tb: Harness, user: dict, text: str) -> int:
    out = await tb.send(user, None, f"/hours {text}")
    row = await tb.db.fetchone("SELECT MAX(id) FROM hour_entries WHERE status = 'pending'")
    assert row and row[0], [s.text for s in out]
    return int(row[0])


async def approve(tb: Harness, approver: dict, entry_id: int) -> None:
    # the listing by its button: an outbox notice may land among /pending's answers
    listing = with_button(await tb.send(approver, None, "/pending"), f"hrs:ok:{entry_id}:0")
    await tb.press(approver, listing, f"hrs:ok:{entry_id}:0")
    row = await tb.db.fetchone("SELECT status FROM hour_entries WHERE id = ?", (entry_id,))
    assert row["status"] == "approved"


def dump(target: Any) -> tuple[str, list[tuple[str, str, Any]]]:
    """Every cell of every table, as one text and as (table, column, value) triples."""
    cells = []
    for table, (cols, found) in tables(target).items():
        for row in found:
            cells.extend((table, col, value) for col, value in zip(cols, row, strict=True))
    return "\n".join(repr(c) for c in cells), cells


def rows(target: Any, sql: str, params: tuple = ()) -> list[tuple]:
    return sql_rows(target, sql, params)


def varint(value: int) -> bytes:
    """SQLite's varint (how a rowid is stored in a cell header)."""
    if value >= 1 << 56:
        out = [value & 0xFF]
        value >>= 8
        for _ in range(8):
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        return bytes(reversed(out))
    parts = [value & 0x7F]
    value >>= 7
    while value:
        parts.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(parts))


@pytest.mark.parametrize("victim", VICTIMS, ids=["zh-emoji", "latin-html"])
async def test_forgetme_leaves_nothing_linking_the_account(
    tb: Harness, tmp_path: Path, victim: tuple
) -> None:
    first, username, real, phone_shared, phones = victim
    em, db_path = tb.em, tb.settings.db
    t = await build_tower(tb)
    boss, sec_a, root, chat_a = t["boss"], t["sec_a"], t["root"], t["chat_a"]
    v = em.add_user(first, last_name="Privat", username=username)
    near = em.add_user("小明", username="Ming")  # substrings of the victim's strings
    emoji = em.add_user("🌈", username="rainbow_9")
    em.set_member(root, v, "member")  # not in the branch chat: the coverage audit lists them
    await register_with_phone(tb, v, real, phone_shared, "yanshan.dabu")
    await register_with_phone(tb, near, "小明", "+8613900001111", "yanshan.dabu")
    await register(tb, emoji, "🌈彩虹 Ünïcødé", "yanshan.jiedao")
    await tb.send(boss, chat_a, f"/role secretary @{username}")
    # a cadre post with a term (its reminders are keyed by the holding, not the person)
    await tb.send(boss, chat_a, "/cadres add 委员")
    await tb.send(boss, chat_a, f"/cadres appoint 委员 @{username} 专职 2026-01-01 2029-12-31")
    # the default 书记 post made real holds both secretaries; the victim also holds the 委员 post
    assert len(rows(db_path, "SELECT 1 FROM cadre_holdings WHERE user_id = ?", (v["id"],))) == 2
    # guardian consents: the victim agrees as one minor's guardian, records another's on paper
    for n, paper in enumerate((False, True)):
        kid = em.add_user(f"孩子{n}")
        await tb.send(kid, None, "/start join_yanshan-dabu")
        sent = await tb.press(kid, em.messages_to(kid["id"])[-1], "reg:age:y")
        token = re.search(r"start=guard_([\w-]+)", sent[-1].text).group(1)
        if paper:
            await tb.send(v, chat_a, f"/consent {token}")
        else:
            ask = await tb.send(v, None, f"/start guard_{token}")
            await tb.press(v, ask[0], f"guard:{token}")
    assert (
        len(
            rows(
                db_path,
                "SELECT 1 FROM guardian_consents WHERE ? IN (guardian_id, recorded_by)",
                (v["id"],),
            )
        )
        == 2
    )

    # hours: the victim's own (one naming them, approved; one pending) and one they approved
    own = await log(tb, v, f"3 七彩四点半 with {real}")
    await approve(tb, sec_a, own)
    await log(tb, v, "1 还没审核")
    theirs = await log(tb, near, "2 社区清扫")
    await approve(tb, v, theirs)
    rainbow = await log(tb, emoji, "1.5 敬老院")
    await approve(tb, boss, rainbow)
    # an activity, an acknowledged announcement, a report-back, the coverage audit, exports
    fields = f"七彩四点半 | {when(3 * 86400)} | 2 | 5 | 大埠"
    card = next(
        s
        for s in await tb.send(sec_a, chat_a, f"/activity {fields}")
        if s.reply_markup and "act:" in str(s.reply_markup)
    )
    act = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    for who in (v, near):
        await tb.press(who, card, f"act:{act}:join")
        await tb.press(who, card, f"act:{act}:cal")  # who took the calendar file is kept
    # attendance marks: the victim marks someone, and is marked (both logged)
    await tb.send(v, None, f"/attendance {act}")
    roster = with_button(em.messages_to(v["id"]), f"att:p:{act}:{near['id']}:0")
    await tb.press(v, roster, f"att:p:{act}:{near['id']}:0")
    await tb.send(sec_a, None, f"/attendance {act}")
    roster = with_button(em.messages_to(sec_a["id"]), f"att:n:{act}:{v['id']}:0")
    await tb.press(sec_a, roster, f"att:n:{act}:{v['id']}:0")
    assert len(rows(db_path, "SELECT 1 FROM attendance_marks")) == 2
    # a series the victim created, with posts: they sign up on a shift's post, take its file
    day = datetime.now(TZ).date() + timedelta(days=3)
    saturday = day + timedelta(days=(5 - day.weekday()) % 7)
    series_card = next(
        s
        for s in await tb.send(
            v,
            chat_a,
            f"/activity 周末课堂 | {saturday} 09:00 | 2 | - | 青年之家"
            f" | 每周六 至 {saturday + timedelta(days=14)} | 岗位 引导 2, 检票 2 13:00-16:00",
        )
        if ":join:2'" in str(s.reply_markup)
    )
    occ = int(series_card.reply_markup["inline_keyboard"][0][0]["callback_data"].split(":")[1])
    await tb.press(v, series_card, f"act:{occ}:join:2")
    await tb.press(v, series_card, f"act:{occ}:cal")
    assert rows(db_path, "SELECT created_by FROM activity_series") == [(v["id"],)]
    assert rows(
        db_path, "SELECT post_no, status FROM activity_signups WHERE activity_id = ?", (occ,)
    ) == [(2, "confirmed")]
    # photo evidence of the victim's own hours (approved: the entry stays, the photo goes)
    await tb.deliver(em.photo(v, None, caption="/hours 2 照片凭证"))
    photo_entry = int((await tb.db.fetchone("SELECT MAX(id) FROM hour_entries"))[0])
    await approve(tb, sec_a, photo_entry)
    (photo_id,) = rows(
        db_path, "SELECT photo_file_id FROM hour_entries WHERE id = ?", (photo_entry,)
    )[0]
    assert photo_id
    # an entry the victim revoked (the revoker is re-pointed too)
    wrong = await log(tb, near, "1 误通过")
    await approve(tb, sec_a, wrong)
    await tb.send(v, None, f"/hours revoke {wrong} 重复 {real}")
    assert rows(db_path, "SELECT status FROM hour_entries WHERE id = ?", (wrong,)) == [("revoked",)]
    await tb.send(boss, root, "/announce 周六集合")
    await tb.drain()
    copy = next(s for s in em.messages_to(root["id"]) if "周六集合" in (s.text or ""))
    await tb.press(v, copy, copy.reply_markup["inline_keyboard"][-1][-1]["callback_data"])
    # a two-part report-back whose review panel the victim sits on: reviewed, graded, commented
    panel = f"评审 @{username} @wang_xiaoming"
    await tb.send(boss, root, f"/deadline new 述职 | {when(10 * 86400)} | 两部分 | {panel}")
    await tb.send(v, None, "/submit")
    await tb.send(v, None, f"报告人 {real} {phones[0]}")
    await tb.send(v, None, f"计划 {real}")
    camp = int((await tb.db.fetchone("SELECT MAX(id) FROM campaigns"))[0])
    assert rows(db_path, "SELECT COUNT(*) FROM campaign_parts") == [(2,)]
    async with tb.db.transaction() as tx:  # its due time passed
        await tx.execute("UPDATE campaigns SET due_at = ? WHERE id = ?", (time.time() - 60, camp))
    await tb.send(boss, None, f"/review open {camp}")
    await tb.drain()
    card = next(s for s in reversed(em.messages_to(v["id"])) if "rv:g:" in str(s.reply_markup))
    dabu = int((await tb.db.fetchone("SELECT id FROM orgs WHERE code = 'yanshan.dabu'"))[0])
    await tb.press(v, card, grade_data(camp, dabu, 1))
    await tb.press(v, card, comment_data(camp, dabu))
    await tb.send(v, None, f"评语 {real}")
    assert rows(db_path, "SELECT COUNT(*) FROM review_scores WHERE comment IS NOT NULL") == [(1,)]
    # a request upward (请示), answered by the district with a reply naming them, and a request
    # of someone else that names them
    await tb.send(v, None, f"/request 请示人 {real} {phones[0]}")
    await tb.drain()
    req = int((await tb.db.fetchone("SELECT MAX(id) FROM requests"))[0])
    card = with_button(em.messages_to(boss["id"]), f"req:re:{req}")
    await tb.press(boss, card, f"req:re:{req}")
    await tb.send(boss, None, f"收到，{real}，请补充材料")
    await tb.send(sec_a, None, f"/request 关于 {real} 的推荐")
    await tb.send(sec_a, chat_a, "/org")
    for kind in ("members", "hours"):
        await tb.send(boss, root, f"/export {kind}")
    await tb.drain()
    _, before_cells = dump(db_path)
    before_text = "\n".join(repr(c) for c in before_cells)
    assert real in before_text or html.escape(real) in before_text  # the setup stored them

    totals = "SELECT org_id, year, quarters, entries FROM hour_totals ORDER BY org_id, year"
    sums = (
        "SELECT org_id, SUM(quarters), COUNT(DISTINCT user_id) FROM hour_entries"
        " WHERE status = 'approved' GROUP BY org_id ORDER BY org_id"
    )
    others = [near["id"], emoji["id"], sec_a["id"], boss["id"]]
    marks = ",".join("?" * len(others))
    kept_sql = [
        (f"SELECT * FROM people WHERE user_id IN ({marks}) ORDER BY user_id", others),
        (f"SELECT * FROM users WHERE id IN ({marks}) ORDER BY id", others),
        (
            (
                f"SELECT id, user_id, org_id, served_on, quarters, description, status FROM"
                f" hour_entries WHERE user_id IN ({marks}) ORDER BY id"
            ),
            others,
        ),
        (f"SELECT * FROM activity_signups WHERE user_id IN ({marks}) ORDER BY user_id", others),
        (f"SELECT * FROM roles WHERE user_id IN ({marks}) ORDER BY user_id", others),
    ]
    kept_before = [rows(db_path, sql, tuple(p)) for sql, p in kept_sql]
    totals_before, sums_before = rows(db_path, totals), rows(db_path, sums)

    await tb.drain()  # notices still queued land first, not among /forgetme's answers
    ask = await tb.send(v, None, "/forgetme")
    done = await tb.press(v, with_button(ask, "forget:y"), "forget:y")
    assert any("已删除" in (d.text or "") for d in done), [d.text for d in done]
    backup = tmp_path / "after.backup"
    await tb.db.backup(backup)

    uid = v["id"]
    strings = {first, username, real, username.lower(), f"@{username}", *phones, str(uid)}
    strings |= {html.escape(s, quote=q) for s in list(strings) for q in (False, True)}
    text, cells = dump(db_path)
    for s in strings:
        assert s not in text, s
    assert photo_id not in text  # the photo's file id went with them
    assert [c for c in cells if c[2] == uid] == []  # as an integer, in any column
    # the files themselves: SQLite's database, WAL and online backup (PostgreSQL keeps its
    # files to itself; its backup is a compressed pg_dump archive)
    wal = Path(f"{db_path}-wal")
    blobs = (
        {}
        if is_pg(db_path)
        else {
            "db": Path(db_path).read_bytes(),
            "backup": backup.read_bytes(),
            "wal": wal.read_bytes() if wal.exists() else b"",
        }
    )
    binary = {uid.to_bytes(6, "big"), uid.to_bytes(8, "big"), varint(uid)}
    for name, blob in blobs.items():
        for s in strings:
            assert s.encode() not in blob, (name, s)
        for b in binary:
            assert b not in blob, (name, b)

    # totals unchanged; approved entries sit under one random tombstone
    assert rows(db_path, totals) == totals_before and rows(db_path, sums) == sums_before
    tombs = rows(db_path, "SELECT id FROM tombstones")
    assert tombs and all(tomb < 0 for (tomb,) in tombs)
    (tomb,) = rows(db_path, "SELECT user_id FROM hour_entries WHERE id = ?", (own,))[0]
    assert (tomb,) in tombs and tomb not in (-uid, uid)
    assert rows(db_path, "SELECT decided_by FROM hour_entries WHERE id = ?", (theirs,)) == [(tomb,)]
    # the series names the tombstone; the post's place was given up (its counter follows)
    assert rows(db_path, "SELECT created_by FROM activity_series") == [(tomb,)]
    assert rows(
        db_path, "SELECT user_id, status FROM activity_signups WHERE activity_id = ?", (occ,)
    ) == [(tomb, "cancelled")]
    assert rows(
        db_path,
        "SELECT confirmed FROM activity_posts WHERE activity_id = ? AND post_no = 2",
        (occ,),
    ) == [(0,)]
    assert rows(db_path, "SELECT 1 FROM activity_calendars WHERE user_id = ?", (tomb,)) == []
    assert [r for r in (rows(db_path, sql, tuple(p)) for sql, p in kept_sql)] == kept_before
    # the immutability trigger allows only that re-pointing
    with pytest.raises(INTEGRITY_ERRORS):
        async with tb.db.transaction() as tx:
            await tx.execute("UPDATE hour_entries SET quarters = 1 WHERE id = ?", (own,))

    # the next message stores the id alone; re-registering does not bring the hours back
    # (the victim's private chat used up its burst of direct replies above: this part is about
    # what is stored, not Telegram's pacing)
    tb.em.limits = False
    await tb.send(v, None, "/start")
    assert rows(db_path, "SELECT first_name, username FROM users WHERE id = ?", (uid,)) == [
        ("", None)
    ]
    await register_with_phone(tb, v, real, phone_shared, "yanshan.dabu")
    assert rows(db_path, "SELECT COUNT(*) FROM hour_entries WHERE user_id = ?", (uid,)) == [(0,)]
    assert (await tb.services.hours.summary(uid)).approved == 0
    assert rows(db_path, totals) == totals_before


async def test_forgetting_twice_and_strangers(tb: Harness) -> None:
    """Someone unregistered, or already forgotten, can ask again: nothing breaks."""
    t = await build_tower(tb)
    stranger = t["outsider"]
    await tb.send(stranger, None, "/start")
    assert (
        await tb.db.fetchone(
            "SELECT first_name, username FROM users WHERE id = ?", (stranger["id"],)
        )
    )["first_name"] == ""
    for _ in range(2):
        ask = await tb.send(stranger, None, "/forgetme")
        done = await tb.press(stranger, ask[0], "forget:y")
        assert done[-1].text
    assert await tb.db.fetchone("SELECT 1 FROM users WHERE id = ?", (stranger["id"],)) is None
