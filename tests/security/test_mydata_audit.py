"""/mydata sends a person their records; exports and role changes land in the audit log."""

from __future__ import annotations

import json
from datetime import datetime

from tests.conftest import Harness, build_tower
from tests.test_activities import TZ, create, when


async def test_mydata_is_a_private_json_of_everything(tb: Harness) -> None:
    t = await build_tower(tb)
    ma = t["member_a"]
    await tb.send(ma, None, "/hours 2 七彩四点半")
    refused = await tb.send(ma, t["chat_a"], "/mydata")
    assert "私聊" in refused[0].text
    # sign-ups say their post and its shift (none without posts)
    nxt, ts = when(2 * 86400)
    posts, card = await create(
        tb,
        t["sec_a"],
        t["chat_a"],
        f"运动会 | {nxt} | 2 | - | 体育场 | 岗位 引导 2, 检票 2 13:00-16:00",
    )
    await tb.press(ma, card, f"act:{posts}:join:2")
    plain, card = await create(tb, t["sec_a"], t["chat_a"], f"读书会 | {nxt} | 1 | 5 | 书屋")
    await tb.press(ma, card, f"act:{plain}:join")
    sent = await tb.send(ma, None, "/mydata")
    assert sent[0].text
    await tb.drain()
    doc = next(d for d in reversed(tb.em.documents) if d["chat_id"] == ma["id"])
    assert doc["file_name"] == "mydata.json"
    data = json.loads(doc["bytes"])
    assert data["telegram_id"] == ma["id"] and data["person"][0]["real_name"] == "陈小红"
    assert data["person"][0]["consent_at"] and data["user"][0]["username"] == "xiaohong"
    assert data["hours"][0]["description"] == "七彩四点半"
    day = datetime.fromtimestamp(ts, TZ).date()
    shift = datetime(day.year, day.month, day.day, 13, 0, tzinfo=TZ).timestamp()
    signups = {s["activity_id"]: s for s in data["signups"]}
    assert set(signups) == {posts, plain}
    got = signups[posts]
    assert (got["post_no"], got["post"], got["status"]) == (2, "检票", "confirmed")
    assert (got["shift_start"], got["shift_end"]) == (shift, shift + 3 * 3600)
    assert [signups[plain][k] for k in ("post_no", "post", "shift_start")] == [None] * 3
    for section in ("roles", "signups", "submissions", "acknowledgements"):
        assert section in data
    # the file left the database once delivered
    row = await tb.db.fetchone("SELECT payload FROM outbox WHERE ref = 'mydata'")
    assert row["payload"] == "{}"


async def test_exports_and_role_changes_are_logged_for_staff(tb: Harness) -> None:
    t = await build_tower(tb)
    boss, root, chat_a = t["boss"], t["root"], t["chat_a"]
    await tb.send(boss, root, "/export members")
    await tb.send(t["sec_a"], chat_a, "/export hours")
    said = tb.em.text(t["member_a"], chat_a, "hi")["message"]
    await tb.send(boss, chat_a, "/role staff", reply_to=said)
    await tb.send(t["member_b"], None, "/mydata")
    rows = await tb.db.fetchall(
        "SELECT actor_id, action, detail, target_id FROM audit_log ORDER BY id"
    )
    assert [(r["action"], r["detail"]) for r in rows][-4:] == [
        ("export", "members"),
        ("export", "hours"),
        ("role", "staff"),
        ("mydata", "json"),
    ]
    await tb.drain()

    async def ask(user: dict, chat: dict | None, text: str) -> str:
        await tb.send(user, chat, text)
        return tb.last_text((chat or user)["id"])

    listing = await ask(boss, root, "/auditlog 10")
    assert "members" in listing and "staff" in listing and "json" in listing
    assert "陈小红" not in listing  # ids only, never names
    branch = await ask(boss, chat_a, "/auditlog")
    assert "members" not in branch and "hours" in branch  # the branch's own subtree
    assert "staff" in await ask(t["member_b"], None, "/auditlog")
    assert "/auditlog" in await ask(boss, root, "/auditlog lots")
