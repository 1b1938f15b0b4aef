"""Journeys: what each everyday task costs a real person, counted through the emulator.

For every role (member, secretary, staff) and language (zh, en) each everyday task is walked
the way a person does it, and the person's effort is counted:

* ``actions``: messages the person types and sends (a command, an answer);
* ``taps``: buttons the person presses;
* ``bot_messages``: new messages the bot sends into the chats the person acted in (their
  private chat, and the group they typed or tapped in), once everything due has gone out.
  Edits of a message already there and button toasts are not new messages; an announcement's
  own copy in the chat it was sent from is one (the person reads it there).

EXPECTED is measured from the current behaviour. A change that adds a step to a task (another
question, another tap, another message to read) fails here: if the extra step is worth it, the
table is changed on purpose, in the same commit, and the reason goes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from storage import activities as act_repo
from storage import users as user_repo
from tests.conftest import Harness, register


@dataclass(frozen=True)
class Steps:
    actions: int
    taps: int
    bot_messages: int


EXPECTED: dict[tuple[str, str, str], Steps] = {
    ("member", "register", "zh"): Steps(actions=3, taps=2, bot_messages=5),
    ("member", "register", "en"): Steps(actions=3, taps=2, bot_messages=5),
    ("member", "hours_one_line", "zh"): Steps(actions=1, taps=0, bot_messages=1),
    ("member", "hours_one_line", "en"): Steps(actions=1, taps=0, bot_messages=1),
    ("member", "hours_guided", "zh"): Steps(actions=3, taps=2, bot_messages=5),
    ("member", "hours_guided", "en"): Steps(actions=3, taps=2, bot_messages=5),
    ("member", "signup", "zh"): Steps(actions=0, taps=1, bot_messages=0),
    ("member", "signup", "en"): Steps(actions=0, taps=1, bot_messages=0),
    ("member", "my_record", "zh"): Steps(actions=1, taps=0, bot_messages=1),
    ("member", "my_record", "en"): Steps(actions=1, taps=0, bot_messages=1),
    ("secretary", "approve", "zh"): Steps(actions=1, taps=1, bot_messages=1),
    ("secretary", "approve", "en"): Steps(actions=1, taps=1, bot_messages=1),
    ("secretary", "post_activity", "zh"): Steps(actions=1, taps=0, bot_messages=1),
    ("secretary", "post_activity", "en"): Steps(actions=1, taps=0, bot_messages=1),
    ("secretary", "report_back", "zh"): Steps(actions=2, taps=0, bot_messages=2),
    ("secretary", "report_back", "en"): Steps(actions=2, taps=0, bot_messages=2),
    ("staff", "announce", "zh"): Steps(actions=1, taps=0, bot_messages=2),
    ("staff", "announce", "en"): Steps(actions=1, taps=0, bot_messages=2),
    ("staff", "deadline", "zh"): Steps(actions=1, taps=0, bot_messages=1),
    ("staff", "deadline", "en"): Steps(actions=1, taps=0, bot_messages=1),
    ("staff", "stats", "zh"): Steps(actions=1, taps=0, bot_messages=1),
    ("staff", "stats", "en"): Steps(actions=1, taps=0, bot_messages=1),
    ("staff", "export", "zh"): Steps(actions=1, taps=0, bot_messages=2),
    ("staff", "export", "en"): Steps(actions=1, taps=0, bot_messages=2),
}


class Journey:
    """One person doing one task: counts what they do and the messages the bot sends them."""

    def __init__(self, tb: Harness, user: dict) -> None:
        self.tb, self.user = tb, user
        self.actions = self.taps = 0
        self.chats = {user["id"]}
        self.mark = len(tb.em.sent)

    async def send(self, text: str, chat: dict | None = None) -> list:
        self.actions += 1
        if chat is not None:
            self.chats.add(chat["id"])
        return await self.tb.send(self.user, chat, text)

    async def press(self, message: Any, data: str) -> list:
        self.taps += 1
        self.chats.add(message.chat_id)
        return await self.tb.press(self.user, message, data)

    def seen(self) -> list:
        """The new messages the bot sent into the person's chats since the journey began."""
        return [
            s
            for s in self.tb.em.sent[self.mark :]
            if s.chat_id in self.chats and s.method.startswith("send")
        ]

    def text(self) -> str:
        return "\n".join(s.text or "" for s in self.seen())

    async def steps(self) -> Steps:
        assert await self.tb.drain()
        return Steps(self.actions, self.taps, len(self.seen()))


