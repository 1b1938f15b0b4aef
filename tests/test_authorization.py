"""The authorization matrix: every registered command × role × position in the tree.

Roles: the superuser; staff at the branch (大埠乡), above it (the district) and elsewhere (the
sibling street); secretaries at the branch, above it and of the sibling; a registered member of
the branch; an unregistered stranger. Positions: the branch's own chat, its parent's chat, the
sibling's chat, a private chat. Each row says, per cell, either the refusal expected (its
catalogue key: the answer must be that text and no table may change) or how to see that the
action happened (the row exists, the message, board or document was sent, the role granted …).
A command the bot registers without a row fails the test.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from telegram.ext import CommandHandler

from bot.gateway import pacing
from bot.gateway.cards import CardEditor
from bot.logs import UpdateLog
from bot.settings import Settings
from bot.texts import CATALOGUES
from handlers.common import PRIVATE_REFUSALS
from tests.conftest import Harness, build_tower, register
from tests.helpers import with_button
from tests.test_abuse import dump, pattern_of, run_through_processor, settle

ROLES = [
    "superuser",
    "staff_here",
    "staff_above",
    "staff_elsewhere",
    "secretary_here",
    "secretary_above",
    "secretary_sibling",
    "member",
    "stranger",
]
POSITIONS = ["here", "parent", "sibling", "private"]
ORG_AT = {
    "here": "yanshan.dabu",
    "parent": "yanshan",
    "sibling": "yanshan.jiedao",
    "private": "yanshan.dabu",
}
#: the role each cast member holds, and where (roles reach down the subtree)
GRANTS = {
    "superuser": ("staff", ""),
    "staff_here": ("staff", "yanshan.dabu"),
    "staff_above": ("staff", "yanshan"),
    "staff_elsewhere": ("staff", "yanshan.jiedao"),
    "secretary_here": ("secretary", "yanshan.dabu"),
    "secretary_above": ("secretary", "yanshan"),
    "secretary_sibling": ("secretary", "yanshan.jiedao"),
    "member": (None, "yanshan.dabu"),
    "stranger": (None, ""),
}
RANK = {None: 0, "secretary": 1, "staff": 2}
TITLE = "签到活动"  # the branch's activity everyone can see


def rank_at(role: str, code: str) -> int:
    held, where = GRANTS[role]
    reaches = where == "" or code == where or code.startswith(where + ".")
    return RANK[held] if reaches else 0


def registered(role: str) -> bool:
    return role != "stranger"


Expect = Callable[[str, str], "str | None"]  # (role, position) -> refusal key, None = allowed


def in_group(need: str | None) -> Expect:
    """Group chats only; `need` (secretary/staff) at the chat's org, or anyone there."""

    def expect(role: str, pos: str) -> str | None:
        if pos == "private":
            return "err_group_only"
        if need and rank_at(role, ORG_AT[pos]) < RANK[need]:
            return f"err_need_{need}"
        return None

    return expect


def in_private(need_person: bool) -> Expect:
    """Private chats only; `need_person`: registered people only."""

    def expect(role: str, pos: str) -> str | None:
        if pos != "private":
            return "err_private_only"
        if need_person and not registered(role):
            return "err_not_registered"
        return None

    return expect


def of_the_branch(sibling: str) -> Callable[[str, str], str | None]:
    """What a command about the branch's own thing expects: a group of the branch or above and
    its secretary or higher; `sibling` is what a sibling branch's chat (without it) hears."""

    def expect(role: str, pos: str) -> str | None:
        if pos == "private":
            return "err_group_only"
        if pos == "sibling":
            return sibling
        return None if rank_at(role, "yanshan.dabu") >= 1 else "err_need_secretary"

    return expect


#: /checkin, /close of the branch's activity: from its chat or above, by its organisers
at_branch_activity = of_the_branch("err_act_unknown")
#: /announce status: the latest announcement of the chat's subtree (the branch's)
branch_board = of_the_branch("err_ann_none")


def approver(role: str, pos: str) -> str | None:
    """/pending, /stats, exports: secretary or staff of the chat's org (in private: any org)."""
    if pos == "private":
        return None if GRANTS[role][0] else "err_hours_not_approver"
    return None if rank_at(role, ORG_AT[pos]) >= 1 else "err_need_secretary"


def dashboard_expect(role: str, pos: str) -> str | None:
    """/dashboard: private only (a group gets the deep link), secretaries and staff anywhere."""
    if pos != "private":
        return "err_private_only"
    return None if GRANTS[role][0] else "err_dash_no_role"


