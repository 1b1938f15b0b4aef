"""Every button checks where it was pressed, by whom and in which step (issue "Trust", item 8).

One row per callback prefix. Each row builds a real object through the bot (a registration
picker, a /pending listing, an activity card, ...) and names the genuine message, its data and
the person it is meant for; the test then presses that data

  (a) in another chat (a copy of the button the bot never sent there),
  (b) as another person,
  (c) in a wrong flow step, after it was used, or for an id that does not exist,
  (d) malformed: truncated, extra field, huge numbers, non-ASCII digits, empty, newline,

both on the genuine message (where the data is not one of its buttons) and on a copy that does
carry it (so the feature's own checks are reached). Every press must be refused in the callback
answer and change nothing: same database, no message sent, no edit, no keyboard stripped.
A last pass presses each genuine button as meant, to show the rows are real.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import CallbackQueryHandler

from bot.domain.activities import callbacks as act_callbacks
from bot.domain.activities.attendance import build as att_data
from bot.domain.activities.form import skip_data
from bot.domain.announcements import ack_data
from bot.domain.campaigns import submit_data
from bot.domain.hours import HoursButton, hours_data
from bot.domain.hours_form import day_data, form_data
from bot.domain.minors import guard_data
from bot.domain.people import forget_data, reg_data
from bot.domain.requests import request_data
from bot.domain.review_calc import grade_data, material_data
from bot.domain.when import Reading, choice_data, parse_choice_data
from handlers.guide import guide_data
from tests.conftest import Harness, build_tower
from tests.test_abuse import dump, run_through_processor

TZ = ZoneInfo("Asia/Shanghai")
#: calls a refused press may make: its answer, and reading a membership
HARMLESS = {"answerCallbackQuery", "getChatMember"}
NOWHERE = 999_999_999  # an id no object has

User = dict[str, Any]
Press = tuple[dict[str, Any], User, str]  # (message, presser, data)


#: the kinds of wrong press a row names (each row names at least one of each)
OTHER_CHAT, OTHER_USER, WRONG_STEP = KINDS = ("other chat", "other user", "wrong step")


@dataclass
class Case:
    """A real button: the genuine message, its data, who it is for, and the wrong presses by
    kind (added by `copy`, `private` and `on`). Malformed data is pressed by `user` on the
    genuine message and on a copy forged in its chat."""

    tb: Harness
    message: dict[str, Any]
    data: str
    user: User
    presses: dict[str, list[Press]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def copy(
        self, kind: str, chat_id: int, who: User | None = None, data: str | None = None
    ) -> Case:
        """Add a `kind` press by `who` (the button's user unless given) on a copy forged in
        `chat_id` carrying `data` (the genuine data unless given)."""
        data = self.data if data is None else data
        who = self.user if who is None else who
        self.presses[kind].append((forge(self.tb, chat_id, data), who, data))
        return self

    def private(self, kind: str, who: User | None = None, data: str | None = None) -> Case:
        """`copy`, forged in the private chat of `who` (the button's user unless given)."""
        return self.copy(kind, (self.user if who is None else who)["id"], who, data)

    def on(
        self, kind: str, who: User | None = None, data: str | None = None, sent: Any = None
    ) -> Case:
        """Add a `kind` press by `who` (the button's user unless given) of `data` (the genuine
        data unless given) on the genuine message, or on `sent`, another the bot sent."""
        message = self.message if sent is None else stored(self.tb, sent)
        who = self.user if who is None else who
        self.presses[kind].append((message, who, self.data if data is None else data))
        return self


def button(tb: Harness, sent: Any, data: str, user: User) -> Case:
    """The row of the bot's message `sent` (as stored now), whose button `data` is for `user`;
    its wrong presses are added to it."""
    return Case(tb, stored(tb, sent), data, user)


Builder = Callable[[Harness, dict[str, Any]], Awaitable[Case]]


# --- helpers -----------------------------------------------------------------------------------


def forge(tb: Harness, chat_id: int, *data: str) -> dict[str, Any]:
    """A message 'from the bot' in `chat_id` carrying buttons with `data` (the bot never sent it)."""
    em = tb.em
    markup = {
        "inline_keyboard": [[{"text": f"b{i}", "callback_data": d}] for i, d in enumerate(data)]
    }
    return em._store_message(
        em.chats[chat_id],
        em.bot_user,  # a test-side forgery
        {"text": "copy", "reply_markup": markup},
    )


def stored(tb: Harness, sent: Any) -> dict[str, Any]:
    """The emulator's current version of a message the bot sent."""
    message = tb.em.message(sent.chat_id, sent.message_id)
    assert message is not None
    return message


def with_button(tb: Harness, chat_id: int, prefix: str) -> Any:
    """The bot's latest message in `chat_id` with a button whose data starts with `prefix`."""
    for sent in reversed(tb.em.sent):
        if sent.chat_id == chat_id and prefix in str(sent.reply_markup or ""):
            return sent
    raise AssertionError(f"no message with {prefix!r} in {chat_id}")


def button_data(sent: Any, prefix: str) -> str:
    rows = sent.reply_markup["inline_keyboard"]
    return next(
        b["callback_data"]
        for row in rows
        for b in row
        if b.get("callback_data", "").startswith(prefix)
    )


def at(seconds_ahead: float) -> str:
    ts = (int(datetime.now(TZ).timestamp() + seconds_ahead) // 60 + 1) * 60
    return datetime.fromtimestamp(ts, TZ).strftime("%Y-%m-%d %H:%M")


def malformed(data: str) -> list[str]:
    """Broken variants of valid data: truncated, extra field, huge, non-ASCII digits, empty."""
    out = [
        data[:-1],
        data[: len(data) // 2],
        data + ":1",
        data + "\n",
        "",
        ":" + data,
        re.sub(r"[0-9]+", "9" * 30, data),
        data.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        data.replace(":", ": "),
        data.upper(),
    ]
    return [d for d in dict.fromkeys(out) if d != data]


async def entry_of(tb: Harness, user: User, description: str) -> int:
    row = await tb.db.fetchone(
        "SELECT id FROM hour_entries WHERE user_id = ? AND description = ?",
        (user["id"], description),
    )
    return int(row[0])


async def org_id(tb: Harness, code: str) -> int:
    row = await tb.db.fetchone("SELECT id FROM orgs WHERE code = ?", (code,))
    return int(row[0])


# --- the rows: one builder per callback prefix --------------------------------------------------


async def reg_picker(tb: Harness, w: dict[str, Any]) -> tuple[User, Any]:
    """A newcomer at the org step of /register, and the picker they were sent."""
    if "picker" not in w:
        user = tb.em.add_user("新人", username="xinren_new")
        await tb.send(user, None, "/register")
        await tb.press(user, with_button(tb, user["id"], "reg:age:"), reg_data("age", False))
        await tb.send(user, None, "新人甲")
        w["picker"] = (user, with_button(tb, user["id"], "reg:pick:"))
    return w["picker"]


async def row_reg_org(tb: Harness, w: dict[str, Any]) -> Case:
    user, picker = await reg_picker(tb, w)
    data = reg_data("org", await org_id(tb, "yanshan.dabu"))
    return (
        button(tb, picker, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_a"])  # not registering
        .private(OTHER_USER, w["member_a"])
        .private(WRONG_STEP, data=reg_data("org", NOWHERE))
        .private(WRONG_STEP, w["sec_a"])
    )


async def row_reg_pick(tb: Harness, w: dict[str, Any]) -> Case:
    user, picker = await reg_picker(tb, w)
    data = button_data(picker, "reg:pick:")
    return (
        button(tb, picker, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_a"])
        .private(WRONG_STEP, data=reg_data("pick", NOWHERE))
        .private(WRONG_STEP, data=reg_data("consent", True))
        .private(WRONG_STEP, data=reg_data("confirm", True))
    )


async def at_consent(tb: Harness, name: str) -> tuple[User, Any]:
    user = tb.em.add_user(name)
    await tb.send(user, None, "/start join_yanshan-dabu")
    await tb.press(user, with_button(tb, user["id"], "reg:age:"), reg_data("age", False))
    await tb.send(user, None, name)
    await tb.send(user, None, "跳过")
    return user, with_button(tb, user["id"], "reg:consent:")


async def row_reg_consent(tb: Harness, w: dict[str, Any]) -> Case:
    user, consent = await at_consent(tb, "同意者")
    data = reg_data("consent", True)
    picker_user, _ = await reg_picker(tb, w)
    return (
        button(tb, consent, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_a"])
        .private(WRONG_STEP, data=reg_data("confirm", True))
        .private(WRONG_STEP, data=reg_data("pick", 1))
        .private(WRONG_STEP, picker_user)
    )


async def row_reg_confirm(tb: Harness, w: dict[str, Any]) -> Case:
    """The consent message (summary and privacy notice, one tap) also has "start again"
    (reg:confirm:n); a confirm:y counts only after consent, so at this step it is refused."""
    user, consent = await at_consent(tb, "确认者")
    data = reg_data("confirm", False)
    return (
        button(tb, consent, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_a"])
        .private(WRONG_STEP, data=reg_data("confirm", True))
        .private(WRONG_STEP, w["member_a"])
    )


async def row_forget(tb: Harness, w: dict[str, Any]) -> Case:
    user = w["member_a"]
    await tb.send(user, None, "/forgetme")
    question = with_button(tb, user["id"], "forget:")
    data = forget_data(True)
    outsider = w["outsider"]
    await tb.send(outsider, None, "/start")
    return (
        button(tb, question, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_b"])
        # nothing to forget any more (never registered, or already forgotten)
        .private(WRONG_STEP, outsider)
    )


async def row_hours_dup(tb: Harness, w: dict[str, Any]) -> Case:
    user = w["member_b"]
    await tb.send(user, None, "/hours 2 homework club")
    await tb.send(user, None, "/hours 2 homework club")
    question = with_button(tb, user["id"], "hrs:dup:")
    data = button_data(question, "hrs:dup:")
    draft = int(data.split(":")[2])
    return (
        button(tb, question, data, user)
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .on(OTHER_USER, w["sec_a"])  # not their draft
        .private(OTHER_USER, w["sec_a"])
        .private(WRONG_STEP, data=hours_data(HoursButton("dup", draft + 1, yes=True)))
    )


async def row_hours_my(tb: Harness, w: dict[str, Any]) -> Case:
    user = w["sec_a"]
    for i in range(9):
        await tb.send(user, None, f"/hours 1 团课{i}")
    await tb.send(user, None, "/myhours")
    page = with_button(tb, user["id"], "hrs:my:")
    data = hours_data(HoursButton("my", 1))
    return (
        button(tb, page, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_b"])
        .private(WRONG_STEP, data=hours_data(HoursButton("my", 2)))
        .private(WRONG_STEP, data=hours_data(HoursButton("my", NOWHERE)))
    )


async def listing_case(tb: Harness, w: dict[str, Any], verb: str) -> Case:
    """A /pending listing in the branch chat, with member_a's entry on it."""
    key = f"listing:{verb}"
    sec, ma, chat_a = w["sec_a"], w["member_a"], w["chat_a"]
    if "entries" not in w:
        await tb.send(ma, None, "/hours 2 七彩四点半")
        await tb.send(ma, None, "/hours 3 环境整治")
        await tb.send(sec, None, "/hours 1 自己的")
        done = await entry_of(tb, ma, "环境整治")
        listing = (await tb.send(w["boss"], None, "/pending"))[0]
        await tb.press(w["boss"], listing, hours_data(HoursButton("ok", done, scope=0)))
        w["entries"] = (
            await entry_of(tb, ma, "七彩四点半"),
            done,
            await entry_of(tb, sec, "自己的"),
        )
    entry, done, own = w["entries"]
    await tb.send(w["outsider"], None, "/start")  # a first contact is recorded: not the press's
    dabu = await org_id(tb, "yanshan.dabu")
    await tb.send(sec, chat_a, "/pending")
    listing = with_button(tb, chat_a["id"], f"hrs:{verb}:{entry}:")
    data = hours_data(HoursButton(verb, entry, scope=dabu))  # type: ignore[arg-type]
    w[key] = listing
    stale = hours_data(HoursButton(verb, done, scope=dabu))  # type: ignore[arg-type]
    mine = hours_data(HoursButton(verb, own, scope=0))  # type: ignore[arg-type]
    elsewhere = hours_data(HoursButton(verb, entry, scope=await org_id(tb, "yanshan.jiedao")))  # type: ignore[arg-type]
    ghost = hours_data(HoursButton(verb, NOWHERE, scope=dabu))  # type: ignore[arg-type]
    return (
        button(tb, listing, data, sec)
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .private(OTHER_CHAT)
        .copy(OTHER_CHAT, chat_a["id"], data=elsewhere)
        .on(OTHER_USER, ma)  # her own entry
        .on(OTHER_USER, w["outsider"])
        .private(OTHER_USER, data=mine)  # the secretary's own entry
        .copy(WRONG_STEP, chat_a["id"], data=stale)  # decided already
        .copy(WRONG_STEP, chat_a["id"], data=ghost)
    )


async def row_hours_ok(tb: Harness, w: dict[str, Any]) -> Case:
    return await listing_case(tb, w, "ok")


async def row_hours_no(tb: Harness, w: dict[str, Any]) -> Case:
    return await listing_case(tb, w, "no")


async def row_hours_nr(tb: Harness, w: dict[str, Any]) -> Case:
    boss = w["boss"]
    await row_hours_ok(tb, w)  # the entries exist
    entry, done, _own = w["entries"]
    listing = (await tb.send(boss, None, "/pending"))[0]
    await tb.press(boss, listing, hours_data(HoursButton("no", entry, scope=0)))
    prompt = with_button(tb, boss["id"], "hrs:nr:")
    data = hours_data(HoursButton("nr", entry))
    other = hours_data(HoursButton("nr", done))
    return (
        button(tb, prompt, data, boss)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["sec_a"])  # not asked
        .private(OTHER_USER, w["sec_a"])
        .private(WRONG_STEP, data=other)
    )


async def row_hours_ev(tb: Harness, w: dict[str, Any]) -> Case:
    """查看凭证 on a /pending listing in the branch chat: the entry's photo, privately."""
    sec, ma, chat_a = w["sec_a"], w["member_a"], w["chat_a"]
    await tb.deliver(tb.em.photo(ma, None, caption="/hours 2 带照片"))
    await tb.send(ma, None, "/hours 1 无照片")
    await tb.send(w["member_b"], None, "/hours 1 photo elsewhere")
    entry, plain = await entry_of(tb, ma, "带照片"), await entry_of(tb, ma, "无照片")
    await tb.send(w["outsider"], None, "/start")  # a first contact is recorded: not the press's
    await tb.send(sec, chat_a, "/pending")
    listing = with_button(tb, chat_a["id"], f"hrs:ev:{entry}")
    data = hours_data(HoursButton("ev", entry))
    return (
        button(tb, listing, data, sec)
        .copy(OTHER_CHAT, w["chat_b"]["id"], w["boss"])  # not a listing of that subtree
        .copy(OTHER_CHAT, ma["id"], sec)  # someone else's private chat
        .on(OTHER_USER, w["outsider"])
        .on(OTHER_USER, w["member_b"])
        .copy(WRONG_STEP, chat_a["id"], data=hours_data(HoursButton("ev", plain)))  # no photo
        .copy(WRONG_STEP, chat_a["id"], data=hours_data(HoursButton("ev", NOWHERE)))
    )


async def row_att(tb: Harness, w: dict[str, Any]) -> Case:
    """The organiser's private roster (/attendance): present / no-show / undo per person."""
    sec, ma, chat_a = w["sec_a"], w["member_a"], w["chat_a"]
    sent = await tb.send(sec, chat_a, f"/activity 点名活动 | {at(1800)} | 1 | 5 | 广场")
    card = next(s for s in sent if "act:" in str(s.reply_markup or ""))
    act_id = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    for who in (ma, sec):
        await tb.press(who, card, act_callbacks.build(act_id, "join"))
    await tb.send(sec, chat_a, f"/attendance {act_id}")
    roster = with_button(tb, sec["id"], f"att:p:{act_id}:")
    data = att_data("p", act_id, 0, ma["id"])
    cancelled = (await activity_card(tb, w), w["card"][2])[1]
    return (
        button(tb, roster, data, sec)
        .copy(OTHER_CHAT, chat_a["id"])  # the roster lives in the organiser's private chat
        .copy(OTHER_USER, ma["id"], ma)  # a member with a copy: not an organiser
        .copy(OTHER_USER, w["member_b"]["id"], w["member_b"])
        .private(WRONG_STEP, data=att_data("p", act_id, 0, sec["id"]))  # their own attendance
        .private(WRONG_STEP, data=att_data("n", act_id, 0, w["outsider"]["id"]))  # no place
        .private(WRONG_STEP, data=att_data("g", act_id, 5))  # no such page
        .private(WRONG_STEP, data=att_data("p", cancelled, 0, ma["id"]))  # cancelled
        .private(WRONG_STEP, data=att_data("u", NOWHERE, 0, ma["id"]))
    )


async def activity_card(tb: Harness, w: dict[str, Any]) -> tuple[int, Any]:
    if "card" not in w:
        sent = await tb.send(
            w["sec_a"], w["chat_a"], f"/activity 义诊 | {at(2 * 86400)} | 2 | 5 | 村委"
        )
        card = next(s for s in sent if "act:" in str(s.reply_markup or ""))
        row = await tb.db.fetchone("SELECT MAX(id) FROM activities")
        gone = await tb.send(
            w["sec_a"], w["chat_a"], f"/activity 取消的 | {at(2 * 86400)} | 2 | 5 | 村委"
        )
        assert gone
        off = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
        await tb.send(w["sec_a"], w["chat_a"], f"/activity cancel {off}")
        w["card"] = (int(row[0]), card, off)
    act_id, card, _ = w["card"]
    return act_id, card


async def row_act_join(tb: Harness, w: dict[str, Any]) -> Case:
    act_id, card = await activity_card(tb, w)
    off = w["card"][2]
    data = act_callbacks.build(act_id, "join")
    mine = w["member_b"]
    cancelled = act_callbacks.build(off, "join")
    nowhere = act_callbacks.build(NOWHERE, "join")
    return (
        button(tb, card, data, mine)
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .copy(OTHER_USER, w["sec_a"]["id"])  # someone's private copy
        .private(WRONG_STEP, data=cancelled)
        .copy(WRONG_STEP, w["chat_a"]["id"], data=nowhere)
        .private(WRONG_STEP, data=nowhere)
    )


async def row_act_post(tb: Harness, w: dict[str, Any]) -> Case:
    """A post's Sign up on a card with posts (issue 14, item 4)."""
    sent = await tb.send(
        w["sec_a"],
        w["chat_a"],
        f"/activity 运动会 | {at(2 * 86400)} | 2 | - | 体育场 | 岗位 引导 5, 检票 5",
    )
    card = next(s for s in sent if "act:" in str(s.reply_markup or ""))
    act_id = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    data = act_callbacks.build(act_id, "join", 1)
    holder = w["member_a"]
    await tb.press(holder, card, act_callbacks.build(act_id, "join", 2))  # holds 检票
    await activity_card(tb, w)
    off = w["card"][2]  # a cancelled activity (without posts)
    return (
        button(tb, card, data, w["member_b"])
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .copy(OTHER_USER, w["sec_a"]["id"])  # someone's private copy
        .on(WRONG_STEP, holder)  # one post per person: 检票 is theirs
        .private(WRONG_STEP, data=act_callbacks.build(off, "join", 1))  # cancelled, no posts
        .copy(WRONG_STEP, w["chat_a"]["id"], data=act_callbacks.build(act_id, "join", 9))
        .private(WRONG_STEP, data=act_callbacks.build(act_id, "join", 9))  # no such post
    )


async def row_act_leave(tb: Harness, w: dict[str, Any]) -> Case:
    act_id, card = await activity_card(tb, w)
    data = act_callbacks.build(act_id, "leave")
    ma = w["member_a"]
    await tb.press(w["sec_a"], card, act_callbacks.build(act_id, "join"))
    return (
        button(tb, card, data, w["sec_a"])
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .on(OTHER_USER, ma)  # not signed up
        .copy(WRONG_STEP, w["chat_a"]["id"], data=act_callbacks.build(w["card"][2], "leave"))
    )


async def row_act_cal(tb: Harness, w: dict[str, Any]) -> Case:
    act_id, card = await activity_card(tb, w)
    data = act_callbacks.build(act_id, "cal")
    return (
        button(tb, card, data, w["member_b"])
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .copy(OTHER_USER, w["sec_a"]["id"])  # someone's private copy
        .private(WRONG_STEP, data=act_callbacks.build(w["card"][2], "cal"))  # cancelled
        .copy(WRONG_STEP, w["chat_a"]["id"], data=act_callbacks.build(NOWHERE, "cal"))
    )


async def row_act_all(tb: Harness, w: dict[str, Any]) -> Case:
    """Join all on an occurrence of a series (two dates a week apart)."""
    start = at(2 * 86400)
    day = datetime.strptime(start, "%Y-%m-%d %H:%M").date()
    sent = await tb.send(
        w["sec_a"],
        w["chat_a"],
        f"/activity 系列 | {start} | 2 | 5 | 村委 | dates {day},{day + timedelta(days=7)}",
    )
    card = next(s for s in sent if ":all'" in str(s.reply_markup or ""))
    data = button_data(card, "act:").replace(":join", ":all")
    single, _ = await activity_card(tb, w)  # an activity outside a series
    return (
        button(tb, card, data, w["member_b"])
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .copy(OTHER_USER, w["sec_a"]["id"])  # someone's private copy
        .copy(WRONG_STEP, w["chat_a"]["id"], data=act_callbacks.build(single, "all"))
        .copy(WRONG_STEP, w["chat_a"]["id"], data=act_callbacks.build(NOWHERE, "all"))
    )


async def row_act_in(tb: Harness, w: dict[str, Any]) -> Case:
    sec, chat_a = w["sec_a"], w["chat_a"]
    sent = await tb.send(sec, chat_a, f"/activity 签到活动 | {at(1800)} | 1 | 5 | 广场")
    card = next(s for s in sent if "act:" in str(s.reply_markup or ""))
    act_id = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    await tb.press(w["boss"], card, act_callbacks.build(act_id, "join"))
    await tb.send(sec, chat_a, f"/checkin {act_id}")
    checkin = with_button(tb, chat_a["id"], f"act:{act_id}:in")
    data = act_callbacks.build(act_id, "in")
    first_id = (await activity_card(tb, w))[0]
    first = act_callbacks.build(first_id, "in")
    return (
        button(tb, checkin, data, w["boss"])
        .copy(OTHER_CHAT, w["chat_b"]["id"])
        .private(OTHER_CHAT)  # never private
        .on(OTHER_USER, w["member_b"])  # not signed up
        .on(WRONG_STEP, data=first)
        .copy(WRONG_STEP, chat_a["id"], data=first)
    )


async def row_ann_ack(tb: Harness, w: dict[str, Any]) -> Case:
    await tb.send(w["boss"], w["chat_a"], "/announce 周六集合")
    await tb.drain()
    copy = with_button(tb, w["chat_a"]["id"], "ann:")
    data = button_data(copy, "ann:")
    ann_id = int(data.split(":")[1])
    stranger = tb.em.add_user("陌生人")  # can see a public group's buttons, is not in it
    await tb.send(stranger, None, "/start")  # a first contact is recorded: not the press's
    return (
        button(tb, copy, data, w["member_a"])
        .copy(OTHER_CHAT, w["chat_b"]["id"], w["member_b"])
        .private(OTHER_CHAT)
        .on(OTHER_USER, stranger)
        .copy(WRONG_STEP, w["chat_a"]["id"], data=ack_data(ann_id + 1))
    )


async def row_sub(tb: Harness, w: dict[str, Any]) -> Case:
    boss, sec, root = w["boss"], w["sec_a"], w["root"]
    for title in ("上半年述职", "下半年述职", "作废的述职"):
        await tb.send(boss, root, f"/deadline new {title} | {at(30 * 86400)}")
    third = int((await tb.db.fetchone("SELECT MAX(id) FROM campaigns"))[0])
    await tb.send(boss, root, f"/deadline cancel {third}")
    await tb.send(sec, None, "/submit")
    offer = with_button(tb, sec["id"], "sub:")
    data = button_data(offer, "sub:")
    campaign = int(data.split(":")[1])
    dabu, root_org = await org_id(tb, "yanshan.dabu"), await org_id(tb, "yanshan")
    return (
        button(tb, offer, data, sec)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_b"])  # not theirs
        .private(OTHER_USER, w["member_b"])
        .private(WRONG_STEP, data=submit_data(third, dabu))  # cancelled
        .private(WRONG_STEP, data=submit_data(campaign, root_org))  # not owed by that org
        .private(WRONG_STEP, data=submit_data(NOWHERE, dabu))
    )


async def row_request(tb: Harness, w: dict[str, Any]) -> Case:
    """A request upward: the card goes to the superuser (the district has no staff of its own);
    a second request already decided, a reply button on it, an id that does not exist."""
    boss, sec = w["boss"], w["sec_a"]
    ids = []
    for text in ("申请场地", "申请经费"):
        await tb.send(sec, None, f"/request {text}")
        ids.append(int((await tb.db.fetchone("SELECT MAX(id) FROM requests"))[0]))
    await tb.drain()
    decided = with_button(tb, boss["id"], request_data("ok", ids[1]))
    await tb.press(boss, decided, request_data("no", ids[1]))
    card = with_button(tb, boss["id"], request_data("ok", ids[0]))
    data = request_data("ok", ids[0])
    return (
        button(tb, card, data, boss)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .copy(OTHER_CHAT, w["root"]["id"])
        .on(OTHER_USER, sec)
        .private(OTHER_USER, w["member_a"])  # their own chat, but not staff of the district
        .private(OTHER_USER, sec, request_data("no", ids[0]))  # the requester themself
        .private(WRONG_STEP, data=request_data("ok", ids[1]))  # decided already
        .private(WRONG_STEP, data=request_data("re", ids[1]))
        .private(WRONG_STEP, data=request_data("ok", NOWHERE))
    )


async def review_world(tb: Harness, w: dict[str, Any]) -> tuple[int, int, int]:
    """A campaign the branch reported on, past its due time, its review open: (campaign id,
    the branch's org id, the sibling's org id, which sent nothing)."""
    if "review" not in w:
        boss, sec, root = w["boss"], w["sec_a"], w["root"]
        await tb.send(boss, root, f"/deadline new 评议的述职 | {at(30 * 86400)}")
        camp = int((await tb.db.fetchone("SELECT MAX(id) FROM campaigns"))[0])
        await tb.send(sec, None, f"/submit {camp}")
        await tb.send(sec, None, "全年工作报告")
        async with tb.db.transaction() as tx:  # the due time passed (the test cannot wait)
            await tx.execute(
                "UPDATE campaigns SET due_at = ? WHERE id = ?", (time.time() - 60, camp)
            )
        await tb.send(boss, None, f"/review open {camp}")
        await tb.drain()
        dabu, jiedao = await org_id(tb, "yanshan.dabu"), await org_id(tb, "yanshan.jiedao")
        w["review"] = (camp, dabu, jiedao)
    return w["review"]


async def row_rv_grade(tb: Harness, w: dict[str, Any]) -> Case:
    """A reviewer's scoring card (述职评议), in the reviewer's private chat."""
    camp, dabu, jiedao = await review_world(tb, w)
    boss, sec = w["boss"], w["sec_a"]
    card = with_button(tb, boss["id"], "rv:g:")
    data = button_data(card, "rv:g:")
    return (
        button(tb, card, data, boss)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .copy(OTHER_CHAT, sec["id"])  # someone else's private chat
        .on(OTHER_USER, sec)
        .private(OTHER_USER, sec)  # not a reviewer
        .private(WRONG_STEP, data=grade_data(camp, dabu, 7))  # no such grade
        .private(WRONG_STEP, data=grade_data(camp, jiedao, 0))  # nothing submitted
        .private(WRONG_STEP, data=grade_data(NOWHERE, dabu, 0))
    )


async def row_rv_material(tb: Harness, w: dict[str, Any]) -> Case:
    """查看材料 under the board of /deadline status, in the district's chat."""
    camp, dabu, jiedao = await review_world(tb, w)
    boss, sec = w["boss"], w["sec_a"]
    await tb.send(boss, w["root"], f"/deadline status {camp}")
    board = with_button(tb, w["root"]["id"], "rv:m:")
    data = button_data(board, "rv:m:")
    return (
        button(tb, board, data, boss)
        .copy(OTHER_CHAT, sec["id"])  # someone else's private chat
        .on(OTHER_USER, w["member_a"])  # neither a reviewer nor the submitter
        .copy(OTHER_USER, w["chat_b"]["id"], w["member_b"])
        .on(WRONG_STEP, data=material_data(camp, jiedao))  # nothing submitted
        .copy(WRONG_STEP, w["root"]["id"], data=material_data(NOWHERE, dabu))
    )


#: prefix → (a sample of its data, built by the feature's own function; the row's builder)


async def row_guard(tb: Harness, w: dict[str, Any]) -> Case:
    """A guardian's "I agree" button for an under-14 registrant (guardian consent)."""
    minor, guardian = tb.em.add_user("小华"), tb.em.add_user("华妈妈")
    await tb.send(minor, None, "/start join_yanshan-dabu")
    asked = tb.em.messages_to(minor["id"])[-1]
    sent = await tb.press(minor, asked, reg_data("age", True))
    match = re.search(r"start=guard_([A-Za-z0-9_-]+)", sent[-1].text or "")
    assert match, [m.text for m in sent]
    await tb.send(guardian, None, f"/start guard_{match.group(1)}")
    ask = with_button(tb, guardian["id"], "guard:")
    data = guard_data(match.group(1))
    unknown = guard_data("A" * 22)  # well formed, but no such request
    return (
        button(tb, ask, data, guardian)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, minor)  # the minor's own account
        .private(WRONG_STEP, data=unknown)
    )


async def row_guide(tb: Harness, w: dict[str, Any]) -> Case:
    """A "what I can do" button (free text in private outside any step)."""
    user = w["member_a"]
    await tb.send(user, None, "你好")
    offer = with_button(tb, user["id"], "guide:")
    data = guide_data("me")
    return (
        button(tb, offer, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_b"])
        # an action no "what I can do" button offers (a path it may not start)
        .private(WRONG_STEP, data="guide:setup")
    )


# --- the date and time questions (bot.domain.when) and the guided /hours ----------------------


def readings_of(sent: Any) -> list[str]:
    return [
        b["callback_data"]
        for row in sent.reply_markup["inline_keyboard"]
        for b in row
        if b.get("callback_data", "").startswith("when:")
    ]


def unoffered(data: str, offered: list[str]) -> str:
    """Well-formed data of the same kind, a reading the question did not offer (10:17)."""
    kind, reading = parse_choice_data(data)
    other = choice_data(kind, Reading(reading.day, 10 * 60 + 17))
    assert other not in offered
    return other


async def asked_again(
    tb: Harness, user: User, chat: dict[str, Any], first: str, again: str, elsewhere: int
) -> Case:
    """`user` sends `first` in `chat` and answers its date question with the first reading,
    then sends `again`: the row of the new question's second reading, for `user` only, with
    presses of `user` on copies in `elsewhere` and in private, of the reading the question did
    not offer, and of the answered question's reading."""
    used = (await tb.send(user, chat, first))[-1]
    used_data = readings_of(used)[0]
    await tb.press(user, used, used_data)
    question = (await tb.send(user, chat, again))[-1]
    data = readings_of(question)[1]
    return (
        button(tb, question, data, user)
        .copy(OTHER_CHAT, elsewhere)
        .private(OTHER_CHAT)
        .on(WRONG_STEP, data=unoffered(data, readings_of(question)))
        .on(WRONG_STEP, data=used_data, sent=used)  # answered already
    )


async def row_when_dl(tb: Harness, w: dict[str, Any]) -> Case:
    """/deadline new with "9点": 09:00 or 21:00, for the sender of the command only."""
    first, again = "/deadline new 年度述职 | 下周六 9点", "/deadline new 年中述职 | 下周六 9点"
    case = await asked_again(tb, w["boss"], w["root"], first, again, w["chat_a"]["id"])
    return case.on(OTHER_USER, w["sec_a"]).on(OTHER_USER, w["member_b"])


async def row_when_ann(tb: Harness, w: dict[str, Any]) -> Case:
    """/announce at with "9点": 09:00 or 21:00, for the staff member who sent it only."""
    first, again = "/announce at 下周六 9点 | 集合", "/announce at 下周六 9点 | 再次集合"
    case = await asked_again(tb, w["boss"], w["root"], first, again, w["chat_a"]["id"])
    return case.on(OTHER_USER, w["sec_a"]).on(OTHER_USER, w["member_b"])


async def row_when_act(tb: Harness, w: dict[str, Any]) -> Case:
    """A one-line /activity in a group with "9点": the organiser who sent it picks."""
    line = "/activity 义诊 | 下周六 9点 | 2 | 5 | 村委"
    again = line.replace("义诊", "支教")
    case = await asked_again(tb, w["sec_a"], w["chat_a"], line, again, w["chat_b"]["id"])
    return case.on(OTHER_USER, w["member_a"]).on(OTHER_USER, w["boss"])  # an organiser


async def row_when_actf(tb: Harness, w: dict[str, Any]) -> Case:
    """The guided /activity's "when" step in private, answered "下周六 9点"."""
    sec, chat_a = w["sec_a"], w["chat_a"]
    await tb.send(sec, chat_a, "/activity")
    await tb.drain()
    await tb.send(sec, None, "周末支教")
    question = (await tb.send(sec, None, "下周六 9点"))[-1]
    data = readings_of(question)[1]
    kind, reading = parse_choice_data(data)
    past = choice_data(kind, Reading(reading.day - timedelta(days=30), reading.minute))
    return (
        button(tb, question, data, sec)
        .copy(OTHER_CHAT, chat_a["id"])
        .on(OTHER_USER, w["member_a"])
        .private(OTHER_USER, w["boss"])  # not in the form
        .private(WRONG_STEP, data=past)  # in the past
    )


async def row_actf_skip(tb: Harness, w: dict[str, Any]) -> Case:
    """The guided /activity's Skip on the (optional) sign-up deadline step."""
    sec, chat_a = w["sec_a"], w["chat_a"]
    await tb.send(sec, chat_a, "/activity")
    await tb.drain()
    await tb.send(sec, None, "周末支教")
    question = (await tb.send(sec, None, at(3 * 86400)))[-1]
    data = skip_data("deadline")
    return (
        button(tb, question, data, sec)
        .copy(OTHER_CHAT, chat_a["id"])
        .on(OTHER_USER, w["member_a"])
        .private(OTHER_USER, w["boss"])  # not in the form
        .private(WRONG_STEP, data=skip_data("posts"))  # offered at another step
        .private(WRONG_STEP, data=skip_data("location"))
    )


async def hours_form_at_day(tb: Harness, user: User) -> Any:
    """`user` in the guided /hours, asked which day (today / yesterday / another)."""
    await tb.send(user, None, "/hours")
    return (await tb.send(user, None, "2"))[-1]


async def row_when_hrs(tb: Harness, w: dict[str, Any]) -> Case:
    """The guided /hours' "which day" question: a day button."""
    user = w["member_a"]
    question = await hours_form_at_day(tb, user)
    data = readings_of(question)[1]  # yesterday
    today = tb.services.hours.today()
    tomorrow = choice_data("hrs", Reading(today + timedelta(days=1)))
    long_ago = choice_data("hrs", Reading(today - timedelta(days=400)))
    return (
        button(tb, question, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, w["member_b"])
        .private(OTHER_USER, w["member_b"])  # no form
        .private(WRONG_STEP, data=tomorrow)
        .private(WRONG_STEP, data=long_ago)
    )


async def row_hours_form(tb: Harness, w: dict[str, Any]) -> Case:
    """The guided /hours' confirm button (hrf:ok), and its other buttons out of step."""
    user = w["member_a"]
    question = await hours_form_at_day(tb, user)
    await tb.press(user, question, readings_of(question)[1])
    confirm = (await tb.send(user, None, "七彩四点半"))[-1]
    data = form_data("ok")
    other = w["member_b"]
    await hours_form_at_day(tb, other)  # at the day step: nothing to confirm
    return (
        button(tb, confirm, data, user)
        .copy(OTHER_CHAT, w["chat_a"]["id"])
        .on(OTHER_USER, other)
        .on(OTHER_USER, w["sec_a"])
        .private(WRONG_STEP, data=form_data("other"))
        .private(WRONG_STEP, other)
        .private(WRONG_STEP, w["sec_a"], form_data("no"))  # in no form
    )


TABLE: dict[str, tuple[str, Builder]] = {
    "reg:org": (reg_data("org", 1), row_reg_org),
    "reg:pick": (reg_data("pick", 1), row_reg_pick),
    "reg:consent": (reg_data("consent", True), row_reg_consent),
    "reg:confirm": (reg_data("confirm", False), row_reg_confirm),
    "forget": (forget_data(True), row_forget),
    "hrs:dup": (hours_data(HoursButton("dup", 1, yes=True)), row_hours_dup),
    "hrs:my": (hours_data(HoursButton("my", 1)), row_hours_my),
    "hrs:ok": (hours_data(HoursButton("ok", 1, scope=2)), row_hours_ok),
    "hrs:no": (hours_data(HoursButton("no", 1, scope=2)), row_hours_no),
    "hrs:nr": (hours_data(HoursButton("nr", 1)), row_hours_nr),
    "hrs:ev": (hours_data(HoursButton("ev", 1)), row_hours_ev),
    "att": (att_data("p", 1, 0, 2), row_att),
    "act:join": (act_callbacks.build(1, "join"), row_act_join),
    "act:join:post": (act_callbacks.build(1, "join", 1), row_act_post),
    "act:leave": (act_callbacks.build(1, "leave"), row_act_leave),
    "act:in": (act_callbacks.build(1, "in"), row_act_in),
    "act:cal": (act_callbacks.build(1, "cal"), row_act_cal),
    "act:all": (act_callbacks.build(1, "all"), row_act_all),
    "ann:ack": (ack_data(1), row_ann_ack),
    "sub": (submit_data(1, 2), row_sub),
    "rv:g": (grade_data(1, 2, 0), row_rv_grade),
    "rv:m": (material_data(1, 2), row_rv_material),
    "guard": (guard_data("A" * 22), row_guard),
    "guide": (guide_data("me"), row_guide),
    "when:dl": (choice_data("dl", Reading(date(2026, 12, 20), 9 * 60)), row_when_dl),
    "when:ann": (choice_data("ann", Reading(date(2026, 12, 20), 9 * 60)), row_when_ann),
    "when:act": (choice_data("act", Reading(date(2026, 12, 20), 9 * 60)), row_when_act),
    "when:actf": (choice_data("actf", Reading(date(2026, 12, 20), 9 * 60)), row_when_actf),
    "actf:skip": (skip_data("deadline"), row_actf_skip),
    "when:hrs": (day_data(date(2026, 12, 20)), row_when_hrs),
    "hrf": (form_data("ok"), row_hours_form),
    "req": (request_data("ok", 1), row_request),
}


# --- the tests ---------------------------------------------------------------------------------


def callback_patterns(app: Any) -> list[re.Pattern[str]]:
    """The pattern of every CallbackQueryHandler the application registered (catch-alls aside)."""
    found = []
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
                pattern = handler.pattern
                found.append(pattern if isinstance(pattern, re.Pattern) else re.compile(pattern))
    return found


async def test_table_covers_every_button_handler(tb: Harness) -> None:
    """A new CallbackQueryHandler without a row here fails this test."""
    patterns = callback_patterns(tb.app)
    assert patterns
    uncovered = [
        p.pattern for p in patterns if not any(p.match(sample) for sample, _ in TABLE.values())
    ]
    assert uncovered == [], f"buttons without a row in TABLE: {uncovered}"
    for prefix, (sample, _) in TABLE.items():
        assert any(p.match(sample) for p in patterns), f"{prefix}: no handler takes {sample!r}"


async def settle(tb: Harness, quiet: float) -> None:
    """Wait until the outbox has nothing left (paced items too) and no call came for `quiet`
    seconds (the card editor redraws cards a moment after a change)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await tb.drain(5)
        row = await tb.db.fetchone("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        calls = len(tb.em.calls)
        await asyncio.sleep(quiet)
        if row[0] == 0 and len(tb.em.calls) == calls:
            return
    raise AssertionError("the bot never settled")


async def refused(tb: Harness, message: dict[str, Any], user: User, data: str) -> str | None:
    """Press; None if refused with nothing changed, else what went wrong."""
    em = tb.em
    await settle(tb, 0.05)
    before = dump(tb.settings.db)
    calls, answers = len(em.calls), len(em.callback_answers)
    update = em.press(user, message, data)
    outcome = await run_through_processor(tb, update)
    await tb.drain(5)
    made = [c.method for c in em.calls[calls:] if c.method not in HARMLESS]
    mine = [
        a
        for a in em.callback_answers[answers:]
        if a["callback_query_id"] == update["callback_query"]["id"]
    ]
    problems = []
    if not outcome.startswith("refused"):
        problems.append(f"outcome {outcome}")
    if len(mine) != 1 or not mine[0].get("text"):
        problems.append(f"answer {mine}")
    if made:
        problems.append(f"calls {made}")
    if dump(tb.settings.db) != before:
        problems.append("database changed")
    if (
        em.message(message["chat"]["id"], message["message_id"]) != message
        and em.message(message["chat"]["id"], message["message_id"]) is not None
    ):
        problems.append("message edited")
    return "; ".join(problems) or None


@pytest.mark.parametrize("prefix", list(TABLE))
async def test_wrong_presses_are_refused_and_change_nothing(tb: Harness, prefix: str) -> None:
    w = await build_tower(tb)
    tb.em.limits = False
    case = await TABLE[prefix][1](tb, w)
    await settle(tb, 2.5)
    case.message = tb.em.message(case.message["chat"]["id"], case.message["message_id"])
    presses = [(kind, p) for kind in KINDS for p in case.presses[kind]]
    home = case.message["chat"]["id"]
    for bad in malformed(case.data):
        presses.append(("malformed on the message", (case.message, case.user, bad)))
        presses.append(("malformed on a copy", (forge(tb, home, bad), case.user, bad)))
    assert all(len(case.presses[kind]) >= 1 for kind in KINDS)
    problems = []
    for kind, (message, user, data) in presses:
        message = tb.em.message(message["chat"]["id"], message["message_id"]) or message
        wrong = await refused(tb, message, user, data)
        if wrong:
            problems.append(
                f"{prefix} {kind}: {data!r} by {user['first_name']} in "
                f"{message['chat']['id']}: {wrong}"
            )
    assert problems == []
    # the genuine press, as meant, is not refused: the row is real
    em = tb.em
    answers = len(em.callback_answers)
    outcome = await run_through_processor(tb, em.press(case.user, case.message, case.data))
    assert not outcome.startswith(("refused", "error")), (
        prefix,
        outcome,
        em.callback_answers[answers:],
    )
