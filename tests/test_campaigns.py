"""Report-back campaigns through the emulator: /deadline, the reminder ladder on the real
APScheduler timer (short offsets), submissions, the board, restarts and bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.campaigns import ladder, parse_due, parse_new
from bot.domain.clock import Clock
from bot.domain.errors import Refusal
from tests.conftest import Harness, build_tower, start_harness

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-12-01 00:30 in Shanghai is still 30 November in UTC
DUE_LOCAL = "2026-12-01 00:30"
#: the due time as people read it (the deployment's own zone is not named)
DUE_SHOWN = "12月1日（周二）00:30"
DUE_TS = datetime(2026, 11, 30, 16, 30, tzinfo=UTC).timestamp()


class OffsetClock(Clock):
    """Real time, shifted: the APScheduler timer still runs on real seconds."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        #: (due time, seconds before it) this clock should read once the world is built
        self.aim: tuple[float, float] | None = None

    def re_aim(self) -> None:
        """Read `seconds` before the due time again from now (setting up took a while)."""
        if self.aim is not None:
            self.offset = self.aim[0] - self.aim[1] - time.time()

    def time(self) -> float:
        return time.time() + self.offset


def clock_before(due_ts: float, seconds: float) -> OffsetClock:
    """A clock that reads `seconds` before `due_ts` now, and again when `harness` has built
    the world (a slow machine must not eat into the seconds before the first reminder)."""
    clock = OffsetClock(due_ts - seconds - time.time())
    clock.aim = (due_ts, seconds)
    return clock


async def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def rows(tb: Harness, sql: str, params: tuple = ()) -> list[Any]:
    return list(await tb.db.fetchall(sql, params))


async def count(tb: Harness, sql: str, params: tuple = ()) -> int:
    return int((await rows(tb, sql, params))[0][0])


def raw_texts(tb: Harness, chat_id: int) -> list[str]:
    """What the bot sent to a chat, as sent (HTML, links included)."""
    return [str(s.params.get("text") or "") for s in tb.em.messages_to(chat_id)]


async def harness(tmp_path: Path, **kw: Any) -> tuple[Any, Harness, dict[str, Any]]:
    ctx, tb = await start_harness(tmp_path, **kw)
    tower = await build_tower(tb)
    await tb.drain()
    if isinstance(kw.get("clock"), OffsetClock):
        kw["clock"].re_aim()
    return ctx, tb, tower


# --- pure parsing ----------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()


def test_parse_due_local_midnight() -> None:
    assert parse_due(DUE_LOCAL, SHANGHAI, NOW) == DUE_TS
    assert parse_due(" 2026-12-01   00:30 ", SHANGHAI, NOW) == DUE_TS


def refusal(parse: Callable[..., Any], text: str, tz: ZoneInfo = SHANGHAI) -> str:
    """The key of the Refusal `parse(text, tz, NOW)` must raise."""
    with pytest.raises(Refusal) as err:
        parse(text, tz, NOW)
    return err.value.key


@pytest.mark.parametrize(
    "text,key",
    [
        ("12/01/2026 10:00", "err_deadline_date"),  # 2026/12/01 is a date people write
        ("2026-02-30 10:00", "err_deadline_date"),
        ("2026-12-01 24:00", "err_deadline_date"),
        ("2026-12-01", "err_deadline_date"),
        ("tomorrow", "err_deadline_date"),
        ("2026-11-20 19:59", "err_deadline_past"),  # 11:59 UTC
        ("2028-01-01 10:00", "err_deadline_far"),
    ],
)
def test_parse_due_refusals(text: str, key: str) -> None:
    assert refusal(parse_due, text) == key


def test_parse_due_skipped_dst_hour() -> None:
    new_york = ZoneInfo("America/New_York")
    assert refusal(parse_due, "2027-03-14 02:30", new_york) == "err_deadline_date"