@dataclass
class Cell:
    tb: Harness
    cast: dict
    role: str
    pos: str
    n: int
    answers: list  # what the bot sent, in the cell (drained)
    docs: list  # documents and photos sent in the cell

    @property
    def user(self) -> dict:
        return self.cast[self.role]

    @property
    def chat_id(self) -> int:
        return self.user["id"] if self.pos == "private" else self.cast[self.pos]["id"]

    def replies(self) -> list[str]:
        return [s.text or "" for s in self.answers if s.chat_id == self.chat_id]

    async def one(self, sql: str, *args: Any) -> Any:
        return await self.tb.db.fetchone(sql, args)

    async def org_id(self, code: str) -> int:
        return (await self.tb.services.tower.org_by_code(code)).id


Check = Callable[[Cell], Awaitable[None]]
Step = Callable[[Harness, dict, str, str, int], Awaitable[Any]]


@dataclass
class Row:
    text: str  # {n}: a number unique to the cell, {org}: the position's org code, {act}: id
    expect: Expect
    check: Check
    prepare: Step | None = None  # before the "before" dump; may return the {act} id
    undo: Step | None = None  # after an allowed cell, put the world back
    always_undo: bool = False  # undo after refused cells too (what prepare changed)

    @property
    def command(self) -> str:
        return self.text.split()[0][1:]


# --- checks: the action happened --------------------------------------------------------------


def replied(*needles: str) -> Check:
    async def check(c: Cell) -> None:
        text = "\n".join(c.replies())
        assert text and all(n.format(n=c.n, org=ORG_AT[c.pos]) in text for n in needles), text

    return check


def document_to_asker(prefix: str, logged_as: str | None = None) -> Check:
    async def check(c: Cell) -> None:
        docs = [d for d in c.docs if d["chat_id"] == c.user["id"]]
        assert [d["file_name"].split("-")[0].split(".")[0] for d in docs] == [prefix], c.docs
        assert docs[0]["file_name"].endswith((".xlsx", ".json"))
        logged = await c.one(
            "SELECT action, detail FROM audit_log WHERE actor_id = ? ORDER BY id DESC LIMIT 1",
            c.user["id"],
        )
        assert logged is not None
        assert (
            logged[0] == "mydata"
            if prefix == "mydata"
            else (logged[0] == "export" and logged[1].split()[0] == (logged_as or prefix))
        ), tuple(logged)

    return check


async def bound_to_new(c: Cell) -> None:
    org = await c.tb.services.access.org_of_chat(c.chat_id)
    assert org.code == "yanshan.dabu.cun"


async def unbound(c: Cell) -> None:
    assert (
        await c.one(
            "SELECT org_id FROM chats WHERE id = ? AND org_id IS NOT NULL AND active = 1", c.chat_id
        )
        is None
    )
    assert c.replies()


async def org_shown(c: Cell) -> None:
    name = (await c.tb.services.tower.org_by_code(ORG_AT[c.pos])).name
    assert any(name in r for r in c.replies()), c.replies()


async def org_added(c: Cell) -> None:
    code = f"{ORG_AT[c.pos]}.x{c.n}"
    row = await c.one("SELECT parent_id FROM orgs WHERE code = ?", code)
    assert row is not None and row[0] == await c.org_id(ORG_AT[c.pos])
    assert any(code in r for r in c.replies())


async def role_granted(c: Cell) -> None:
    org = await c.tb.services.tower.org_by_code(ORG_AT[c.pos])
    assert await c.tb.services.access.role_at(c.cast["target"]["id"], org) == "secretary"


async def lang_set(c: Cell) -> None:
    assert await c.tb.services.people.lang(c.user["id"], None) == "en"
    assert c.replies() == [CATALOGUES["en"]["lang_set"]]


async def activity_posted(c: Cell) -> None:
    row = await c.one(
        "SELECT a.id, o.code FROM activities a JOIN orgs o ON o.id = a.org_id WHERE a.title = ?",
        f"活动{c.n}",
    )
    assert row is not None and row[1] == ORG_AT[c.pos]
    card = await c.one(
        "SELECT 1 FROM activity_cards WHERE activity_id = ? AND chat_id = ? AND kind = 'card'",
        row[0],
        c.chat_id,
    )
    assert card is not None


async def checkin_open(c: Cell) -> None:
    card = await c.one(
        "SELECT 1 FROM activity_cards WHERE activity_id = ? AND chat_id = ? AND kind = 'checkin'",
        c.cast["act"],
        c.chat_id,
    )
    assert card is not None and any(TITLE in r for r in c.replies())


async def activity_edited(c: Cell) -> None:
    row = await c.one("SELECT place, edits FROM activities WHERE id = ?", c.cast["act"])
    assert row[0] == f"新地点{c.n}" and row[1] >= 1
    assert any("已修改" in r for r in c.replies())


