"""Recurring activities (issue 14, item 1) through the Bot API emulator: a weekday series
across a month, Join all, one occurrence cancelled and one edited, all future ones cancelled
or edited with each person told once, and bad rules refused."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.activities import parse_activity
from bot.domain.errors import Refusal
from bot.settings import Settings
from storage import activities as act_repo
from tests.conftest import Harness, build_tower
from tests.test_activities import answers_since, create, first_reply

pytestmark = pytest.mark.usefixtures("engine")

TZ = Settings().tz


def next_monday(days_ahead: int = 3) -> date:
    day = datetime.now(TZ).date() + timedelta(days=days_ahead)
    return day + timedelta(days=(7 - day.weekday()) % 7)


async def occurrences(tb: Harness, first_id: int) -> list:
    row = await tb.db.fetchone("SELECT series_id FROM activities WHERE id = ?", (first_id,))
    ids = await tb.db.fetchall(
        "SELECT id FROM activities WHERE series_id = ? ORDER BY starts_at", (row[0],)
    )
    found = await act_repo.many(tb.db.reader, [int(r[0]) for r in ids])
    return sorted(found, key=lambda a: (a.starts_at, a.id))  # `many` keeps no order


async def say(tb: Harness, who: dict, chat: dict, text: str) -> str:
    """The bot's answer in `chat` (private notices may be sent in between)."""
    sent = await tb.send(who, chat, text)
    return next(s.text for s in sent if s.chat_id == chat["id"] and s.method == "sendMessage")


def private_with(tb: Harness, user: dict, words: str) -> list[str]:
    return [x for x in tb.texts(user["id"]) if words in x]


async def weekday_series(tb: Harness, t: dict, capacity: int = 5) -> tuple[list, object]:
    monday = next_monday()
    until = monday + timedelta(days=27)  # four weeks: twenty weekdays
    _, card = await create(
        tb,
        t["sec_a"],
        t["chat_a"],
        f"七彩四点半 | {monday} 16:30 | 1.5 | {capacity} | 青年之家 | 每个工作日 至 {until}",
    )
    first = int(card.reply_markup["inline_keyboard"][0][0]["callback_data"].split(":")[1])
    found = await occurrences(tb, first)
    assert found[0].id == first  # the card is the first occurrence's
    return found, card


# --- rules (pure) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, key",
    [
        ("每个工作日 至 2020-01-01", "err_series_before"),
        ("每周八 至 UNTIL", "err_series_rule"),
        ("weekly funday until UNTIL", "err_series_rule"),
        ("weekdays until 13-45", "err_series_date"),
        ("dates 12-05,xx", "err_series_date"),
        ("每个工作日 至 FAR", "err_series_far"),
        ("weekdays until LONG", "err_series_many"),
        ("每周六 至 FIRST", "err_series_empty"),
        ("每个工作日", "err_series_rule"),
    ],
)
def test_bad_rules_are_refused(rule: str, key: str) -> None:
    monday = next_monday()
    values = {
        "UNTIL": monday + timedelta(days=30),
        "FAR": monday + timedelta(days=400),
        "LONG": monday + timedelta(days=300),
        "FIRST": monday,
    }
    for word, day in values.items():
        rule = rule.replace(word, day.isoformat())
    with pytest.raises(Refusal) as caught:
        parse_activity(f"a | {monday} 16:30 | 2 | 20 | here | {rule}", time.time(), Settings())
    assert caught.value.key == key


def test_rules_read_in_both_languages() -> None:
    monday = next_monday()
    for rule, stored in [
        (f"每周六 至 {monday + timedelta(days=30)}", "weekly:5"),
        (f"weekly sat until {monday + timedelta(days=30)}", "weekly:5"),
        (f"weekdays until {monday + timedelta(days=30)}", "weekdays"),
        (
            "日期 "
            + ",".join((monday + timedelta(days=7 * i)).strftime("%m-%d") for i in range(3)),
            "dates",
        ),
        ("dates " + (monday + timedelta(days=2)).isoformat(), "dates"),
    ]:
        got = parse_activity(
            f"a | {monday} 16:30 | 2 | 20 | here | {rule}", time.time(), Settings()
        )
        assert got.series is not None and got.series.rule == stored, rule