@pytest.mark.parametrize(
    "text,key",
    [
        ("", "err_deadline_parts"),
        ("年度述职", "err_deadline_parts"),
        (" | 2026-12-01 18:00", "err_deadline_parts"),
        ("年度述职 | ", "err_deadline_parts"),
        ("a | 2026-12-01 18:00 | all | more", "err_deadline_scope"),  # options: issue 13
        ("a | 2026-12-01 18:00 | all | 2 | 多数 | 平均 | all | all", "err_deadline_parts"),
        ("a | 2026-12-01 18:00 | 评审 lina!", "err_deadline_panel"),
        ("a | 2026-12-01 18:00 | 评分 好", "err_deadline_rubric"),
        ("a | 2026-12-01 18:00 | 评分 好 好", "err_deadline_rubric"),
        ("x" * 101 + " | 2026-12-01 18:00", "err_deadline_title_long"),
        ("年度述职 | 2026-12-01 18:00 | some", "err_deadline_scope"),
    ],
)
def test_parse_new_refusals(text: str, key: str) -> None:
    assert refusal(parse_new, text) == key


def test_parse_new_all() -> None:
    new = parse_new("年度述职 | 2026-12-01 00:30 | all", SHANGHAI, NOW)
    assert (new.title, new.due_at, new.scope) == ("年度述职", DUE_TS, "all")


def test_ladder_skips_past_rungs() -> None:
    due = NOW + 2 * 86400
    steps = ladder(due, NOW, [7 * 86400, 3 * 86400, 86400, 7200], 7, 86400)
    names = [s for s, _ in steps]
    assert names[:3] == ["before:86400", "before:7200", "due"]
    assert names[3:] == [f"overdue:{k}" for k in range(1, 8)] + ["escalate"]
    assert dict(steps)["escalate"] == due + 7 * 86400
    assert [s for s, _ in ladder(due, NOW, [3600], 0, 86400)] == ["before:3600", "due"]


# --- through the emulator --------------------------------------------------------------------


async def test_bad_input_changes_nothing(tb: Harness) -> None:
    t = await build_tower(tb)
    boss, sec_a, member_a = t["boss"], t["sec_a"], t["member_a"]
    root, chat_a = t["root"], t["chat_a"]
    new = "/deadline new 年度述职 | "

    async def answer(user: dict, chat: Any, text: str) -> str:
        sent = await tb.send(user, chat, text)
        assert len(sent) == 1, (text, [s.text for s in sent])
        return sent[0].text or ""

    assert "2026-12-01 18:00" in await answer(boss, root, "/deadline")
    assert "/deadline new" in await answer(boss, root, "/deadline frobnicate")
    assert "| 2026-12-01 18:00" in await answer(boss, root, "/deadline new")
    assert "|" in await answer(boss, root, "/deadline new 年度述职 2026-12-01 18:00")
    assert "无效" in await answer(boss, root, "/deadline new 年度述职 | 2026-13-01 18:00")
    assert "已经过去" in await answer(boss, root, new + "2020-01-01 18:00")
    too_long = "/deadline new " + "长" * 101 + " | 2026-12-01 18:00"
    assert "太长" in await answer(boss, root, too_long)
    assert "all" in await answer(boss, root, new + "2026-12-01 18:00 | every")
    assert "团干部" in await answer(sec_a, chat_a, new + "2026-12-01 18:00")
    assert "团干部" in await answer(member_a, chat_a, new + "2026-12-01 18:00")
    assert "群聊" in await answer(boss, None, "/deadline status")
    assert "书记" in await answer(member_a, chat_a, "/deadline status")
    assert "#42" in await answer(boss, root, "/deadline status 42")
    assert "数字" in await answer(boss, root, "/deadline cancel abc")
    assert "#42" in await answer(boss, root, "/deadline cancel 42")
    assert "私聊" in await answer(sec_a, chat_a, "/submit")
    assert "/submit" in await answer(sec_a, None, "/submit")
    assert "#7" in await answer(sec_a, None, "/submit 7")
    assert "还没有" in await answer(boss, root, "/deadline status")
    # English speakers get English
    tom = t["member_b"]
    assert "Example" in await answer(tom, t["chat_b"], "/deadline")
    # nothing was written
    assert await count(tb, "SELECT COUNT(*) FROM campaigns") == 0
    assert await count(tb, "SELECT COUNT(*) FROM reminders WHERE kind = 'campaign'") == 0


