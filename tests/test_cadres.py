"""Cadre posts, holders and terms through the emulator: /cadres by staff only, the default 书记
post, declaring, appointing, handover (pending hours and owed report-backs follow), term
reminders that fire once across restarts, 配备率 / 在岗率 against hand counts, and a training
feeding /me's training record. No real name may reach a group chat."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.cadres_input import parse_appointment, parse_post, parse_term
from bot.domain.errors import Refusal
from bot.settings import Settings
from tests.conftest import Harness, build_tower, register, start_harness
from tests.helpers import with_button
from tests.test_campaigns import OffsetClock, clock_before, raw_texts, wait_for

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

TZ = Settings().tz
#: real names registered below; none may appear in any group chat
REAL = {"deputy": "陈副书记", "committee": "赵明亮", "newsec": "孙接任", "staff": "区干部周"}


async def rows(tb: Harness, sql: str, params: tuple = ()) -> list[Any]:
    return list(await tb.db.fetchall(sql, params))


async def people(tb: Harness, w: dict) -> dict:
    """Three more people of 大埠 (deputy, committee, newsec) and a district staff member, each
    registered under a real name unlike their Telegram first name."""
    em = tb.em
    extra = {
        "deputy": em.add_user("小陈", username="xiaochen"),
        "committee": em.add_user("阿亮", username="aliang"),
        "newsec": em.add_user("小孙", username="xiaosun"),
        "staff": em.add_user("周周", username="zhouzhou"),
    }
    for key, user in extra.items():
        em.set_member(w["chat_a"]["id"], user["id"], "member")
        await register(tb, user, REAL[key], "yanshan" if key == "staff" else "yanshan.dabu")
    said = em.text(extra["staff"], w["root"], "收到")["message"]
    await tb.send(w["boss"], w["root"], "/role staff", reply_to=said)
    return {**w, **extra}


async def shift_acks(tb: Harness, user_id: int, seconds: float) -> None:
    """Move the person's acknowledgements of announcements in time."""
    async with tb.db.transaction() as tx:
        await tx.execute(
            "UPDATE announcement_acks SET acked_at = acked_at + ? WHERE user_id = ?",
            (seconds, user_id),
        )


def group_texts(tb: Harness, w: dict) -> list[str]:
    return [x for chat in ("root", "chat_a", "chat_b") for x in raw_texts(tb, w[chat]["id"])]


async def say(tb: Harness, user: dict, chat: dict | None, text: str, **kw: Any) -> str:
    """`user` sends `text`; the bot's first answer in that chat (queued notices land first)."""
    await tb.drain()
    where = chat["id"] if chat else user["id"]
    sent = await tb.send(user, chat, text, **kw)
    return next((s.text or "" for s in sent if s.chat_id == where), "")


# --- pure parsing ----------------------------------------------------------------------------


def test_parse_words() -> None:
    assert parse_post("#12").post_id == 12 and parse_post("副书记").position == "deputy"
    got = parse_appointment(["@a", "挂职", "2026-01-01", "2028/12/31"])
    assert (got.username, got.mode) == ("@a", "seconded")
    assert got.term is not None and (got.term.start, got.term.end) == ("2026-01-01", "2028-12-31")
    for bad, key in [
        (["2026-01-01"], "err_cadre_term_two"),
        (["2026-13-01", "2027-01-01"], "err_cadre_date"),
        (["x"], "usage_cadres"),
    ]:
        with pytest.raises(Refusal) as err:
            parse_appointment(bad)
        assert err.value.key == key
    with pytest.raises(Refusal) as err:
        parse_term("2027-01-01", "2026-01-01")
    assert err.value.key == "err_cadre_term_order"
    with pytest.raises(Refusal):
        parse_post("主任")


# --- the roster ------------------------------------------------------------------------------