def series_changed(status: str, place: str) -> Check:
    async def check(c: Cell) -> None:
        rows = await c.tb.db.fetchall(
            "SELECT status, place FROM activities WHERE series_id ="
            " (SELECT series_id FROM activities WHERE id = ?)",
            (c.cast["series"],),
        )
        want = (status, place.format(n=c.n))
        assert len(rows) == 2 and all(tuple(r) == want for r in rows), rows

    return check


async def closed(c: Cell) -> None:
    act = c.cast["closing"]
    row = await c.one("SELECT status FROM activities WHERE id = ?", act)
    assert row[0] == "closed"
    credited = await c.one(
        "SELECT status FROM hour_entries WHERE source = ? AND user_id = ?",
        f"activity:{act}",
        c.cast["member"]["id"],
    )
    assert credited is not None and credited[0] == "approved"


async def hours_logged(c: Cell) -> None:
    row = await c.one(
        "SELECT status, quarters FROM hour_entries WHERE user_id = ? AND description = ?",
        c.user["id"],
        f"服务{c.n}",
    )
    assert tuple(row) == ("pending", 6)


async def pending_listed(c: Cell) -> None:
    entry = c.cast["entry"]
    sees_branch = c.pos != "sibling" and rank_at(c.role, "yanshan.dabu") >= 1
    text = "\n".join(c.replies())
    assert text and bool(re.search(rf"#{entry}\b", text)) == sees_branch, text


async def campaign_created(c: Cell) -> None:
    row = await c.one(
        "SELECT c.id, o.code FROM campaigns c JOIN orgs o ON o.id = c.org_id WHERE c.title = ?",
        f"述职{c.n}",
    )
    assert row is not None and row[1] == ORG_AT[c.pos]
    owed = await c.one("SELECT COUNT(*) FROM campaign_orgs WHERE campaign_id = ?", row[0])
    assert owed[0] >= 1


async def announced(c: Cell) -> None:
    row = await c.one("SELECT id FROM announcements WHERE text LIKE ?", f"%通知{c.n}%")
    assert row is not None
    await c.tb.drain(5)
    assert any(f"通知{c.n}" in t for t in c.tb.texts(c.chat_id))


async def chart_posted(c: Cell) -> None:
    """A PNG in the chat, or (nothing below to compare, no approved hours yet) the same in
    words: an empty chart says nothing (issue "For real people", charts)."""
    photos = [d for d in c.docs if d["chat_id"] == c.chat_id and d["kind"] == "photo"]
    if photos:
        assert len(photos) == 1 and photos[0]["bytes"][:4] == b"\x89PNG"
        return
    lang = "en" if c.role == "secretary_sibling" else "zh"
    words = [
        pattern_of(CATALOGUES[lang][k]) for k in ("chart_empty_hours", "chart_empty_no_children")
    ]
    assert any(w.match(r) for w in words for r in c.replies()), c.replies()


async def submit_offered(c: Cell) -> None:
    """The report is asked for (one owing org) or the org to report for is offered (several)."""
    sent = [s for s in c.answers if s.chat_id == c.chat_id]
    assert sent and (
        "一季度述职" in (sent[-1].text or "")
        or f"sub:{c.cast['camp']}" in str(sent[-1].reply_markup)
    ), sent


async def profile_shown(c: Cell) -> None:
    text = "\n".join(c.replies())
    if registered(c.role):
        name = await c.one("SELECT real_name FROM people WHERE user_id = ?", c.user["id"])
        assert name[0] in text, text
    else:
        # the unregistered are told how to register, and their own id (for TOWERBOT_SUPERUSERS)
        assert "你还没有注册" in text and str(c.user["id"]) in text, text


async def consent_recorded(c: Cell) -> None:
    """The waiting minor's paper consent, recorded by the presser for the branch, and said."""
    row = await c.one(
        "SELECT org_id, method, guardian_id, recorded_by FROM guardian_consents WHERE minor_id = ?",
        c.cast["minor"]["id"],
    )
    assert row is not None and tuple(row) == (
        await c.org_id("yanshan.dabu"),
        "paper",
        None,
        c.user["id"],
    )
    assert c.replies() == [CATALOGUES["zh"]["guard_paper_done"]], c.replies()


async def forget_asked(c: Cell) -> None:
    sent = [s for s in c.answers if s.chat_id == c.chat_id]
    assert sent and "forget:y" in str(sent[-1].reply_markup)


# --- undo steps -------------------------------------------------------------------------------


async def rebind(tb: Harness, cast: dict, role: str, pos: str, n: int) -> None:
    if pos == "private":
        return
    await tb.send(cast["superuser"], cast[pos], "/unbind")  # from cun, or a no-op
    await tb.send(cast["superuser"], cast[pos], f"/bind {ORG_AT[pos]}")
    assert (await tb.services.access.org_of_chat(cast[pos]["id"])).code == ORG_AT[pos]