# --- through the emulator --------------------------------------------------------------------


async def test_weekday_series_across_a_month(tb: Harness) -> None:
    t = await build_tower(tb)
    found, card = await weekday_series(tb, t)
    assert len(found) == 20
    days = [datetime.fromtimestamp(a.starts_at, TZ) for a in found]
    assert all(d.weekday() < 5 and d.strftime("%H:%M") == "16:30" for d in days)
    assert len({d.date() for d in days}) == 20
    assert [a.series_no for a in found] == list(range(1, 21))
    assert "系列 1/20 · 每个工作日 16:30" in card.text
    assert f"act:{found[0].id}:all" in str(card.reply_markup)
    # one card only: the next one comes when this one starts
    await tb.drain()
    cards = await act_repo.cards_of(tb.db.reader, [a.id for a in found])
    assert {c.activity_id for c in cards} == {found[0].id}
    async with tb.db.transaction() as tx:
        await tx.execute(
            "UPDATE reminders SET due_at = ? WHERE kind = 'activity' AND ref_id = ?"
            " AND step = 'start'",
            (time.time() - 1, found[0].id),
        )
    await tb.services.reminders.fire_due()
    await tb.drain()
    assert any("系列 2/20" in x for x in tb.texts(t["chat_a"]["id"]))
    cards = await act_repo.cards_of(tb.db.reader, [a.id for a in found])
    assert {c.activity_id for c in cards} == {found[0].id, found[1].id}


async def test_join_all_respects_each_capacity_and_a_repeat_changes_nothing(tb: Harness) -> None:
    t = await build_tower(tb)
    found, card = await weekday_series(tb, t, capacity=1)
    mark = len(tb.em.callback_answers)
    await tb.press(t["member_a"], card, f"act:{found[0].id}:all")
    await tb.press(t["boss"], card, f"act:{found[0].id}:all")
    await tb.press(t["member_a"], card, f"act:{found[0].id}:all")  # a double tap
    answers = [a["text"] for a in answers_since(tb, mark)]
    assert answers[0] == "报名全部：20 场已报名，0 场候补。"
    assert answers[1] == "报名全部：0 场已报名，20 场候补。"
    assert answers[2] == answers[0]
    for a in found:
        assert await act_repo.recount(tb.db.reader, a.id) == (1, 1)
        assert (await act_repo.signup_of(tb.db.reader, a.id, t["member_a"]["id"])).status == (
            "confirmed"
        )