async def test_cadres_is_staff_only_and_group_only(tb: Harness) -> None:
    w = await build_tower(tb)
    # a member, a secretary (not staff), a private chat, an unbound group: refused, unchanged
    assert "团干部可以" in await say(tb, w["member_a"], w["chat_a"], "/cadres")
    assert "团干部可以" in await say(tb, w["sec_a"], w["chat_a"], "/cadres")
    assert "团干部可以" in await say(tb, w["sec_a"], w["chat_a"], "/cadres add 委员")
    assert "群" in await say(tb, w["boss"], None, "/cadres")
    loose = tb.em.add_group("没绑定的群", members=[w["boss"]["id"]])
    assert "绑定" in await say(tb, w["boss"], loose, "/cadres")
    assert await rows(tb, "SELECT * FROM cadre_posts") == []
    # staff: the default post, held by the secretary of today, and today's figures
    roster = await say(tb, w["boss"], w["root"], "/cadres")
    assert "配备率 1/3（33%）" in roster and "书记（默认岗位）" in roster
    assert "李娜" in roster and roster.count("空缺") == 2
    stats = await say(tb, w["boss"], w["root"], "/stats")
    assert "配备书记 1 个（配备率 33%）" in stats and "岗位配备率 33%（1/3）" in stats
    assert "用法" in await say(tb, w["boss"], w["root"], "/cadres what")


async def test_declare_appoint_figures_and_no_real_names_in_groups(tb: Harness) -> None:
    w = await people(tb, await build_tower(tb))
    boss, chat_a = w["boss"], w["chat_a"]
    # the first declaration makes the default 书记 post real (held by 李娜), then adds
    sent = await say(tb, boss, chat_a, "/cadres add 副书记")
    assert "#2" in sent, sent
    sent = await say(tb, boss, chat_a, "/cadres add 委员 2")
    assert "#3 #4" in sent
    posts = await rows(tb, "SELECT id, position FROM cadre_posts ORDER BY id")
    assert [tuple(r) for r in posts] == [
        (1, "secretary"),
        (2, "deputy"),
        (3, "committee"),
        (4, "committee"),
    ]
    held = await rows(tb, "SELECT post_id, user_id FROM cadre_holdings WHERE ended_at IS NULL")
    assert [tuple(r) for r in held] == [(1, w["sec_a"]["id"])]
    # appoint by @username with mode and term, and by reply; an unregistered person is refused
    sent = await say(
        tb, boss, chat_a, "/cadres appoint 副书记 @xiaochen 专职 2026-01-01 2028-12-31"
    )
    assert "专职，任期 2026-01-01 至 2028-12-31" in sent, sent
    said = tb.em.text(w["committee"], chat_a, "到")["message"]
    sent = await say(tb, boss, chat_a, "/cadres appoint 委员 兼职", reply_to=said)
    assert "#3" in sent
    said = tb.em.text(w["outsider"], chat_a, "我也来")["message"]
    sent = await say(tb, boss, chat_a, "/cadres appoint 4", reply_to=said)
    assert "尚未注册" in sent
    assert "自己" in await say(tb, boss, chat_a, "/cadres appoint 4 @wang_xiaoming")
    assert "#4" in await say(tb, boss, w["chat_b"], "/cadres appoint 4 @aliang")
    sent = await say(tb, boss, chat_a, "/cadres mode 1 挂职")
    assert "挂职" in sent
    sent = await say(tb, boss, chat_a, "/cadres term 1 2025-07-01 2028-06-30")
    assert "2028-06-30" in sent
    assert "已担任" in await say(tb, boss, chat_a, "/cadres appoint 2 @xiaochen")
    assert "空缺" in await say(tb, boss, chat_a, "/cadres mode 4 专职")
    # the deputy is told privately
    await tb.drain()
    assert any("副书记" in x and "专职" in x for x in tb.texts(w["deputy"]["id"]))
    stored = await rows(
        tb,
        "SELECT post_id, user_id, mode, term_start, term_end FROM cadre_holdings"
        " WHERE ended_at IS NULL ORDER BY post_id",
    )
    assert [tuple(r) for r in stored] == [
        (1, w["sec_a"]["id"], "seconded", "2025-07-01", "2028-06-30"),
        (2, w["deputy"]["id"], "full", "2026-01-01", "2028-12-31"),
        (3, w["committee"]["id"], "part", None, None),
    ]
    # a vacant post can be removed, a held one not; the org keeps at least one
    assert "vacate" in await say(tb, boss, chat_a, "/cadres remove 3")
    await tb.send(boss, chat_a, "/cadres add 委员")
    assert "撤销" in await say(tb, boss, chat_a, "/cadres remove 5")

    # hand-counted: 大埠 declared 4 posts, 3 filled; 雁山 and 雁山街道 declared none and have
    # no secretary: 1 + 1 implicit vacant posts. Holders 3; acted in 30 days: the deputy
    # (acknowledged an announcement) and 李娜 (decided an hour entry) = 2 of 3.
    await tb.send(w["member_a"], None, "/hours 2 昨天 七彩四点半")
    await tb.drain()
    listing = (await tb.send(w["sec_a"], None, "/pending"))[0]
    entry = int((await rows(tb, "SELECT MAX(id) FROM hour_entries"))[0][0])
    await tb.press(w["sec_a"], listing, f"hrs:ok:{entry}:0")
    await tb.send(boss, w["root"], "/announce 周六团日活动")
    await tb.drain()
    copy = next(m for m in tb.em.messages_to(chat_a["id"]) if "周六团日活动" in (m.text or ""))
    await tb.press(w["deputy"], copy, "ann:1:ack")
    # …and a holder's act older than 30 days does not count
    await shift_acks(tb, w["deputy"]["id"], -31 * 86400)
    stats = await say(tb, boss, w["root"], "/stats")
    assert "岗位配备率 50%（3/6）" in stats and "在岗率 33%（1/3）" in stats, stats
    await shift_acks(tb, w["deputy"]["id"], 30 * 86400)
    roster = await say(tb, boss, w["root"], "/cadres")
    assert "配备率 3/6（50%）" in roster and "在岗率 2/3（67%" in roster, roster
    assert "小陈" in roster and "@xiaochen" in roster and "#4 委员：" in roster
    figures = await tb.services.stats.figures(await tb.services.tower.org_by_code("yanshan"))
    assert (figures.posts, figures.posts_filled, figures.holders, figures.holders_active) == (
        6,
        3,
        3,
        2,
    )
    # the secretary was already the secretary; nobody else gained a role by a lower post
    assert await tb.services.access.role_at(w["deputy"]["id"], figures.org) is None

    await tb.drain()
    for text in group_texts(tb, w):
        assert not any(name in text for name in REAL.values()), text