async def test_full_ladder_board_and_escalation(tmp_path: Path) -> None:
    """7d/3d/1d/2h in miniature: 3 s and 1 s before, the board at the due time, two overdue
    reminders 2 s apart, then the chat above is told who is missing."""
    clock = clock_before(DUE_TS, 4.0)
    ctx, tb, t = await harness(tmp_path, clock=clock, campaign_reminders="3s,1s", overdue_days=2)
    try:
        boss, sec_a, root = t["boss"], t["sec_a"], t["root"]
        tb.services.campaigns.overdue_interval = 2.0
        sent = await tb.send(boss, root, f"/deadline new 2026年度述职 | {DUE_LOCAL}")
        answer = sent[0].text or ""
        assert "#1" in answer and DUE_SHOWN in answer and "Asia/Shanghai" not in answer
        assert "雁山街道团工委" in answer  # no secretary, said at once
        stored = await rows(tb, "SELECT due_at, org_id FROM campaigns WHERE id = 1")
        assert stored[0]["due_at"] == DUE_TS  # 2026-11-30 16:30 UTC
        steps = [
            r["step"]
            for r in await rows(
                tb, "SELECT step FROM reminders WHERE kind = 'campaign' ORDER BY due_at, id"
            )
        ]
        assert steps == ["before:3", "before:1", "due", "overdue:1", "overdue:2", "escalate"]

        def private_a() -> list[str]:
            return [x for x in raw_texts(tb, sec_a["id"]) if "述职" in x and "#1" in x]

        await wait_for(lambda: len(private_a()) >= 1, 5)
        first = private_a()[0]
        assert "sub_1" in first and "大埠乡团委" in first and DUE_SHOWN in first
        button = tb.em.messages_to(sec_a["id"])[-1].reply_markup
        assert button and "sub_1" in button["inline_keyboard"][0][0]["url"]
        # the staff above hear once that 雁山街道 has no secretary
        await wait_for(lambda: any("没有书记" in x for x in raw_texts(tb, boss["id"])), 5)
        await wait_for(lambda: len(private_a()) >= 2, 5)
        # the board at the due time, in the campaign org's chat, in local time
        await wait_for(lambda: any("未交" in x for x in raw_texts(tb, root["id"])), 6)
        board = next(x for x in raw_texts(tb, root["id"]) if "未交 2" in x)
        assert DUE_SHOWN in board and "无书记" in board and "大埠乡团委" in board
        # daily while overdue (here every 2 s), then escalation
        await wait_for(lambda: any("仍有" in x for x in raw_texts(tb, root["id"])), 10)
        escalation = next(x for x in raw_texts(tb, root["id"]) if "仍有" in x)
        assert "2/2" in escalation and "雁山街道团工委" in escalation
        await tb.drain()
        texts = private_a()
        assert len([x for x in texts if "还剩" in x]) == 2
        assert len([x for x in texts if "已逾期" in x]) == 2
        assert sum("没有书记" in x for x in raw_texts(tb, boss["id"])) == 1
        statuses = {
            r["step"]: r["status"]
            for r in await rows(tb, "SELECT step, status FROM reminders WHERE kind = 'campaign'")
        }
        assert set(statuses.values()) == {"done"}
        # /deadline status shows the same board on demand
        sent = await tb.send(boss, root, "/deadline status")
        assert "未交 2" in (sent[0].text or "") and "已截止" in (sent[0].text or "")
    finally:
        await ctx.__aexit__(None, None, None)


