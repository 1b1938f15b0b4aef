"""Coverage audit, /stats figures, charts (the numbers handed to the plot) and exports."""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.domain import charts
from schedules.audit import BotProbe
from tests.conftest import Harness, build_tower, register, start_harness
from tests.helpers import with_button
from tests.test_campaigns import OffsetClock

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


async def world(tb: Harness) -> dict[str, Any]:
    """build_tower, plus 王小刚 registered in 大埠乡 but never in its chat, and 小红 who left."""
    t = await build_tower(tb)
    em = tb.em
    t["gang"] = em.add_user("小刚", username="xiaogang")
    await register(tb, t["gang"], "王小刚", "yanshan.dabu")
    em.set_member(t["chat_a"], t["member_a"], "left")
    return t


async def wait_audits(tb: Harness) -> None:
    tasks = list(tb.services.extra.get("audit_tasks", ()))
    if tasks:
        await asyncio.gather(*tasks)
    await tb.drain()


async def test_audit_finds_exactly_the_missing_members(tb: Harness) -> None:
    t = await world(tb)
    em = tb.em
    results = await tb.services.audit.nightly(BotProbe(tb.app.bot))
    missing = {r.chat_id: sorted(m.real_name for m in r.missing) for r in results}
    assert missing == {
        t["root"]["id"]: [],
        t["chat_a"]["id"]: ["王小刚", "陈小红"],
        t["chat_b"]["id"]: [],
    }
    await tb.drain()
    report = tb.last_text(t["sec_a"]["id"])
    assert "王小刚" in report and "陈小红" in report and "不在群内" in report
    assert "设为群管理员" in report  # the bot is no admin there: no link, but how to get one
    for chat in ("root", "chat_a", "chat_b"):
        assert not any("陈小红" in x or "王小刚" in x for x in tb.texts(t[chat]["id"]))
    # the next night, nothing new: the secretary is not told again
    before = len(em.messages_to(t["sec_a"]["id"]))
    await tb.services.audit.nightly(BotProbe(tb.app.bot))
    await tb.drain()
    assert len(em.messages_to(t["sec_a"]["id"])) == before


async def test_audit_on_demand_from_org_with_invite_link(tb: Harness) -> None:
    t = await world(tb)
    em = tb.em
    em.set_member(t["chat_a"], em.bot_user["id"], "administrator")
    await tb.send(t["member_b"], t["chat_b"], "/org")  # a member: no audit
    await wait_audits(tb)
    assert not any("成员覆盖" in x or "coverage" in x for x in tb.texts(t["member_b"]["id"]))
    group_before = len(tb.texts(t["chat_a"]["id"]))
    await tb.send(t["sec_a"], t["chat_a"], "/org")
    await wait_audits(tb)
    report = tb.last_text(t["sec_a"]["id"])
    assert "王小刚" in report and "陈小红" in report and "https://t.me/+" in report
    assert len(tb.texts(t["chat_a"]["id"])) == group_before + 1  # just the /org answer


async def seeded_world(tb: Harness) -> dict[str, Any]:
    """The `world`, audited overnight (`audit.nightly`), then with `seed_figures`."""
    t = await world(tb)
    await tb.services.audit.nightly(BotProbe(tb.app.bot))
    await seed_figures(tb, t)
    return t


async def root_view(tb: Harness) -> tuple[Any, Any]:
    """The root org (yanshan) and its stats view."""
    root = await tb.services.tower.org_by_code("yanshan")
    return root, await tb.services.stats.view(root)