async def test_one_cancelled_one_edited_then_all_future(tb: Harness) -> None:
    t = await build_tower(tb)
    found, card = await weekday_series(tb, t)
    for who in (t["member_a"], t["boss"]):
        await tb.press(who, card, f"act:{found[0].id}:all")
    await tb.drain()
    # this one: the others stay as they were, the people are told once
    said = await say(tb, t["sec_a"], t["chat_a"], f"/activity cancel {found[2].id}")
    assert "已私聊通知 2 人" in said
    said = await say(tb, t["sec_a"], t["chat_a"], f"/activity edit {found[3].id} | 地点 礼堂")
    assert "已私聊通知 2 人" in said
    await tb.drain()
    now = await occurrences(tb, found[0].id)
    assert [a.status for a in now].count("cancelled") == 1 and now[2].status == "cancelled"
    assert [a.place for a in now].count("礼堂") == 1 and now[3].place == "礼堂"
    for who in (t["member_a"], t["boss"]):
        assert len(private_with(tb, who, "已被组织者取消")) == 1
    # every future one from the 10th: each person told once, listing the dates
    said = await say(tb, t["member_a"], t["chat_a"], f"/activity cancel {found[9].id} 全部")
    assert "书记或团干部" in said
    said = await say(tb, t["sec_a"], t["chat_a"], f"/activity cancel {found[9].id} 全部")
    assert "及之后的 11 场" in said and "通知 2 人" in said
    await tb.drain()
    now = await occurrences(tb, found[0].id)
    assert [a.status for a in now[9:]] == ["cancelled"] * 11
    assert [a.status for a in now[:9]].count("open") == 8
    for who in (t["member_a"], t["boss"]):
        notices = private_with(tb, who, "以下 11 场已取消")
        assert len(notices) == 1 and notices[0].count("· ") == 11
    # edit all from the 5th: place and time of day, each keeping its date; told once (and
    # whoever took the calendar file gets the new one once, not once per occurrence)
    await tb.press(t["member_a"], card, f"act:{found[0].id}:cal")
    await tb.drain()
    taken = [d for d in tb.em.documents if d["chat_id"] == t["member_a"]["id"]]
    assert len(taken) == 1
    said = await say(
        tb, t["sec_a"], t["chat_a"], f"/activity edit {found[4].id} all | 地点 广场 | 时间 17:00"
    )
    assert "及之后的 5 场" in said and "通知 2 人" in said, said
    await tb.drain()
    now = await occurrences(tb, found[0].id)
    for before, after in zip(found[4:9], now[4:9], strict=True):
        shown = datetime.fromtimestamp(after.starts_at, TZ)
        assert after.place == "广场" and shown.strftime("%H:%M") == "17:00"
        assert shown.date() == datetime.fromtimestamp(before.starts_at, TZ).date()
    assert [a.place for a in now[:4]] == ["青年之家", "青年之家", "青年之家", "礼堂"]
    for who in (t["member_a"], t["boss"]):
        assert len(private_with(tb, who, "系列活动“七彩四点半”已修改")) == 1
    taken = [d for d in tb.em.documents if d["chat_id"] == t["member_a"]["id"]]
    assert len(taken) == 2 and "有变动" in taken[-1]["caption"]


async def test_a_bad_rule_is_one_line_and_writes_nothing(tb: Harness) -> None:
    t = await build_tower(tb)
    monday = next_monday()
    before = await tb.db.fetchone("SELECT COUNT(*) FROM activities")
    sent = await tb.send(
        t["sec_a"], t["chat_a"], f"/activity a | {monday} 16:30 | 2 | 5 | here | 每周八 至 12-31"
    )
    text = first_reply(sent).text
    assert "看不懂重复规则" in text and "\n" not in text
    sent = await tb.send(
        t["sec_a"],
        t["chat_a"],
        f"/activity a | {monday} 16:30 | 2 | 5 | here | weekdays until {monday + timedelta(300)}",
    )
    assert "最多 60 场" in first_reply(sent).text
    assert await tb.db.fetchone("SELECT COUNT(*) FROM activities") == before
    assert (await tb.db.fetchone("SELECT COUNT(*) FROM activity_series"))[0] == 0
    # "all" on an activity outside a series: refused, nothing changes
    single, _ = await create(tb, t["sec_a"], t["chat_a"], f"单场 | {monday} 09:00 | 1 | 5 | 这里")
    sent = await tb.send(t["sec_a"], t["chat_a"], f"/activity cancel {single} all")
    assert "不属于系列" in first_reply(sent).text
    assert (await act_repo.get(tb.db.reader, single)).status == "open"