async def test_submit_resubmit_late_and_board(tmp_path: Path) -> None:
    clock = clock_before(DUE_TS, 3 * 86400)
    ctx, tb, t = await harness(tmp_path, clock=clock)
    try:
        boss, sec_a, root = t["boss"], t["sec_a"], t["root"]
        chat_a, chat_b = t["chat_a"], t["chat_b"]
        tom = t["member_b"]  # display name "Tom", registered real name "Tom Li"
        said = tb.em.text(tom, chat_b, "hi")["message"]
        await tb.send(boss, chat_b, "/role secretary", reply_to=said)
        await tb.send(boss, root, f"/deadline new 2026年度述职 | {DUE_LOCAL}")

        # secretary of one org: /submit goes straight to the prompt; a text is the report
        sent = await tb.send(sec_a, None, "/submit")
        prompt = sent[0].text or ""
        assert "大埠乡团委" in prompt and DUE_SHOWN in prompt
        sent = await tb.send(sec_a, None, "本年度共开展活动 12 次。")
        assert "已收到" in (sent[0].text or "") and "按时" in (sent[0].text or "")
        # the flow is over: the next text is not a report
        await tb.drain()  # the report also went to the reviewers (the creator) privately
        after = await tb.send(sec_a, None, "随便说说")  # "what I can do", not a second report
        after = [s for s in after if s.chat_id == sec_a["id"]]
        assert len(after) == 1 and "已收到" not in (after[0].text or "")
        assert after[0].reply_markup["inline_keyboard"][0][0]["callback_data"].startswith("guide:")
        # resubmitting through the deep link replaces the report with a document
        sent = await tb.send(sec_a, None, "/start sub_1")
        assert "替换" in (sent[0].text or "")
        mark = len(tb.em.sent)
        await tb.deliver(tb.em.document(sec_a, None, "述职报告.pdf", file_size=2048))
        reply = tb.em.sent[mark:][0].text or ""
        assert "述职报告.pdf" in reply and "替换" in reply and "2 KB" in reply
        sub = (
            await rows(
                tb,
                "SELECT * FROM campaign_submissions WHERE org_id ="
                " (SELECT id FROM orgs WHERE code = 'yanshan.dabu')",
            )
        )[0]
        assert sub["text"] is None and sub["file_name"] == "述职报告.pdf"
        assert sub["file_size"] == 2048 and sub["file_id"] and sub["versions"] == 2
        assert sub["late"] == 0 and sub["user_id"] == sec_a["id"]

        # after the due time a submission is marked late
        clock.offset += 3 * 86400 + 60
        await tb.send(tom, None, "/submit 1")
        sent = await tb.send(tom, None, "Late but here.")
        assert "late" in (sent[0].text or "").lower()

        # the board: display names only, local times, on time / late
        sent = await tb.send(boss, root, "/deadline status 1")
        board = sent[0].text or ""
        assert "按时 1" in board and "逾期提交 1" in board and "未交 0" in board
        assert "李娜" in board and "Tom" in board and "Tom Li" not in board
        assert "12月1日（周二）00:31" in board  # Tom's submission, local time, as people read it
        # a secretary sees the part of the board under their own org
        sent = await tb.send(sec_a, chat_a, "/deadline status 1")
        text = sent[0].text or ""
        assert "大埠乡团委" in text and "雁山街道团工委" not in text and "共 1" in text
        sent = await tb.send(sec_a, chat_a, "/deadline list")
        assert "#1" in (sent[0].text or "") and "1/1" in (sent[0].text or "")
        # an empty text or a photo is not a report
        await tb.send(sec_a, None, "/submit 1")
        sent = await tb.deliver(tb.em.contact(sec_a, "+8613800000000"))
        assert "文字" in (sent[0].text or "")
        assert (
            await count(
                tb, "SELECT versions FROM campaign_submissions WHERE user_id = ?", (sec_a["id"],)
            )
            == 2
        )
    finally:
        await ctx.__aexit__(None, None, None)