async def seed_figures(tb: Harness, t: dict[str, Any]) -> None:
    """Known hours, activities and report-backs, through the bot as people use it.

    Hours: 小红 10 h (approved), Tom 5 h last year + 2 h (approved), 李娜 3 h (pending).
    Activities of 大埠乡: 清扫 (2 h; 小红 and 小刚 checked in, 李娜 a no-show; closed, which
    credits 2 h each) and 讲座 (open). Report-backs from the district: 一季度述职, submitted by
    李娜 for 大埠乡 before its due time, then overdue for 街道; 二季度述职, not yet due.
    Needs an OffsetClock: the first report-back falls due when the clock is moved on 3 h.
    """
    boss, sec, root, chat_a = t["boss"], t["sec_a"], t["root"], t["chat_a"]
    today = tb.services.stats.today()
    last_year = date(today.year - 1, 12, 31).isoformat()  # within the 365 days /hours accepts
    logged = {}
    for who, args in (
        ("member_a", "10 七彩四点半"),
        ("member_b", f"5 {last_year} clean-up"),
        ("member_b", "2 library"),
        ("sec_a", "3 组织生活"),
    ):
        await tb.send(t[who], None, f"/hours {args}")
        logged[(who, args)] = int((await tb.db.fetchone("SELECT MAX(id) FROM hour_entries"))[0])
    for (who, _), entry_id in logged.items():
        if who != "sec_a":  # 李娜's stays pending
            approver = sec if who == "member_a" else boss
            # the listing, not an outbox notice that may land after it
            data = f"hrs:ok:{entry_id}:0"
            listing = with_button(await tb.send(approver, None, "/pending"), data)
            await tb.press(approver, listing, data)

    clock = tb.services.clock
    soon = datetime.fromtimestamp((int(clock.time()) // 60 + 30) * 60, tb.settings.tz)
    when = soon.strftime("%Y-%m-%d %H:%M")
    acts = {}
    for title in ("清扫", "讲座"):
        sent = await tb.send(sec, chat_a, f"/activity {title} | {when} | 2 | 10 | 村委")
        acts[title] = (
            int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0]),
            next(x for x in sent if "act:" in str(x.reply_markup)),
        )
    act_id, card = acts["清扫"]
    for who in ("member_a", "gang", "sec_a"):
        await tb.press(t[who], card, f"act:{act_id}:join")
    button = with_button(await tb.send(sec, chat_a, f"/checkin {act_id}"), f"act:{act_id}:in")
    for who in ("member_a", "gang"):
        await tb.press(t[who], button, f"act:{act_id}:in")
    # the answer in the branch's chat: an approval notice may land in between (the outbox)
    closed = [
        s for s in await tb.send(sec, chat_a, f"/close {act_id}") if s.chat_id == chat_a["id"]
    ][0].text
    assert "签到 2 人" in closed and "未到 1 人" in closed, closed

    due = datetime.fromtimestamp(clock.time() + 2 * 3600 + 120, tb.settings.tz)
    later = datetime.fromtimestamp(clock.time() + 3 * 86400, tb.settings.tz)
    for title, at in (("一季度述职", due), ("二季度述职", later)):
        await tb.send(boss, root, f"/deadline new {title} | {at:%Y-%m-%d %H:%M}")
    first = int((await tb.db.fetchone("SELECT MIN(id) FROM campaigns"))[0])
    offer = await tb.send(sec, None, f"/submit {first}")
    assert "一季度述职" in offer[-1].text, offer[-1].text
    await tb.send(sec, None, "述职报告：本季度开展活动 2 场")
    assert (
        await tb.db.fetchone("SELECT 1 FROM campaign_submissions WHERE campaign_id = ?", (first,))
        is not None
    )
    clock.offset += 3 * 3600  # 一季度述职 is now overdue for 街道
    await tb.drain()


@pytest.fixture
async def ftb(tmp_path) -> Any:
    """A harness whose clock the test can move on (OffsetClock)."""
    ctx, harness = await start_harness(tmp_path, clock=OffsetClock())
    try:
        yield harness
    finally:
        await ctx.__aexit__(None, None, None)


