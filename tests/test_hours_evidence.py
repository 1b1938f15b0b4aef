"""Evidence for hours and revocation through the emulator: a photo sent with /hours (as its
caption, or /hours as a reply to it) that the approver sees before approving; the export's
evidence column; /hours revoke by a secretary of the subtree (the volunteer told), refused
outside it, for entries not approved, and for odd reasons."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from storage import hours as hours_repo
from tests.conftest import INTEGRITY_ERRORS, Harness, build_tower
from tests.helpers import with_button
from tests.test_activities import answers_since

pytestmark = pytest.mark.usefixtures("engine")


async def newest(tb: Harness, user: dict) -> int:
    row = await tb.db.fetchone("SELECT MAX(id) FROM hour_entries WHERE user_id = ?", (user["id"],))
    assert row and row[0]
    return int(row[0])


async def status(tb: Harness, entry_id: int) -> str:
    row = await tb.db.fetchone("SELECT status FROM hour_entries WHERE id = ?", (entry_id,))
    return str(row[0])


async def approve(tb: Harness, approver: dict, entry_id: int) -> None:
    listing = with_button(await tb.send(approver, None, "/pending"), f"hrs:ok:{entry_id}:0")
    await tb.press(approver, listing, f"hrs:ok:{entry_id}:0")
    assert await status(tb, entry_id) == "approved"


async def test_photo_evidence_seen_by_the_approver(tb: Harness) -> None:
    t = await build_tower(tb)
    sec, member, em = t["sec_a"], t["member_a"], tb.em
    # a photo captioned /hours ...
    sent = await tb.deliver(em.photo(member, None, caption="/hours 2 七彩四点半 课堂辅导"))
    assert "已登记" in sent[0].text and "📷" in sent[0].text
    with_caption = await newest(tb, member)
    entry = await hours_repo.get(tb.db.reader, with_caption)
    assert entry.evidence == "photo" and entry.photo_file_id
    # /hours ... as a reply to a photo
    photo = em.photo(member, None)["message"]
    sent = await tb.send(member, None, "/hours 1.5 敬老院 陪伴", reply_to=photo)
    assert "📷" in sent[0].text
    replied = await newest(tb, member)
    assert replied != with_caption
    assert (await hours_repo.get(tb.db.reader, replied)).evidence == "photo"
    # a photo captioned /hours alone, and a photo with another caption: nothing logged
    sent = await tb.deliver(em.photo(member, None, caption="/hours"))
    assert "照片说明" in sent[0].text
    sent = await tb.deliver(em.photo(member, None, caption="看看这个"))
    assert sent and "已登记" not in (sent[0].text or "")
    await tb.send(member, None, "/hours 1 无照片")
    plain = await newest(tb, member)
    assert await newest(tb, member) == plain and plain != replied

    # the approver sees the photo: a button on the listing sends it privately
    listing = with_button(await tb.send(sec, None, "/pending"), f"hrs:ev:{with_caption}")
    assert "📷" in listing.text
    assert f"hrs:ev:{plain}" not in str(listing.reply_markup)  # no photo, no button
    docs = len(em.documents)
    await tb.press(sec, listing, f"hrs:ev:{with_caption}")
    shown = em.documents[docs:]
    assert [(d["kind"], d["chat_id"]) for d in shown] == [("photo", sec["id"])]
    assert shown[0]["file_id"] == entry.photo_file_id[: len(shown[0]["file_id"])]
    assert f"#{with_caption}" in (shown[0]["caption"] or "")
    await approve(tb, sec, with_caption)

    # in a group, someone else pressing the evidence button gets a refusal and no photo
    listing = with_button(await tb.send(sec, t["chat_a"], "/pending"), f"hrs:ev:{replied}")
    docs, mark = len(em.documents), len(em.callback_answers)
    stranger = t["outsider"]
    em.set_member(t["chat_a"], stranger, "member")
    await tb.press(stranger, listing, f"hrs:ev:{replied}")
    assert em.documents[docs:] == []
    assert "书记或团干部" in answers_since(tb, mark)[0]["text"]
    await tb.press(sec, listing, f"hrs:ev:{replied}")
    assert [d["chat_id"] for d in em.documents[docs:]] == [sec["id"]]  # privately
    assert "私信" in answers_since(tb, mark)[-1]["text"]

    # /mydata carries the file ids
    docs = len(em.documents)
    await tb.send(member, None, "/mydata")
    await tb.drain()
    data = next(d for d in em.documents[docs:] if d["chat_id"] == member["id"])
    assert entry.photo_file_id in data["bytes"].decode()

    # the export says which entries have evidence
    docs = len(em.documents)
    await tb.send(sec, t["chat_a"], "/export hours")
    await tb.drain()
    ws = load_workbook(io.BytesIO(em.documents[docs:][-1]["bytes"])).worksheets[0]
    rows = {r[0]: r for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)}
    assert rows[with_caption][-1] == "照片" and rows[replied][-1] == "照片"
    assert rows[plain][-1] == "无"


async def test_revoke_by_a_secretary_of_the_subtree(tb: Harness) -> None:
    t = await build_tower(tb)
    sec, member, tom, boss = t["sec_a"], t["member_a"], t["member_b"], t["boss"]
    await tb.send(member, None, "/hours 3 社区清扫")
    entry_id = await newest(tb, member)
    await tb.send(tom, None, "/hours 2 敬老院")
    toms = await newest(tb, tom)
    await tb.send(member, None, "/hours 1 还没审核")
    pending = await newest(tb, member)
    await approve(tb, boss, entry_id)
    await approve(tb, boss, toms)
    assert (await tb.services.hours.summary(member["id"])).approved == 12
    await tb.drain()  # the approvals' notices land first, not among the answers below

    # odd input: one line each, nothing changes
    for text, words in (
        ("/hours revoke", "用法"),
        (f"/hours revoke {entry_id}", "撤销理由"),
        (f"/hours revoke {entry_id}    ", "撤销理由"),
        (f"/hours revoke {entry_id} " + "长" * 501, "太长"),
        (f"/hours revoke {entry_id} 理由\u202e反向", "不可见"),
        (f"/hours revoke {entry_id} 理由\u200b", "不可见"),
        ("/hours revoke abc 理由", "用法"),
        ("/hours revoke ٣ 理由", "0–9"),
        ("/hours revoke 999999 理由", "没有编号"),
        (f"/hours revoke {pending} 理由", "已通过的时长"),
        (f"/hours revoke {toms} 不是本组织", "书记或团干部"),
    ):
        sent = [s for s in await tb.send(sec, None, text) if s.chat_id == sec["id"]]
        assert len(sent) == 1 and words in sent[0].text, (text, sent[0].text)
        assert "\n" not in sent[0].text or words == "用法", sent[0].text
    assert await status(tb, entry_id) == "approved" and await status(tb, toms) == "approved"
    # a member may not revoke at all
    sent = await tb.send(member, None, f"/hours revoke {entry_id} 我自己")
    assert "书记或团干部" in sent[0].text and await status(tb, entry_id) == "approved"

    sent = await tb.send(sec, None, f"/hours revoke {entry_id} 重复登记")
    assert "已撤销时长" in sent[0].text
    assert await status(tb, entry_id) == "revoked"
    sent = await tb.send(sec, None, f"/hours 撤销 {entry_id} 再来一次")  # twice: refused
    assert "已撤销" in sent[0].text and "只有已通过" in sent[0].text
    await tb.drain()
    told = [s for s in tb.texts(member["id"]) if "已被撤销" in s]
    assert len(told) == 1 and "重复登记" in told[0] and "社区清扫" in told[0]
    # out of every total; shown as revoked where entries are listed
    assert (await tb.services.hours.summary(member["id"])).approved == 0
    history = (await tb.send(member, None, "/myhours"))[0].text
    assert "已撤销" in history and "重复登记" in history
    dabu = await tb.services.tower.org_by_code("yanshan.dabu")
    kept = await tb.db.fetchone(
        "SELECT COALESCE(SUM(quarters), 0) FROM hour_totals WHERE org_id = ?", (dabu.id,)
    )
    assert int(kept[0]) == 0
    # the trigger still allows nothing else on a revoked or approved entry
    for sql in (
        "UPDATE hour_entries SET revoke_reason = 'x' WHERE id = ?",
        (
            "UPDATE hour_entries SET status = 'approved', revoked_at = NULL,"
            " revoke_reason = NULL, revoked_by = NULL WHERE id = ?"
        ),
    ):
        with pytest.raises(INTEGRITY_ERRORS):
            async with tb.db.transaction() as tx:
                await tx.execute(sql, (entry_id,))
    with pytest.raises(INTEGRITY_ERRORS):  # approved -> revoked without a reason
        async with tb.db.transaction() as tx:
            await tx.execute(
                "UPDATE hour_entries SET status = 'revoked', revoked_at = 1, revoked_by = 1,"
                " revoke_reason = ' ' WHERE id = ?",
                (toms,),
            )
    # staff above revoke anywhere below, in English for Tom
    sent = await tb.send(boss, None, f"/hours revoke {toms} logged twice")
    assert "已撤销时长" in sent[0].text
    await tb.drain()
    assert any("were revoked" in s for s in tb.texts(tom["id"]))