async def test_a_series_gives_one_calendar_file_with_its_rule(tb: Harness) -> None:
    """The calendar button on any occurrence sends the series' one file: a weekly rule on the
    weekdays until the last one; a cancelled day is an EXDATE, an occurrence moved elsewhere its
    own event; after such a change whoever took the file gets the new one (same UID, higher
    SEQUENCE)."""
    from icalendar import Calendar

    t = await build_tower(tb)
    found, card = await weekday_series(tb, t)
    ma = t["member_a"]
    await tb.press(ma, card, f"act:{found[0].id}:cal")
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == ma["id"]]
    assert len(docs) == 1 and docs[0]["file_name"] == f"series-{found[0].series_id}.ics"
    (event,) = Calendar.from_ical(docs[0]["bytes"]).walk("VEVENT")
    rule = event["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["MO", "TU", "WE", "TH", "FR"]
    first, last = (datetime.fromtimestamp(a.starts_at, TZ) for a in (found[0], found[-1]))
    assert event.decoded("dtstart") == first and event["DTSTART"].params["TZID"] == TZ.key
    assert rule["UNTIL"][0] == last.astimezone(UTC)
    assert "EXDATE" not in event and int(event["SEQUENCE"]) == 0
    uid = str(event["UID"])

    def local(*picked: object) -> set[datetime]:
        return {datetime.fromtimestamp(a.starts_at, TZ) for a in picked}  # type: ignore[attr-defined]

    def exdates(event: object) -> set[datetime]:
        return {d.dt for d in event["EXDATE"].dts}  # type: ignore[index]

    # one day cancelled ("this one"): the new file, that day in EXDATE, reaches the taker
    await say(tb, t["sec_a"], t["chat_a"], f"/activity cancel {found[2].id}")
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == ma["id"]]
    assert len(docs) == 2 and "这一场已取消" in docs[-1]["caption"]
    (master,) = Calendar.from_ical(docs[-1]["bytes"]).walk("VEVENT")
    assert str(master["UID"]) == uid and int(master["SEQUENCE"]) == 1
    assert exdates(master) == local(found[2]) and rule == master["RRULE"]
    # another moved: its own event beside the series
    await say(tb, t["sec_a"], t["chat_a"], f"/activity edit {found[3].id} | 地点 礼堂")
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == ma["id"]]
    assert len(docs) == 3
    master, moved = sorted(
        Calendar.from_ical(docs[-1]["bytes"]).walk("VEVENT"), key=lambda e: "RRULE" not in e
    )
    assert str(master["UID"]) == uid and int(master["SEQUENCE"]) == 2
    assert exdates(master) == local(*found[2:4])
    assert str(moved["LOCATION"]) == "礼堂" and str(moved["UID"]) != uid
    assert moved.decoded("dtstart") == datetime.fromtimestamp(found[3].starts_at, TZ)
    # the first day cancelled: the series still starts there, that day excluded
    await say(tb, t["sec_a"], t["chat_a"], f"/activity cancel {found[0].id}")
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == ma["id"]]
    assert len(docs) == 4
    master = next(e for e in Calendar.from_ical(docs[-1]["bytes"]).walk("VEVENT") if "RRULE" in e)
    assert master.decoded("dtstart") == first and str(master["STATUS"]) == "CONFIRMED"
    assert exdates(master) == local(found[0], *found[2:4]) and int(master["SEQUENCE"]) == 3
    # all future from the 11th: the rule now ends on the 10th
    await say(tb, t["sec_a"], t["chat_a"], f"/activity cancel {found[10].id} 全部")
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == ma["id"]]
    assert len(docs) == 5 and "及之后的场次已取消" in docs[-1]["caption"]
    master = next(e for e in Calendar.from_ical(docs[-1]["bytes"]).walk("VEVENT") if "RRULE" in e)
    tenth = datetime.fromtimestamp(found[9].starts_at, TZ)
    assert master["RRULE"]["UNTIL"][0] == tenth.astimezone(UTC)
    assert int(master["SEQUENCE"]) == 13 and str(master["UID"]) == uid
    # nothing left: the series' cancellation, same UID, SEQUENCE on again, only to the taker
    await say(tb, t["sec_a"], t["chat_a"], f"/activity cancel {found[1].id} 全部")
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == ma["id"]]
    assert len(docs) == 6 and "已取消" in docs[-1]["caption"]
    cal = Calendar.from_ical(docs[-1]["bytes"])
    (gone,) = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "CANCEL" and str(gone["STATUS"]) == "CANCELLED"
    assert str(gone["UID"]) == uid and int(gone["SEQUENCE"]) == 21
    assert [d for d in tb.em.documents if d["chat_id"] != ma["id"]] == []