async def test_stats_figures_rolled_up_and_per_child(ftb: Harness) -> None:
    tb = ftb
    t = await seeded_world(tb)
    refused = await tb.send(t["member_b"], t["chat_b"], "/stats")
    assert "secretary or staff" in refused[0].text  # Tom reads English
    text = (await tb.send(t["boss"], t["root"], "/stats"))[0].text
    assert "组织 3 个；已绑定群 3 个（群覆盖率 100%）；配备书记 1 个（配备率 33%）" in text
    assert "注册团员青年 5 人，确认在本组织群内 3 人（成员覆盖率 60%）" in text
    assert "今年 16 小时，累计 21 小时；有时长的志愿者 3 人" in text
    assert "已举办活动 1 场，出勤率 67%（2/3）" in text
    assert "按时 1，逾期提交 0，缺交 1，未到期 2" in text
    # no org declared posts: one 书记 post each, so 配备率 is "orgs with a secretary" again
    assert "团干部：岗位配备率 33%（1/3）" in text
    assert "• 大埠乡团委：群 1/1，书记 1/1，在群 1/3 人，时长 14/14 小时" in text
    assert "• 雁山街道团工委：群 1/1，书记 0/1，在群 1/1 人，时长 2/7 小时" in text
    assert "陈小红" not in text and "王小刚" not in text
    # the secretary of 大埠乡 sees only her subtree
    own = (await tb.send(t["sec_a"], t["chat_a"], "/stats"))[0].text
    assert "组织 1 个" in own and "缺交 0，未到期 1" in own


async def test_charts_are_pngs_built_from_the_figures(ftb: Harness) -> None:
    tb = ftb
    t = await seeded_world(tb)
    stats = tb.services.stats
    root, view = await root_view(tb)
    hours = charts.hours_data(view, "zh")
    assert hours.labels == ["大埠乡团委", "雁山街道团工委"]
    assert list(hours.series.values()) == [[14.0, 2.0], [14.0, 7.0]]
    coverage = charts.coverage_data(view, "zh")
    # chats, 配备率 of posts (only the default 书记 posts: the same as "with a secretary"),
    # 在岗率 (大埠乡's secretary decided hours this month; 街道 has no holder), members in chat
    assert list(coverage.series.values()) == [
        [100.0, 100.0],
        [100.0, 0.0],
        [100.0, 0.0],
        [33.0, 100.0],
    ], list(coverage.series.values())
    tree = charts.tower_data(await stats.tower(root), "zh", root.name)
    colours = {n.label: n.health for n in tree.nodes}
    # root: no secretary; 大埠乡: 1 of 3 members in chat; 街道: its report is overdue
    assert colours == {"雁山区团委": "amber", "大埠乡团委": "amber", "雁山街道团工委": "red"}
    xs = {n.label: n.x for n in tree.nodes}
    assert xs["雁山区团委"] == (xs["大埠乡团委"] + xs["雁山街道团工委"]) / 2

    from PIL import Image

    for kind in ("hours", "coverage", "tower"):
        mark = len(tb.em.documents)
        await tb.send(t["boss"], t["root"], f"/chart {kind}")
        photo = tb.em.documents[mark:]
        assert len(photo) == 1 and photo[0]["kind"] == "photo"
        assert photo[0]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(io.BytesIO(photo[0]["bytes"])).size[0] == 1080
    assert charts.cjk_font() is not None  # Chinese labels render with a CJK font
    usage = await tb.send(t["boss"], t["root"], "/chart pie")
    assert "用法" in usage[0].text