async def test_choice_between_campaigns_by_buttons(tb: Harness) -> None:
    t = await build_tower(tb)
    boss, sec_a, root = t["boss"], t["sec_a"], t["root"]
    soon = datetime.now(SHANGHAI) + timedelta(days=30)
    later = soon + timedelta(days=30)
    await tb.send(boss, root, f"/deadline new 上半年述职 | {soon:%Y-%m-%d %H:%M}")
    await tb.send(boss, root, f"/deadline new 下半年述职 | {later:%Y-%m-%d %H:%M}")
    sent = await tb.send(sec_a, None, "/submit")
    buttons = sent[0].reply_markup["inline_keyboard"]
    assert next(b[0]["callback_data"] for b in buttons).startswith("sub:1:")
    assert len(buttons) == 2
    sent = await tb.press(sec_a, sent[0], buttons[1][0]["callback_data"])
    assert any("下半年述职" in (s.text or "") for s in sent)
    sent = await tb.send(sec_a, None, "下半年的报告")
    assert "下半年述职" in (sent[0].text or "")
    subs = await rows(tb, "SELECT campaign_id FROM campaign_submissions")
    assert [r["campaign_id"] for r in subs] == [2]
    # a stale or forged button changes nothing
    await tb.press(sec_a, sent[0], "sub:9:9")
    assert tb.em.callback_answers[-1].get("show_alert")
    assert await count(tb, "SELECT COUNT(*) FROM campaign_submissions") == 1


async def test_blocked_secretary_is_mentioned_in_org_chat(tmp_path: Path) -> None:
    clock = clock_before(DUE_TS, 2.5)
    ctx, tb, t = await harness(tmp_path, clock=clock, campaign_reminders="2s,1s", overdue_days=0)
    try:
        boss, sec_a, root, chat_a = t["boss"], t["sec_a"], t["root"], t["chat_a"]
        await tb.deliver(tb.em.user_blocked_bot(sec_a))
        await tb.send(boss, root, f"/deadline new 述职 | {DUE_LOCAL}")

        def mentions() -> list[str]:
            return [
                x
                for x in raw_texts(tb, chat_a["id"])
                if f"tg://user?id={sec_a['id']}" in x and "sub_1" in x
            ]

        await wait_for(lambda: len(mentions()) >= 1, 6)
        assert "李娜" in mentions()[0] and "陈小红" not in mentions()[0]
        user = await rows(tb, "SELECT reachable FROM users WHERE id = ?", (sec_a["id"],))
        assert user[0]["reachable"] == 0
        # the second rung knows she is unreachable and mentions her straight away
        await wait_for(lambda: len(mentions()) >= 2, 6)
        await tb.drain()
        assert len(mentions()) == 2
        assert tb.em.messages_to(sec_a["id"]) == [] or all(
            "#1" not in (s.text or "") for s in tb.em.messages_to(sec_a["id"])[-2:]
        )
    finally:
        await ctx.__aexit__(None, None, None)


async def test_cancel_while_reminders_pending(tmp_path: Path) -> None:
    clock = clock_before(DUE_TS, 2.0)
    ctx, tb, t = await harness(tmp_path, clock=clock, campaign_reminders="1s", overdue_days=3)
    try:
        boss, sec_a, root, chat_a = t["boss"], t["sec_a"], t["root"], t["chat_a"]
        await tb.send(boss, root, f"/deadline new 述职 | {DUE_LOCAL}")
        assert "团干部" in ((await tb.send(sec_a, chat_a, "/deadline cancel 1"))[0].text or "")
        sent = await tb.send(boss, root, "/deadline cancel 1")
        assert "已取消" in (sent[0].text or "") and "6" in (sent[0].text or "")
        assert "已取消" in ((await tb.send(boss, root, "/deadline cancel 1"))[0].text or "")
        await asyncio.sleep(3.0)
        await tb.drain()
        assert not any("#1" in x for x in raw_texts(tb, sec_a["id"]))
        assert not any("#1" in x for x in raw_texts(tb, root["id"])[-1:] if "未交" in x)
        statuses = {
            r["status"]
            for r in await rows(tb, "SELECT status FROM reminders WHERE kind = 'campaign'")
        }
        assert statuses == {"cancelled"}
        assert "取消" in ((await tb.send(sec_a, None, "/submit 1"))[0].text or "")
        sent = await tb.send(boss, root, "/deadline list")
        assert "已取消" in (sent[0].text or "")
    finally:
        await ctx.__aexit__(None, None, None)