# --- handover --------------------------------------------------------------------------------


async def test_handover_moves_pending_hours_and_owed_report_backs(tmp_path: Path) -> None:
    due = time.time() + 400 * 86400  # far enough: only the test's short rung matters
    due_local = datetime.fromtimestamp(due, TZ).strftime("%Y-%m-%d %H:%M")
    due = datetime.strptime(due_local, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).timestamp()
    clock = clock_before(due, 3600)
    ctx, tb = await start_harness(tmp_path, clock=clock, campaign_reminders="4s", overdue_days=0)
    try:
        w = await people(tb, await build_tower(tb))
        boss, chat_a, sec_a, newsec = w["boss"], w["chat_a"], w["sec_a"], w["newsec"]
        await tb.send(w["member_a"], None, "/hours 2 昨天 七彩四点半")
        await tb.drain()
        entry = int((await rows(tb, "SELECT MAX(id) FROM hour_entries"))[0][0])
        assert f"hrs:ok:{entry}:0" in str((await tb.send(sec_a, None, "/pending"))[0].reply_markup)
        clock.aim = (due, 8.0)
        clock.re_aim()  # the 4 s rung is due 4 s from now
        await tb.send(boss, w["root"], f"/deadline new 年度述职 | {due_local}")
        sent = await say(tb, boss, chat_a, "/cadres appoint 书记 @xiaosun 兼职")
        assert "交接" in sent and "小孙" in sent, sent

        def reminded(user: dict) -> list[str]:
            return [x for x in raw_texts(tb, user["id"]) if "还剩" in x]

        await wait_for(lambda: len(reminded(newsec)) >= 1, 10)
        await tb.drain()
        assert reminded(sec_a) == []
        # the successor sees the pending entry and may approve it; the predecessor no longer
        listing = (await tb.send(newsec, None, "/pending"))[0]
        assert f"hrs:ok:{entry}:0" in str(listing.reply_markup)
        assert "只有书记或团干部" in await say(tb, sec_a, None, "/pending")
        await tb.press(newsec, listing, f"hrs:ok:{entry}:0")
        row = await rows(tb, "SELECT status, decided_by FROM hour_entries WHERE id = ?", (entry,))
        assert tuple(row[0]) == ("approved", newsec["id"])
        org = await tb.services.tower.org_by_code("yanshan.dabu")
        assert await tb.services.access.role_at(sec_a["id"], org) is None
        assert await tb.services.access.role_at(newsec["id"], org) == "secretary"
        history = await rows(
            tb, "SELECT user_id, ended_at IS NULL AS now FROM cadre_holdings ORDER BY id"
        )
        assert [tuple(r) for r in history] == [(sec_a["id"], 0), (newsec["id"], 1)]
        await tb.drain()
        assert any("交接" in x for x in tb.texts(sec_a["id"]))
        # vacating the 书记 post takes the role too
        await tb.send(boss, chat_a, "/cadres vacate 书记")
        assert await tb.services.access.role_at(newsec["id"], org) is None
    finally:
        await ctx.__aexit__(None, None, None)