async def test_exports_go_privately(ftb: Harness) -> None:
    tb = ftb
    t = await seeded_world(tb)
    boss = t["boss"]
    for args in ("members", "activities", "campaign 1"):
        answer = await tb.send(boss, t["root"], f"/export {args}")
        assert any("私聊" in (a.text or "") for a in answer if a.chat_id == t["root"]["id"])
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == boss["id"]]
    assert [d["file_name"].split("-")[0] for d in docs] == ["members", "activities", "campaign"]
    members = load_workbook(io.BytesIO(docs[0]["bytes"])).active
    rows = list(members.iter_rows(values_only=True))  # title, header, 5 people, totals
    assert len(rows) == 8 and rows[-1][0] == "合计" and rows[-1][1] == "5 人"
    names = {r[1]: r for r in rows[2:-1]}
    assert set(names) == {"王晓明", "李娜", "陈小红", "王小刚", "Tom Li"}
    assert names["陈小红"][7] == "不在群" and names["李娜"][7] == "在群"
    assert names["陈小红"][9] == 12 and names["李娜"][6] == "书记"
    assert rows[-1][9] == sum(r[9] for r in rows[2:-1])
    sheet = load_workbook(io.BytesIO(docs[1]["bytes"])).active
    acts = list(sheet.iter_rows(values_only=True))
    assert [r[2] for r in acts[2:-1]] == ["清扫", "讲座"] and acts[2][11:13] == (2, 1)
    assert acts[2][3] is None  # no posts: the post column stays empty
    assert acts[2][13] == pytest.approx(2 / 3) and sheet.cell(3, 14).number_format == "0%"
    camp = list(load_workbook(io.BytesIO(docs[2]["bytes"])).active.iter_rows(values_only=True))
    states = {r[0]: r[1] for r in camp[2:-1]}
    assert states == {"大埠乡团委": "按时提交", "雁山街道团工委": "缺交"}
    assert camp[2][2] == "李娜" and camp[-1][0] == "合计"
    refused = await tb.send(t["member_b"], t["chat_b"], "/export members")
    assert "secretary or staff" in refused[0].text
    unknown = await tb.send(boss, t["root"], "/export campaign 99")
    assert "#99" in unknown[-1].text


def health_row(**changes: Any) -> dict[str, Any]:
    """A row for `charts.health`: a staffed org with its chat, nobody in it and nothing owed,
    but for `changes`."""
    row: dict[str, Any] = {
        "has_chat": True,
        "campaigns_missing": 0,
        "members": 0,
        "members_in_chat": 0,
        "staffed": True,
        "campaigns_due": 0,
    }
    return row | changes


@pytest.mark.parametrize(
    "row,colour",
    [
        (health_row(has_chat=False), "red"),
        (health_row(campaigns_missing=1), "red"),
        (health_row(members=10, members_in_chat=7), "amber"),
        (health_row(members=10, members_in_chat=8), "green"),
        (health_row(campaigns_due=1), "amber"),
    ],
)
def test_health_colours(row: dict[str, Any], colour: str) -> None:
    assert charts.health(row) == colour


async def test_cli_exports_members_and_activities(tb, tower, tmp_path, monkeypatch) -> None:
    """`towerbot export members|activities` write the same workbooks /export sends."""
    import asyncio

    from openpyxl import load_workbook

    from bot import cli

    monkeypatch.setenv("TOWERBOT_DB", tb.settings.db)
    out = tmp_path / "members.xlsx"
    code = await asyncio.to_thread(
        cli.main, ["export", "members", "--org", "yanshan", "-o", str(out)]
    )
    assert code == 0
    cells = [c for row in load_workbook(out).worksheets[0].iter_rows(values_only=True) for c in row]
    for name in ("王晓明", "李娜", "陈小红", "Tom Li"):
        assert name in cells
    acts = tmp_path / "activities.xlsx"
    code = await asyncio.to_thread(
        cli.main, ["export", "activities", "--org", "yanshan.dabu", "-o", str(acts)]
    )
    assert code == 0 and load_workbook(acts).worksheets
    code = await asyncio.to_thread(
        cli.main, ["export", "members", "--org", "nosuch", "-o", str(out)]
    )
    assert code == 2


async def test_member_coverage_is_not_checked_until_an_audit_ran(tb: Harness) -> None:
    t = await world(tb)
    text = (await tb.send(t["boss"], t["root"], "/stats"))[0].text
    assert "（成员覆盖率 未检查）" in text and "成员覆盖率 0%" not in text
    await tb.services.audit.nightly(BotProbe(tb.app.bot))
    text = (await tb.send(t["boss"], t["root"], "/stats"))[0].text
    assert "未检查" not in text and "成员覆盖率 " in text and "%）" in text