async def test_restart_mid_ladder(tmp_path: Path) -> None:
    """The first rung fires, the bot goes down, the due time passes: after the restart the
    board goes out once (less than 12 h late), and nothing is sent twice."""
    clock = clock_before(DUE_TS, 2.5)
    ctx, tb, t = await harness(tmp_path, clock=clock, campaign_reminders="2s", overdue_days=0)
    boss, sec_a, root = t["boss"], t["sec_a"], t["root"]
    em = tb.em
    try:
        await tb.send(boss, root, f"/deadline new 述职 | {DUE_LOCAL}")
        await wait_for(lambda: any("还剩" in x for x in raw_texts(tb, sec_a["id"])), 5)
        await tb.drain()
    finally:
        await ctx.__aexit__(None, None, None)
    await asyncio.sleep(2.5)  # the due time passes while the bot is down

    def boards() -> list[str]:
        return [x for x in raw_texts(tb, root["id"]) if "未交" in x]

    assert boards() == []
    for _ in range(2):  # two restarts: the board once, the reminder never again
        ctx, tb = await start_harness(
            tmp_path, em=em, clock=clock, campaign_reminders="2s", overdue_days=0
        )
        try:
            await wait_for(lambda: len(boards()) >= 1, 5)
            await tb.drain()
            statuses = {
                r["step"]: r["status"]
                for r in await rows(
                    tb, "SELECT step, status FROM reminders WHERE kind = 'campaign'"
                )
            }
            assert statuses == {"before:2": "done", "due": "done"}
        finally:
            await ctx.__aexit__(None, None, None)
    assert len(boards()) == 1
    assert sum("还剩" in x for x in raw_texts(tb, sec_a["id"])) == 1


async def test_restart_too_late_is_recorded_missed(tmp_path: Path) -> None:
    clock = clock_before(DUE_TS, 3600.0)
    ctx, tb, t = await harness(tmp_path, clock=clock, campaign_reminders="30m", overdue_days=1)
    em, sec_a, root = tb.em, t["sec_a"], t["root"]
    try:
        tb.services.campaigns.overdue_interval = 2 * 3600.0
        await tb.send(t["boss"], root, f"/deadline new 述职 | {DUE_LOCAL}")
    finally:
        await ctx.__aexit__(None, None, None)
    mark = len(em.sent)
    clock.offset += 3600 + 13 * 3600  # 13 h after the due time; the overdue step is 11 h late
    ctx, tb = await start_harness(
        tmp_path, em=em, clock=clock, campaign_reminders="30m", overdue_days=1
    )
    try:
        await tb.drain()
        statuses = {
            r["step"]: r["status"]
            for r in await rows(tb, "SELECT step, status FROM reminders WHERE kind = 'campaign'")
        }
        assert statuses == {
            "before:1800": "missed",
            "due": "missed",
            "overdue:1": "done",
            "escalate": "done",
        }
        new = [s for s in em.sent[mark:] if s.method == "sendMessage"]
        assert any(s.chat_id == sec_a["id"] and "已逾期" in (s.text or "") for s in new)
        assert any(s.chat_id == root["id"] and "仍有" in (s.text or "") for s in new)
        assert not any("还剩" in (s.text or "") for s in new)
    finally:
        await ctx.__aexit__(None, None, None)
