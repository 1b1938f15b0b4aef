"""The authorization matrix as one table: command × role × position in the tree.

Each row names a command, the chat it is sent in, and the roles allowed to run it there. Every
other role must be refused for lack of a role (a `refused:err_need_*`-style outcome in the
update log) and the database must not change; allowed roles must not be refused for their role.
"""

from __future__ import annotations

import itertools

import pytest

from bot.logs import UpdateLog
from tests.conftest import Harness, build_tower, register
from tests.test_abuse import dump, run_through_processor

ROLES = ["outsider", "member", "secretary_here", "secretary_other", "staff_above", "superuser"]
ROLE_REFUSALS = ("refused:err_need_", "refused:err_hours_not_approver")

# (command, where, roles allowed). 'here' is the dabu branch chat; 'root' the district chat.
MATRIX = [
    ("/org add yanshan.dabu.x{n} 新支部{n}", "here", {"staff_above", "superuser"}),
    ("/org add yanshan.x{n} 新组织{n}", "root", {"staff_above", "superuser"}),
    ("/unbind", "here", {"staff_above", "superuser"}),
    ("/pending", "here", {"secretary_here", "staff_above", "superuser"}),
    ("/stats", "here", {"secretary_here", "staff_above", "superuser"}),
    ("/stats", "root", {"staff_above", "superuser"}),
    ("/deadline list", "here", {"secretary_here", "staff_above", "superuser"}),
    ("/deadline new 述职{n} | 2099-12-01 18:00", "here", {"staff_above", "superuser"}),
    ("/announce 通知{n}", "here", {"staff_above", "superuser"}),
    # the board of the branch's latest announcement: its secretary may watch it too
    ("/announce status", "here", {"secretary_here", "staff_above", "superuser"}),
    ("/activity 活动{n} | 2099-12-01 16:30 | 2 | 20 | 青少年之家", "here",
     {"secretary_here", "staff_above", "superuser"}),
    ("/activity 活动{n} | 2099-12-01 16:30 | 2 | 20 | 青少年之家", "root",
     {"staff_above", "superuser"}),
    ("/role member @xiaohong", "here", {"staff_above", "superuser"}),  # keeps her a member
    ("/export members", "here", {"secretary_here", "staff_above", "superuser"}),
]


@pytest.fixture
async def cast(tb: Harness) -> dict:
    w = await build_tower(tb)
    em = tb.em
    em.limits = False
    staff = em.add_user("干部", username="ganbu")
    em.set_member(w["root"]["id"], staff["id"], "member")
    # /bind and /unbind also need the chat's admin (Telegram's word): staff above administers it
    em.set_member(w["chat_a"]["id"], staff["id"], "administrator")
    await register(tb, staff, "区团委干部", "yanshan")
    said = em.text(staff, w["root"], "报到")["message"]
    await tb.send(w["boss"], w["root"], "/role staff", reply_to=said)
    said = em.text(w["member_b"], w["chat_b"], "hi")["message"]
    await tb.send(w["boss"], w["chat_b"], "/role secretary", reply_to=said)
    for user in (w["member_b"], w["outsider"]):
        em.set_member(w["chat_a"]["id"], user["id"], "member")
        em.set_member(w["root"]["id"], user["id"], "member")
    await tb.send(w["outsider"], None, "/start")  # so exports could reach them privately
    await tb.drain(5)
    return {
        "outsider": w["outsider"], "member": w["member_a"], "secretary_here": w["sec_a"],
        "secretary_other": w["member_b"], "staff_above": staff, "superuser": w["boss"],
        "here": w["chat_a"], "root": w["root"],
    }


async def test_authorization_matrix(tb: Harness, cast: dict) -> None:
    counter = itertools.count()
    problems = []
    for (command, where, allowed), role in itertools.product(MATRIX, ROLES):
        text = command.format(n=next(counter))
        await tb.drain(5)
        before = dump(tb.settings.db)
        outcome = await run_through_processor(tb, tb.em.text(cast[role], cast[where], text))
        refused = outcome.startswith(ROLE_REFUSALS)
        if role in allowed and (refused or outcome.startswith("error")):
            problems.append(f"{role} was refused {text!r} in {where}: {outcome}")
        if role not in allowed:
            if not refused:
                problems.append(f"{role} was not refused {text!r} in {where}: {outcome}")
            elif dump(tb.settings.db) != before:
                problems.append(f"refusing {role} {text!r} in {where} changed the database")
        if text == "/unbind" and outcome == "ok":  # put the branch chat back for what follows
            await tb.send(cast["superuser"], cast["here"], "/bind yanshan.dabu")
    assert problems == []


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