# --- term reminders --------------------------------------------------------------------------


def _nine(day: date) -> float:
    return datetime.combine(day, datetime.min.time().replace(hour=9), tzinfo=TZ).timestamp()


async def test_term_reminders_fire_once_across_restarts(tmp_path: Path) -> None:
    end = date.fromtimestamp(time.time()) + timedelta(days=400)
    due30, due7 = _nine(end - timedelta(days=30)), _nine(end - timedelta(days=7))
    clock = OffsetClock(due30 - 3600 - time.time())  # well before, while the world is built
    ctx, tb = await start_harness(tmp_path, clock=clock)
    em = tb.em
    try:
        w = await people(tb, await build_tower(tb))
        clock.aim = (due30, 4.0)
        clock.re_aim()
        sent = await say(
            tb, w["boss"], w["chat_a"], f"/cadres appoint 书记 @xiaosun 专职 2026-01-01 {end}"
        )
        assert end.isoformat() in sent, sent
        steps = await rows(tb, "SELECT step, status FROM reminders WHERE kind = 'cadre_term'")
        assert sorted(r["step"] for r in steps) == [f"30d:{end}", f"7d:{end}"]

        def told(user: dict, days: int) -> list[str]:
            return [x for x in raw_texts(tb, user["id"]) if f"还有 {days} 天" in x]

        await wait_for(lambda: len(told(w["newsec"], 30)) >= 1, 10)
        await wait_for(lambda: len(told(w["staff"], 30)) >= 1, 5)
        await tb.drain()
        assert REAL["newsec"] in told(w["staff"], 30)[0]  # privately, the real name
        newsec, staff = w["newsec"], w["staff"]
    finally:
        await ctx.__aexit__(None, None, None)
    # down until an hour after the 7-day reminder was due: it fires at start-up, once
    clock.aim = None
    clock.offset = due7 + 3600 - time.time()
    for _ in range(2):
        ctx, tb = await start_harness(tmp_path, em=em, clock=clock)
        try:
            await wait_for(lambda: len(told(newsec, 7)) >= 1, 10)
            await tb.drain()
            statuses = await rows(tb, "SELECT status FROM reminders WHERE kind = 'cadre_term'")
            assert {r["status"] for r in statuses} == {"done"}
        finally:
            await ctx.__aexit__(None, None, None)
    assert [len(told(newsec, d)) for d in (30, 7)] == [1, 1]
    assert [len(told(staff, d)) for d in (30, 7)] == [1, 1]
    for text in group_texts(tb, w):
        assert not any(name in text for name in REAL.values()), text


async def test_a_new_term_or_handover_replaces_the_reminders(tb: Harness) -> None:
    w = await people(tb, await build_tower(tb))
    boss, chat_a = w["boss"], w["chat_a"]
    end = date.today() + timedelta(days=400)
    later = end + timedelta(days=1)
    assert "#2" in await say(tb, boss, chat_a, "/cadres add 副书记")
    assert "没有设立" in await say(tb, boss, chat_a, "/cadres appoint 委员 @xiaochen")
    await say(tb, boss, chat_a, f"/cadres appoint 副书记 @xiaochen 2026-01-01 {end}")
    await say(tb, boss, chat_a, f"/cadres term 副书记 2026-01-01 {later}")
    assert "交接" in await say(tb, boss, chat_a, "/cadres appoint 2 @aliang")
    await say(tb, boss, chat_a, f"/cadres term 2 2026-01-01 {end}")
    got = await rows(
        tb, "SELECT ref_id, step, status FROM reminders WHERE kind = 'cadre_term' ORDER BY id"
    )
    assert [tuple(r) for r in got] == [
        (1 + 1, f"30d:{end}", "cancelled"),  # the deputy's holding is the second (李娜: 1)
        (2, f"7d:{end}", "cancelled"),
        (2, f"30d:{later}", "cancelled"),  # handed over
        (2, f"7d:{later}", "cancelled"),
        (3, f"30d:{end}", "pending"),  # the successor's own term
        (3, f"7d:{end}", "pending"),
    ]