async def unbind_first(tb: Harness, cast: dict, role: str, pos: str, n: int) -> None:
    if pos != "private":
        await tb.send(cast["superuser"], cast[pos], "/unbind")


async def unrole(tb: Harness, cast: dict, role: str, pos: str, n: int) -> None:
    await tb.send(cast["superuser"], cast[pos], "/role member @duixiang")


async def back_to_zh(tb: Harness, cast: dict, role: str, pos: str, n: int) -> None:
    await tb.send(
        cast[role],
        None if pos == "private" else cast[pos],
        "/lang en" if role == "secretary_sibling" else "/lang zh",
    )


async def cancel_flow(tb: Harness, cast: dict, role: str, pos: str, n: int) -> None:
    await tb.send(cast[role], None, "/cancel")


async def fresh_activity(tb: Harness, cast: dict, role: str, pos: str, n: int) -> int:
    """A branch activity starting soon with the member signed up and checked in."""
    boss, here, member = cast["superuser"], cast["here"], cast["member"]
    sent = await tb.send(boss, here, f"/activity 结束{n} | {soon()} | 1.5 | 5 | 村委")
    card = next(s for s in sent if "act:" in str(s.reply_markup))
    act = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    await tb.press(member, card, f"act:{act}:join")
    # the check-in message by its button: a notice from the outbox may land in between
    sent = await tb.send(boss, here, f"/checkin {act}")
    button = with_button(sent, f"act:{act}:in")
    await tb.press(member, button, f"act:{act}:in")
    cast["closing"] = act
    return act


async def fresh_series(tb: Harness, cast: dict, role: str, pos: str, n: int) -> int:
    """A branch series of two occurrences a week apart: the first one's id."""
    start = ahead(60 * 24 * 60)
    day = datetime.strptime(start, "%Y-%m-%d %H:%M").date()
    line = f"系列{n} | {start} | 1 | 5 | 村委 | dates {day},{day + timedelta(days=7)}"
    await tb.send(cast["superuser"], cast["here"], f"/activity {line}")
    row = await tb.db.fetchone("SELECT MIN(id) FROM activities WHERE title = ?", (f"系列{n}",))
    cast["series"] = int(row[0])
    return int(row[0])


async def waiting_minor(tb: Harness, cast: dict, role: str, pos: str, n: int) -> str:
    """A new under-14 registrant of the branch, waiting at the guardian step: their token."""
    minor = tb.em.add_user(f"少年{n}")
    await tb.send(minor, None, "/start join_yanshan-dabu")
    sent = await tb.press(minor, tb.em.messages_to(minor["id"])[-1], "reg:age:y")
    match = re.search(r"start=guard_([A-Za-z0-9_-]+)", sent[-1].text or "")
    assert match, [s.text for s in sent]
    cast["minor"] = minor
    return match.group(1)