# --- helpers ---------------------------------------------------------------------------------


def buttons(message: Any) -> list[tuple[str, str]]:
    return [
        (b["text"], b.get("callback_data", ""))
        for row in message.reply_markup["inline_keyboard"]
        for b in row
    ]


def lang_code(lang: str) -> str:
    return "en" if lang == "en" else "zh-hans"


def say(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


async def count(tb: Harness, sql: str, params: tuple = ()) -> int:
    row = await tb.db.fetchone(sql, params)
    return int(row[0])


async def appoint(tb: Harness, tower: dict, user: dict, chat: dict, role: str) -> None:
    """The superuser gives `user` a role in `chat` by replying to them with /role."""
    said = tb.em.text(user, chat, "收到")["message"]
    await tb.send(tower["boss"], chat, f"/role {role}", reply_to=said)


async def member_of(tb: Harness, tower: dict, lang: str) -> tuple[dict, dict]:
    """A registered member and their branch chat: 小红 in 大埠 (zh), Tom in 街道 (en)."""
    return (
        (tower["member_b"], tower["chat_b"])
        if lang == "en"
        else (tower["member_a"], tower["chat_a"])
    )


async def secretary_of(tb: Harness, tower: dict, lang: str) -> tuple[dict, dict, dict]:
    """(secretary, their branch chat, a member of that branch) in the language."""
    if lang == "zh":
        return tower["sec_a"], tower["chat_a"], tower["member_a"]
    anna = tb.em.add_user("Anna", username="anna_j", language_code="en")
    tb.em.set_member(tower["chat_b"], anna, "member")
    await register(tb, anna, "Anna Wu", "yanshan.jiedao")
    await appoint(tb, tower, anna, tower["chat_b"], "secretary")
    return anna, tower["chat_b"], tower["member_b"]


async def staff_of(tb: Harness, tower: dict, lang: str) -> dict:
    """A district staff member (not the superuser) speaking the language."""
    user = (
        tb.em.add_user("Sam", username="sam_d", language_code="en")
        if lang == "en"
        else tb.em.add_user("赵敏", username="zhaomin")
    )
    tb.em.set_member(tower["root"], user, "member")
    await register(tb, user, say(lang, "赵敏", "Sam Zhao"), "yanshan")
    await appoint(tb, tower, user, tower["root"], "staff")
    return user


# --- member ----------------------------------------------------------------------------------


async def member_register(tb: Harness, tower: dict, lang: str) -> Journey:
    user = tb.em.add_user(say(lang, "阿明", "Amy"), language_code=lang_code(lang))
    name = say(lang, "黄明", "Amy Huang")
    j = Journey(tb, user)
    out = await j.send("/start join_yanshan-dabu")
    await j.press(out[-1], "reg:age:n")
    await j.send(name)
    consent = await j.send(say(lang, "跳过", "Skip"))
    await j.press(consent[-1], "reg:consent:y")
    stored = await user_repo.get_person(tb.db.reader, user["id"])
    assert stored is not None and stored.real_name == name
    assert say(lang, "注册完成", "Registered!") in j.text()
    return j


async def member_hours_one_line(tb: Harness, tower: dict, lang: str) -> Journey:
    user, _ = await member_of(tb, tower, lang)
    j = Journey(tb, user)
    await j.send(say(lang, "/hours 2 昨天 七彩四点半", "/hours 2 yesterday homework club"))
    yesterday = tb.services.hours.today() - timedelta(days=1)
    row = await tb.db.fetchone("SELECT * FROM hour_entries WHERE user_id = ?", (user["id"],))
    assert (row["served_on"], row["quarters"], row["status"]) == (
        yesterday.isoformat(),
        8,
        "pending",
    )
    assert row["description"] == say(lang, "七彩四点半", "homework club")
    assert say(lang, "已登记 #", "Logged #") in j.text()
    return j


async def member_hours_guided(tb: Harness, tower: dict, lang: str) -> Journey:
    user, _ = await member_of(tb, tower, lang)
    j = Journey(tb, user)
    await j.send("/hours")
    out = await j.send("2")
    yesterday = buttons(out[-1])[1][1]
    await j.press(out[-1], yesterday)
    out = await j.send(say(lang, "图书馆整理", "library tidy-up"))
    assert (say(lang, "✅ 确认登记", "✅ Log it"), "hrf:ok") in buttons(out[-1])
    await j.press(out[-1], "hrf:ok")
    row = await tb.db.fetchone("SELECT * FROM hour_entries WHERE user_id = ?", (user["id"],))
    day = tb.services.hours.today() - timedelta(days=1)
    assert (row["served_on"], row["quarters"], row["status"]) == (day.isoformat(), 8, "pending")
    assert say(lang, "做了什么？", "What did you do?") in j.text()
    return j


async def member_signup(tb: Harness, tower: dict, lang: str) -> Journey:
    user, chat = await member_of(tb, tower, lang)
    later = datetime.now(tb.settings.tz) + timedelta(days=2)
    poster = tower["sec_a"] if lang == "zh" else tower["boss"]
    sent = await tb.send(poster, chat, f"/activity 植树 | {later:%Y-%m-%d} 15:00 | 2 | 20 | 公园")
    card = next(s for s in sent if s.reply_markup and "act:" in str(s.reply_markup))
    act_id = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    await tb.drain()
    j = Journey(tb, user)
    answers = len(tb.em.callback_answers)
    await j.press(card, f"act:{act_id}:join")
    signup = await act_repo.signup_of(tb.db.reader, act_id, user["id"])
    assert signup is not None and signup.status == "confirmed"
    toast = tb.em.callback_answers[answers]["text"]
    assert toast.startswith(say(lang, "报名成功", "You're signed up")), toast
    return j


async def member_my_record(tb: Harness, tower: dict, lang: str) -> Journey:
    user, _ = await member_of(tb, tower, lang)
    j = Journey(tb, user)
    await j.send("/me")
    assert say(lang, "我的信息", "My profile") in j.text()
    return j


# --- secretary -------------------------------------------------------------------------------


async def secretary_approve(tb: Harness, tower: dict, lang: str) -> Journey:
    sec, _, member = await secretary_of(tb, tower, lang)
    await tb.send(member, None, "/hours 2 " + say(lang, "七彩四点半", "homework club"))
    entry_id = int((await tb.db.fetchone("SELECT MAX(id) FROM hour_entries"))[0])
    await tb.drain()
    j = Journey(tb, sec)
    listing = (await j.send("/pending"))[0]
    await j.press(listing, f"hrs:ok:{entry_id}:0")
    row = await tb.db.fetchone("SELECT * FROM hour_entries WHERE id = ?", (entry_id,))
    assert row["status"] == "approved" and row["decided_by"] == sec["id"]
    assert say(lang, "待审核的服务时长", "Hours waiting for approval") in j.text()
    return j


async def secretary_post_activity(tb: Harness, tower: dict, lang: str) -> Journey:
    sec, chat, _ = await secretary_of(tb, tower, lang)
    j = Journey(tb, sec)
    await j.send(
        say(
            lang,
            "/activity 植树 | 明天 下午3点 | 2 | 20 | 公园",
            "/activity Tree planting | tomorrow 3pm | 2 | 20 | park",
        ),
        chat,
    )
    row = await tb.db.fetchone("SELECT * FROM activities ORDER BY id DESC LIMIT 1")
    assert row is not None and row["title"] == say(lang, "植树", "Tree planting")
    assert any(s.reply_markup and "act:" in str(s.reply_markup) for s in j.seen())
    assert say(lang, "志愿时长 2 小时", "2 service hours") in j.text()
    return j


async def secretary_report_back(tb: Harness, tower: dict, lang: str) -> Journey:
    sec, _, _ = await secretary_of(tb, tower, lang)
    due = datetime.now(tb.settings.tz) + timedelta(days=30)
    await tb.send(tower["boss"], tower["root"], f"/deadline new 年度述职 | {due:%Y-%m-%d %H:%M}")
    await tb.drain()
    j = Journey(tb, sec)
    await j.send("/submit")
    await j.send(say(lang, "本年度共开展活动 12 次。", "We held 12 activities this year."))
    assert (
        await count(tb, "SELECT COUNT(*) FROM campaign_submissions WHERE user_id = ?", (sec["id"],))
        == 1
    )
    assert say(lang, "✅ 已收到", "✅ Received the report") in j.text()
    return j


# --- staff -----------------------------------------------------------------------------------


async def sent_by_staff(tb: Harness, tower: dict, lang: str, zh: str, en: str) -> Journey:
    """A staff member (`staff_of`) sends `zh` or `en` (by `lang`) in the root's group: their
    journey."""
    j = Journey(tb, await staff_of(tb, tower, lang))
    await j.send(say(lang, zh, en), tower["root"])
    return j


async def staff_announce(tb: Harness, tower: dict, lang: str) -> Journey:
    j = await sent_by_staff(
        tb, tower, lang, "/announce 本周五前上报活动计划", "/announce Plans due Friday"
    )
    assert await count(tb, "SELECT COUNT(*) FROM announcements") == 1
    assert say(lang, "通知 #1 已发往", "Announcement #1 is on its way") in j.text()
    return j


async def staff_deadline(tb: Harness, tower: dict, lang: str) -> Journey:
    j = await sent_by_staff(
        tb,
        tower,
        lang,
        "/deadline new 年度述职 | 明天 下午3点",
        "/deadline new Annual report | tomorrow 3pm",
    )
    row = await tb.db.fetchone("SELECT * FROM campaigns")
    assert row is not None and row["title"] == say(lang, "年度述职", "Annual report")
    tomorrow = (datetime.now(tb.settings.tz) + timedelta(days=1)).date()
    due = datetime.fromtimestamp(row["due_at"], tb.settings.tz)
    assert (due.date(), due.hour, due.minute) == (tomorrow, 15, 0)
    assert say(lang, "已发布述职任务 #1", "Report-back campaign #1") in j.text()
    return j


async def staff_stats(tb: Harness, tower: dict, lang: str) -> Journey:
    j = await sent_by_staff(tb, tower, lang, "/stats", "/stats")
    assert say(lang, "注册团员青年 5 人", "Registered members 5") in j.text()
    return j


async def staff_export(tb: Harness, tower: dict, lang: str) -> Journey:
    staff = await staff_of(tb, tower, lang)
    documents = len(tb.em.documents)
    j = Journey(tb, staff)
    await j.send("/export hours", tower["root"])
    await tb.drain()
    docs = tb.em.documents[documents:]
    assert len(docs) == 1 and docs[0]["chat_id"] == staff["id"]
    assert docs[0]["file_name"].endswith(".xlsx")
    assert say(lang, "服务时长导出", "service hours export") in j.text()
    return j


ROLES = ("member", "secretary", "staff")


def journeys(namespace: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(role, task) -> the journey function `role_task(tb, tower, lang) -> Journey` of
    `namespace`, for each of the ROLES."""
    found = {}
    for name, fn in namespace.items():
        role, _, task = name.partition("_")
        if role in ROLES and task and getattr(fn, "__annotations__", {}).get("return") == "Journey":
            found[role, task] = fn
    return found


TASKS = journeys(dict(globals()))


def test_every_task_is_counted_in_both_languages() -> None:
    assert set(EXPECTED) == {(r, t, lang) for r, t in TASKS for lang in ("zh", "en")}


@pytest.mark.parametrize("role, task, lang", list(EXPECTED), ids=["-".join(k) for k in EXPECTED])
async def test_journey(tb: Harness, tower: dict, role: str, task: str, lang: str) -> None:
    journey = await TASKS[role, task](tb, tower, lang)
    got = await journey.steps()
    assert got == EXPECTED[role, task, lang], f"{got!r}; the bot said:\n{journey.text()}"