# --- training --------------------------------------------------------------------------------


async def test_training_with_attendance_feeds_the_record(tb: Harness) -> None:
    w = await people(tb, await build_tower(tb))
    boss, chat_a, deputy = w["boss"], w["chat_a"], w["deputy"]
    await say(tb, boss, chat_a, "/cadres add 副书记")
    assert "兼职" in await say(tb, boss, chat_a, "/cadres appoint 副书记 @xiaochen 兼职")
    soon = datetime.fromtimestamp(time.time() + 1800, TZ).strftime("%Y-%m-%d %H:%M")
    sent = await tb.send(
        w["sec_a"], chat_a, f"/activity 青马工程第一课 | {soon} | 2.5 | 20 | 会议室 | 团课"
    )
    card = with_button(sent, "act:1:join")
    assert "团课" in (card.text or "")
    sent = await tb.send(w["sec_a"], chat_a, f"/activity 普通活动 | {soon} | 1 | 20 | 操场")
    plain = with_button(sent, "act:2:join")
    kinds = await rows(tb, "SELECT id, kind FROM activities ORDER BY id")
    assert [tuple(r) for r in kinds] == [(1, "lesson"), (2, None)]
    for act, c in ((1, card), (2, plain)):
        await tb.press(deputy, c, f"act:{act}:join")
        button = with_button(await tb.send(w["sec_a"], chat_a, f"/checkin {act}"), f"act:{act}:in")
        await tb.press(deputy, button, f"act:{act}:in")
        await tb.send(w["sec_a"], chat_a, f"/close {act}")
    await tb.drain()
    me = "\n".join(s.text or "" for s in await tb.send(deputy, None, "/me"))
    assert "培训记录：1 次，2.5 小时" in me, me
    record = me.split("培训记录")[1]
    assert "青马工程第一课" in record and "团课" in record and "普通活动" not in record
    assert "大埠乡团委 副书记（#2）：兼职" in me, me
    roster = await say(tb, boss, chat_a, "/cadres")
    assert "培训 1 次 2.5 小时" in roster, roster
    # the export goes privately, with the real name
    mark = len(tb.em.sent)
    await tb.send(boss, chat_a, "/export training")
    await tb.drain()
    docs = [s for s in tb.em.sent[mark:] if s.method == "sendDocument"]
    assert docs and docs[0].chat_id == boss["id"], [s.method for s in tb.em.sent[mark:]]
    # a member cannot export it
    assert "团干部" in await say(tb, w["member_a"], chat_a, "/export training")


async def test_forget_vacates_the_post(tb: Harness) -> None:
    w = await people(tb, await build_tower(tb))
    boss, chat_a, deputy = w["boss"], w["chat_a"], w["deputy"]
    end = date.today() + timedelta(days=400)
    await say(tb, boss, chat_a, "/cadres add 副书记")
    await say(tb, boss, chat_a, f"/cadres appoint 副书记 @xiaochen 2026-01-01 {end}")
    data = json.loads(await tb.services.privacy.mydata(deputy["id"]))  # /mydata shows it
    assert [(p["position"], p["term_end"]) for p in data["cadre_posts"]] == [
        ("deputy", end.isoformat())
    ]
    await tb.drain()
    ask = await tb.send(deputy, None, "/forgetme")
    await tb.press(deputy, with_button(ask, "forget:y"), "forget:y")
    assert await rows(tb, "SELECT * FROM cadre_holdings WHERE user_id = ?", (deputy["id"],)) == []
    got = await rows(tb, "SELECT status FROM reminders WHERE kind = 'cadre_term'")
    assert [r["status"] for r in got] == ["cancelled", "cancelled"]
    assert "#2 副书记：空缺" in await say(tb, boss, chat_a, "/cadres")