def ahead(minutes: int) -> str:
    """'YYYY-MM-DD HH:MM', `minutes` from now (whole minutes) in the configured zone."""
    return datetime.fromtimestamp((int(time.time()) // 60 + minutes) * 60, Settings().tz).strftime(
        "%Y-%m-%d %H:%M"
    )


def soon() -> str:
    return ahead(30)


ANYONE_IN_GROUP = in_group(None)


def ann_changer(role: str, pos: str) -> str | None:
    """/announce edit | recall | cancel of the branch's announcement (posted by the superuser):
    its author or staff of the branch (or above), from any group."""
    if pos == "private":
        return "err_group_only"
    return None if rank_at(role, "yanshan.dabu") >= RANK["staff"] else "err_ann_not_yours"


async def fresh_announcement(tb: Harness, cast: dict, role: str, pos: str, n: int) -> int:
    """An announcement of the branch, posted by the superuser (to be recalled)."""
    await tb.send(cast["superuser"], cast["here"], f"/announce 撤回{n}")
    cast["act_ann"] = int((await tb.db.fetchone("SELECT MAX(id) FROM announcements"))[0])
    return cast["act_ann"]


async def fresh_scheduled(tb: Harness, cast: dict, role: str, pos: str, n: int) -> int:
    """A scheduled announcement of the branch, by the superuser (to be cancelled)."""
    await tb.send(cast["superuser"], cast["here"], f"/announce at {ahead(600)} | 定时{n}")
    cast["act_ann"] = int((await tb.db.fetchone("SELECT MAX(id) FROM announcements"))[0])
    return cast["act_ann"]


def ann_status(status: str) -> Check:
    async def check(c: Cell) -> None:
        row = await c.one("SELECT status FROM announcements WHERE id = ?", c.cast["act_ann"])
        assert row is not None and row[0] == status, row
        assert c.replies()

    return check


async def scheduled_announced(c: Cell) -> None:
    row = await c.one("SELECT status FROM announcements WHERE text = ?", f"定时通知{c.n}")
    assert row is not None and row[0] == "scheduled"
    assert any("#" in r for r in c.replies())


def branch_organiser(role: str, pos: str) -> str | None:
    """/attendance of the branch's activity: its secretaries and staff (or above), from any
    chat (the roster always goes to their private chat)."""
    return None if rank_at(role, "yanshan.dabu") >= 1 else "err_need_secretary"


def branch_revoker(role: str, pos: str) -> str | None:
    """/hours revoke of a branch member's approved entry: privately, by the branch's
    secretaries and staff (or above)."""
    if pos != "private":
        return "err_private_only"
    return branch_organiser(role, pos)


async def roster_sent(c: Cell) -> None:
    """The roster of the branch's activity, in the asker's private chat only."""
    private = [s.text or "" for s in c.answers if s.chat_id == c.user["id"]]
    assert any("点名" in t and TITLE in t for t in private), private
    assert not any(TITLE in (s.text or "") for s in c.answers if s.chat_id < 0)


async def approved_entry(tb: Harness, cast: dict, role: str, pos: str, n: int) -> int:
    """A fresh approved entry of the branch's member (credited by the superuser)."""
    org = await tb.services.tower.org_by_code("yanshan.dabu")
    async with tb.db.transaction() as tx:
        cast["revoking"] = await tb.services.hours.credit(
            tx,
            user_id=cast["member"]["id"],
            org_id=org.id,
            hours=1,
            served_on=tb.services.hours.today().isoformat(),
            description=f"撤销{n}",
            source="self",
            by=cast["superuser"]["id"],
        )
    return cast["revoking"]


async def revoked(c: Cell) -> None:
    row = await c.one(
        "SELECT status, revoked_by FROM hour_entries WHERE id = ?", c.cast["revoking"]
    )
    assert tuple(row) == ("revoked", c.user["id"]), tuple(row)
    assert any("已撤销时长" in r for r in c.replies()), c.replies()


SECRETARY = in_group("secretary")
STAFF = in_group("staff")


def nobody(key: str) -> Expect:
    return lambda role, pos: key if pos != "private" else "err_group_only"


def bind_expect(role: str, pos: str) -> str | None:
    if pos == "private":
        return "err_group_only"
    return None if rank_at(role, "yanshan.dabu.cun") >= 2 else "err_need_staff"


def setup_expect(role: str, pos: str) -> str | None:
    if pos == "private":
        return "err_group_only"
    return "err_already_setup" if role == "superuser" else "err_need_superuser"


def submit_expect(role: str, pos: str) -> str | None:
    """The campaign is owed by both branches: anyone with a role at or above one may submit."""
    if pos != "private":
        return "err_submit_private"
    return None if GRANTS[role][0] else "err_sub_not_owed"


def deadline(need: str) -> Expect:
    group = in_group(need)
    return lambda role, pos: "err_deadline_group" if pos == "private" else group(role, pos)


def review_expect(role: str, pos: str) -> str | None:
    """/review: in private only (scores are never shown in a group), by the campaign's creator
    (the superuser here; its review has not been opened, so that is the answer)."""
    if pos != "private":
        return "err_rv_private"
    return "err_rv_not_open" if role == "superuser" else "err_rv_not_creator"


def consent_expect(role: str, pos: str) -> str | None:
    """/consent: in a group, by a secretary or staff of the chat's org, for a registrant of
    that org or below (the minor joins the branch: never from the sibling's chat)."""
    if pos == "sibling" and SECRETARY(role, pos) is None:
        return "err_need_secretary"  # may act there, but the minor is not theirs
    return SECRETARY(role, pos)


def campaign_export(role: str, pos: str) -> str | None:
    """The district's campaign: its secretaries and staff, from any chat."""
    return None if rank_at(role, "yanshan") >= 1 else "err_need_secretary"


def subtree_export(role: str, pos: str) -> str | None:
    if pos == "private":
        return None if GRANTS[role][0] else "err_need_secretary"
    return approver(role, pos)


def staff_export(role: str, pos: str) -> str | None:
    """/export training and cadres: staff of the chat's org, or in private of their own top orgs."""
    if pos == "private":
        return None if GRANTS[role][0] == "staff" else "err_need_staff"
    return None if rank_at(role, ORG_AT[pos]) >= RANK["staff"] else "err_need_staff"


def own_record(role: str, pos: str) -> str | None:
    """/export myhours: a registered person's own record, sent privately from anywhere."""
    return None if registered(role) else "err_not_registered"


def request_expect(role: str, pos: str) -> str | None:
    """/request: privately, by a secretary of an org that has an org above it."""
    if pos != "private":
        return "err_req_private"
    if GRANTS[role][0] != "secretary":
        return "err_req_not_secretary"
    return "err_req_no_above" if GRANTS[role][1] == "yanshan" else None


def requests_expect(role: str, pos: str) -> str | None:
    """/requests: privately, by staff (open requests to them) or secretaries (their own)."""
    if pos != "private":
        return "err_req_private"
    return None if GRANTS[role][0] else "err_req_no_role"


async def request_sent(c: Cell) -> None:
    row = await c.one(
        "SELECT text, to_org_id FROM requests WHERE requester_id = ? ORDER BY id DESC LIMIT 1",
        c.user["id"],
    )
    assert row and row["text"] == f"请示{c.n}", row
    assert row["to_org_id"] == await c.org_id("yanshan")


def auditlog_expect(role: str, pos: str) -> str | None:
    """Staff read the audit log of the chat's org, or in private of their own top orgs."""
    if pos == "private":
        return None if GRANTS[role][0] == "staff" else "err_need_staff"
    return STAFF(role, pos)


MATRIX: list[Row] = [
    Row("/setup x{n} 新区{n}", setup_expect, replied()),
    # the chat is unbound first (a bound chat must /unbind before it is bound elsewhere)
    Row(
        "/bind yanshan.dabu.cun",
        bind_expect,
        bound_to_new,
        prepare=unbind_first,
        undo=rebind,
        always_undo=True,
    ),
    Row("/unbind", STAFF, unbound, undo=rebind),
    Row("/org", ANYONE_IN_GROUP, org_shown),
    Row("/org add {org}.x{n} 新组织{n}", STAFF, org_added),
    Row("/role secretary @duixiang", STAFF, role_granted, undo=unrole),
    Row("/start", in_private(False), replied()),
    Row("/register", in_private(False), replied(), undo=cancel_flow),
    Row("/cancel", in_private(False), replied()),
    Row("/me", in_private(False), profile_shown),
    Row("/forgetme", in_private(False), forget_asked),
    # private only: a group gets the button to the private chat instead
    Row(
        "/lang en",
        lambda role, pos: None if pos == "private" else "err_private_only",
        lang_set,
        undo=back_to_zh,
    ),
    Row("/help", lambda role, pos: None, replied("/")),
    Row("/activity 活动{n} | {due} | 2 | 20 | 青少年之家", SECRETARY, activity_posted),
    Row("/activities", ANYONE_IN_GROUP, replied()),
    Row("/checkin {act}", at_branch_activity, checkin_open),
    Row("/activity edit {act} | 地点 新地点{n}", at_branch_activity, activity_edited),
    Row("/attendance {act}", branch_organiser, roster_sent),
    Row("/close {act}", at_branch_activity, closed, prepare=fresh_activity),
    Row(
        "/activity edit {act} all | 地点 新地点{n}",
        at_branch_activity,
        series_changed("open", "新地点{n}"),
        prepare=fresh_series,
    ),
    Row(
        "/activity cancel {act} 全部",
        at_branch_activity,
        series_changed("cancelled", "村委"),
        prepare=fresh_series,
    ),
    Row("/hours 1.5 服务{n}", in_private(True), hours_logged),
    Row("/hours revoke {act} 理由{n}", branch_revoker, revoked, prepare=approved_entry),
    Row("/myhours", in_private(False), replied()),
    Row("/pending", approver, pending_listed),
    Row("/export hours", approver, document_to_asker("hours")),
    Row("/export members", subtree_export, document_to_asker("members")),
    Row("/export activities", subtree_export, document_to_asker("activities")),
    Row("/export campaign {camp}", campaign_export, document_to_asker("campaign")),
    Row("/export training", staff_export, document_to_asker("training")),
    Row("/export cadres", staff_export, document_to_asker("cadres")),
    Row("/export myhours", own_record, document_to_asker("service", "myhours")),
    Row("/deadline new 述职{n} | {due}", deadline("staff"), campaign_created),
    Row("/deadline status", deadline("secretary"), replied()),
    Row("/deadline list", deadline("secretary"), replied()),
    Row("/submit {camp}", submit_expect, submit_offered, undo=cancel_flow),
    Row("/request 请示{n}", request_expect, request_sent),
    Row("/requests", requests_expect, replied()),
    Row("/review status {camp}", review_expect, replied()),
    Row("/review close {camp}", review_expect, replied()),
    # before /announce posts more: the latest of the branch's subtree is the cast's one
    Row("/announce status", branch_board, replied("（大埠乡团委）")),
    Row("/announce 通知{n}", STAFF, announced),
    Row("/announce at {due} | 定时通知{n}", STAFF, scheduled_announced),
    Row("/announce scheduled", ANYONE_IN_GROUP, replied()),
    Row("/announce edit {ann} | 更正{n}", ann_changer, replied("已更正")),
    Row("/announce recall {act}", ann_changer, ann_status("recalled"), prepare=fresh_announcement),
    Row("/announce cancel {act}", ann_changer, ann_status("cancelled"), prepare=fresh_scheduled),
    Row("/stats", SECRETARY, replied()),
    Row("/cadres", STAFF, replied("配备率")),
    Row("/chart hours", SECRETARY, chart_posted),
    Row("/chart coverage", SECRETARY, chart_posted),
    Row("/chart tower", SECRETARY, chart_posted),
    Row("/dashboard", dashboard_expect, replied()),
    # a stranger gets what is kept about them too (their Telegram identity, their language)
    Row("/mydata", in_private(False), document_to_asker("mydata")),
    Row("/auditlog", auditlog_expect, replied("最近 20 条")),
    Row("/audit", auditlog_expect, replied("最近 20 条")),  # the same list, the name
    # a fresh minor per cell (prepare returns their token); last: the minors stay mid-register
    Row("/consent {act}", consent_expect, consent_recorded, prepare=waiting_minor),
]


def registered_commands(app: Any) -> set[str]:
    return {
        command
        for handlers in app.handlers.values()
        for h in handlers
        if isinstance(h, CommandHandler)
        for command in h.commands
    }


async def build_cast(tb: Harness) -> dict:
    w = await build_tower(tb)
    em = tb.em
    em.limits = False
    boss, root, chat_a, chat_b = w["boss"], w["root"], w["chat_a"], w["chat_b"]
    groups = (root, chat_a, chat_b)
    people = {
        "staff_here": ("本级干部", "yanshan.dabu", chat_a, "staff"),
        "staff_above": ("区团委干部", "yanshan", root, "staff"),
        "staff_elsewhere": ("街道干部", "yanshan.jiedao", chat_b, "staff"),
        "secretary_above": ("区团委书记", "yanshan", root, "secretary"),
        "target": ("对象", "yanshan.dabu", None, None),
    }
    cast = {
        "superuser": boss,
        "secretary_here": w["sec_a"],
        "secretary_sibling": w["member_b"],
        "member": w["member_a"],
        "stranger": w["outsider"],
        "here": chat_a,
        "parent": root,
        "sibling": chat_b,
    }
    for key, (name, code, _, _) in people.items():
        cast[key] = em.add_user(name, username="duixiang" if key == "target" else None)
        await register(tb, cast[key], name, code)
    for user in [v for k, v in cast.items() if k in ROLES or k == "target"]:
        for group in groups:
            em.set_member(group["id"], user["id"], "member")
    # /bind and /unbind also need the chat's admin (as Telegram says): staff administer the groups
    for key in ("staff_here", "staff_above", "staff_elsewhere"):
        for group in groups:
            em.set_member(group["id"], cast[key]["id"], "administrator")
    for key, (_, _, chat, role) in people.items():
        if role:
            said = em.text(cast[key], chat, "报到")["message"]
            await tb.send(boss, chat, f"/role {role}", reply_to=said)
    said = em.text(w["member_b"], chat_b, "hi")["message"]
    await tb.send(boss, chat_b, "/role secretary", reply_to=said)
    await tb.send(w["outsider"], None, "/start")  # so exports could reach them privately
    # everyone has spoken in every group: being seen in a chat for the first time is recorded
    # (member coverage), which is the message's doing, not the command's
    for user in [v for k, v in cast.items() if k in ROLES]:
        for group in groups:
            await tb.send(user, group, "在")
    # what the rows act on: a child org without a chat, a campaign owed by both branches, an
    # announcement in the branch, a pending entry of its member, an activity starting soon
    await tb.send(boss, chat_a, "/org add yanshan.dabu.cun 大埠村团支部")
    await tb.send(boss, root, f"/deadline new 一季度述职 | {ahead(90 * 24 * 60)}")
    cast["camp"] = int((await tb.db.fetchone("SELECT MAX(id) FROM campaigns"))[0])
    await tb.send(boss, chat_a, "/announce 本周例会")
    cast["ann"] = int((await tb.db.fetchone("SELECT MAX(id) FROM announcements"))[0])
    await tb.send(w["member_a"], None, "/hours 2 七彩四点半")
    cast["entry"] = int((await tb.db.fetchone("SELECT MAX(id) FROM hour_entries"))[0])
    await tb.send(boss, chat_a, f"/activity {TITLE} | {soon()} | 2 | 20 | 青少年之家")
    cast["act"] = int((await tb.db.fetchone("SELECT MAX(id) FROM activities"))[0])
    await settle(tb)  # the start-up catch-up of the weekly digest included
    await tb.services.hours.weekly_digest()  # the approvers named since: theirs now, not mid-cell
    await settle(tb)
    return cast


def refusal_texts(key: str) -> tuple[str, ...]:
    """The catalogue keys a refusal may be answered with: a private-only command used in a group
    is answered with the button to the private chat (handlers/common.PRIVATE_REFUSALS)."""
    return (key, "guide_private_only") if key in PRIVATE_REFUSALS else (key,)


async def run_row(tb: Harness, cast: dict, row: Row, counter: itertools.count) -> list[str]:
    problems = []
    for role, pos in itertools.product(ROLES, POSITIONS):
        n = next(counter)
        user = cast[role]
        chat = None if pos == "private" else cast[pos]
        try:
            act = await row.prepare(tb, cast, role, pos, n) if row.prepare else cast["act"]
        except Exception as exc:  # noqa: BLE001 - a broken world is one more problem to report
            problems.append(f"{role} {row.text!r} in {pos}: could not prepare: {exc!r}")
            continue
        text = row.text.format(
            n=n,
            org=ORG_AT[pos],
            act=act,
            camp=cast["camp"],
            ann=cast["ann"],
            due=ahead(60 * 24 * 60),
        )
        await settle(tb)
        before = dump(tb.settings.db)
        mark, docs = len(tb.em.sent), len(tb.em.documents)
        outcome = await run_through_processor(tb, tb.em.text(user, chat, text))
        await settle(tb)
        cell = Cell(tb, cast, role, pos, n, tb.em.sent[mark:], tb.em.documents[docs:])
        want = row.expect(role, pos)
        where = f"{role} {text!r} in {pos}"
        if want is not None:
            lang = "en" if role == "secretary_sibling" else "zh"
            said = cell.replies()
            if outcome != f"refused:{want}":
                problems.append(f"{where}: expected refused:{want}, got {outcome} {said}")
            elif not (
                len(said) == 1
                and any(
                    pattern_of(CATALOGUES[lang][key]).match(said[0]) for key in refusal_texts(want)
                )
            ):
                problems.append(f"{where}: refusal answer {said}")
            elif (after := dump(tb.settings.db)) != before:
                diff = sorted(set(after) ^ set(before))[:4]
                problems.append(f"{where}: refused but the database changed: {diff}")
            # wrongly allowed, or prepared for: put the world back so later cells stay honest
            if row.undo and (row.always_undo or outcome == "ok"):
                await row.undo(tb, cast, role, pos, n)
            continue
        if outcome != "ok":
            problems.append(f"{where}: expected it to happen, got {outcome} {cell.replies()}")
        else:
            try:
                await row.check(cell)
            except Exception as exc:  # noqa: BLE001 - every cell is reported, not the first
                problems.append(f"{where}: did not happen: {exc} {cell.replies()}")
        if row.undo:
            await row.undo(tb, cast, role, pos, n)
    return problems


async def test_every_registered_command_has_a_row(tb: Harness) -> None:
    missing = registered_commands(tb.app) - {row.command for row in MATRIX}
    assert missing == set(), f"commands without a row in the authorization matrix: {missing}"


async def test_authorization_matrix(tb: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """One cast for every row (each allowed cell undoes what it changed that others read)."""
    # about who may do what, not Telegram's pacing (test_outbox holds the sender to it): no
    # 1 s per chat, no 20 per minute per group, or a thousand cells would wait for minutes
    monkeypatch.setattr(pacing.GroupLimit.__init__, "__defaults__", (10_000, 60.0, 0.0))
    for name, value in (("GROUP_EDITS", 10_000), ("COPY_INTERVAL", 0.05), ("FIRST_DELAY", 0.05)):
        monkeypatch.setattr(CardEditor, name, value)
    tb.services.sender.chat_interval = 0.0
    cast = await build_cast(tb)
    counter = itertools.count()
    problems = []
    for row in MATRIX:
        problems += await run_row(tb, cast, row, counter)
    assert problems == [], "\n".join(problems)


def test_update_log_line_has_no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    """The one line per update names the command word and outcome, never names or text."""
    from telegram import Update

    from bot.emulator import Emulator

    em = Emulator()
    user = em.add_user("真名测试", last_name="王", username="secret_handle")
    update = Update.de_json(em.text(user, None, "/hours 2 帮助张三李四 13800001111"), None)
    caplog.set_level("INFO", logger="towerbot.updates")
    with UpdateLog(update) as entry:
        entry.box[0] = "ok"
    line = caplog.records[-1].getMessage()
    assert "command=/hours" in line and "outcome=ok" in line
    for secret in ("真名测试", "王", "secret_handle", "张三", "13800001111", "帮助"):
        assert secret not in line
