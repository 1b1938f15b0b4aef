"""Rosters: `towerbot members import` (xlsx/csv, en/zh headers, bad rows, all or nothing,
--skip-bad, re-import) and the match when the same phone is shared in /register."""

from __future__ import annotations

import csv
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from bot import logs
from bot.cli import main
from bot.domain.roster import RosterFileError, check_rows, read_rows
from tests.conftest import Harness

ORGS = {"yanshan": 1, "yanshan.dabu": 2, "yanshan.jiedao": 3}
EN = ["name", "org code", "phone", "role"]
ZH = ["姓名", "团组织编码", "手机号", "职务"]
GOOD = [
    ["陈小红", "yanshan.dabu", "13800138001", "团员"],
    ["李娜", "yanshan.dabu", "+86 138-0013-8002", "书记"],
    ["Tom Li", "yanshan.jiedao", 13800138003, ""],
]


def write(path: Path, rows: list[list[Any]]) -> Path:
    """An .xlsx or a .csv (UTF-8 with BOM, as Excel saves it) holding `rows`."""
    if path.suffix == ".xlsx":
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in rows:
            sheet.append(row)
        book.save(path)
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows(rows)
    return path


# --- checking rows ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("header", [EN, ZH], ids=["en", "zh"])
def test_good_files_read_in_both_formats_and_languages(
    tmp_path: Path, suffix: str, header: list[str]
) -> None:
    rows = read_rows(write(tmp_path / f"roster{suffix}", [header, *GOOD, ["", "", "", ""]]))
    entries, problems = check_rows(rows, ORGS)
    assert problems == []
    assert [(e.real_name, e.org_id, e.phone, e.role) for e in entries] == [
        ("陈小红", 2, "+8613800138001", None),
        ("李娜", 2, "+8613800138002", "secretary"),
        ("Tom Li", 3, "+8613800138003", None),
    ]


def test_other_zh_spellings_and_column_order() -> None:
    entries, problems = check_rows(
        [["电话", "角色", "组织代码", "姓名"], ["13800138009", "团干部", "yanshan", "王晓明"]], ORGS
    )
    assert problems == [] and entries[0].role == "staff" and entries[0].org_id == 1


@pytest.mark.parametrize(
    "row, column, reason",
    [
        (["陈小红", "yanshan.nowhere", "13800138001", ""], "org", "unknown org code"),
        (["陈小红", "yanshan.dabu", "13800", ""], "phone", "not a phone number"),
        (["陈小红", "yanshan.dabu", "138abc00138001", ""], "phone", "not a phone number"),
        (["陈小红", "yanshan.dabu", "", ""], "phone", "empty"),
        (["陈小红", "yanshan.dabu", "١٣٨٠٠١٣٨٠٠١", ""], "phone", "non-ASCII digit U+0661"),
        (["陈小红", "yanshan.dabu", "13８00138001", ""], "phone", None),  # full-width: fine
        (["", "yanshan.dabu", "13800138001", ""], "name", "empty"),
        (["   ", "yanshan.dabu", "13800138001", ""], "name", "empty"),
        (["陈\u200b小红", "yanshan.dabu", "13800138001", ""], "name", "invisible character U+200B"),
        (["陈小红", "yanshan.dabu\u200e", "13800138001", ""], "org", "invisible character U+200E"),
        (
            ["陈小红", "yanshan.dabu", "13800138001\u2060", ""],
            "phone",
            "invisible character U+2060",
        ),
        (
            ['=HYPERLINK("http://x")', "yanshan.dabu", "13800138001", ""],
            "name",
            "looks like a formula",
        ),
        (["@SUM(A1)", "yanshan.dabu", "13800138001", ""], "name", "looks like a formula"),
        (["陈小红", "yanshan.dabu", "+cmd|' /C calc'!A0", ""], "phone", "looks like a formula"),
        (["陈小红", "yanshan.dabu", "-2+3", ""], "phone", "looks like a formula"),
        (["陈小红", "yanshan.dabu", "13800138001", "=1+1"], "role", "looks like a formula"),
        (["陈小红", "yanshan.dabu", "13800138001", "队长"], "role", None),
        (["陈" * 51, "yanshan.dabu", "13800138001", ""], "name", "too long"),
    ],
)
def test_bad_cells_are_reported_by_row_and_column_only(
    row: list[str], column: str, reason: str | None
) -> None:
    entries, problems = check_rows([EN, GOOD[2], row], ORGS)
    if reason is None and column == "phone":  # the control case: accepted
        assert problems == [] and len(entries) == 2
        return
    assert [(p.row, p.column) for p in problems] == [(3, column)]
    if reason is not None:
        assert problems[0].reason == reason
    assert len(entries) == 1  # the good row is still checked and kept
    # the report never carries what the cell held
    for cell in row:
        if len(cell.strip()) > 3:
            assert cell not in problems[0].reason


def test_duplicate_phone_in_the_file_names_the_first_row() -> None:
    _, problems = check_rows([EN, GOOD[0], ["另一人", "yanshan", "+86 138 0013 8001", ""]], ORGS)
    assert [(p.row, p.column, p.reason) for p in problems] == [(3, "phone", "same phone as row 2")]


def test_missing_column_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(RosterFileError, match=r"missing column.*phone"):
        check_rows([["姓名", "组织代码"], ["陈小红", "yanshan"]], ORGS)
    with pytest.raises(RosterFileError, match=r"\.xlsx or \.csv"):
        read_rows(tmp_path / "roster.txt")


def test_xlsx_formula_cell_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "f.xlsx", [EN, ["陈小红", "yanshan.dabu", "=A1&B1", ""]])
    _, problems = check_rows(read_rows(path), ORGS)
    assert [(p.row, p.column, p.reason) for p in problems] == [(2, "phone", "looks like a formula")]


def test_gb18030_csv(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("姓名,组织代码,手机号\n陈小红,yanshan.dabu,13800138001\n".encode("gb18030"))
    entries, problems = check_rows(read_rows(path), ORGS)
    assert problems == [] and entries[0].real_name == "陈小红"


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A database with the Yanshan tree, and TOWERBOT_DB pointing at it; returns its path."""
    # main() sets logger levels for the process: put them back for the tests that follow
    levels = {name: logging.getLogger(name).level for name in ("", *logs.CHATTY)}
    monkeypatch.chdir(tmp_path)
    for name in ("TOWERBOT_TOKEN", "TOWERBOT_SUPERUSERS"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("TOWERBOT_DB", str(db))
    tree = tmp_path / "tree.yaml"
    tree.write_text(
        "code: yanshan\nname: 雁山区团委\nchildren:\n"
        "  - {code: yanshan.dabu, name: 大埠乡团委}\n"
        "  - {code: yanshan.jiedao, name: 雁山街道团工委}\n",
        encoding="utf-8",
    )
    assert main(["org", "import", str(tree)]) == 0
    yield db
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def roster_rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT phone, real_name, role FROM roster ORDER BY phone").fetchall()
    finally:
        conn.close()


BAD = [["陈\u200b小红", "yanshan.dabu", "13800138004", ""], ["王五", "nowhere", "١٣٨٠٠١٣٨٠٠٥", ""]]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_one_bad_row_imports_nothing(
    cli: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / f"r{suffix}", [ZH, *GOOD, *BAD])
    assert main(["members", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert roster_rows(cli) == []
    lines = [line for line in err.splitlines() if line.startswith("row ")]
    assert lines == [
        "row 5: name: invisible character U+200B",
        "row 6: org: unknown org code",
        "row 6: phone: non-ASCII digit U+0661",
    ]
    assert "nothing imported" in err
    for personal in ("陈", "王五", "138", "nowhere"):
        assert personal not in err


def test_skip_bad_imports_the_good_rows_and_reimport_updates(
    cli: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "r.xlsx", [EN, *GOOD, *BAD])
    assert main(["members", "import", str(path), "--skip-bad"]) == 1  # bad rows: still 1
    out = capsys.readouterr()
    assert "created=3 updated=0" in out.out and "skipped_bad=2" in out.out
    assert [r[0] for r in roster_rows(cli)] == [
        "+8613800138001",
        "+8613800138002",
        "+8613800138003",
    ]
    renamed = [["陈晓红", *GOOD[0][1:]], *GOOD[1:]]
    assert main(["members", "import", str(write(tmp_path / "r.csv", [EN, *renamed]))]) == 0
    assert "created=0 updated=3" in capsys.readouterr().out
    assert ("+8613800138001", "陈晓红", None) in roster_rows(cli) and len(roster_rows(cli)) == 3
    assert main(["members", "purge"]) == 0
    assert "deleted=3" in capsys.readouterr().out and roster_rows(cli) == []


def test_unreadable_file_is_one_line_exit_2(
    cli: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip")
    assert main(["members", "import", str(path)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


# --- /register with the contact button --------------------------------------------------------


async def test_shared_phone_matches_the_roster_and_only_confirms(tb: Harness, tower: dict) -> None:
    report = await tb.services.roster.import_rows(
        [ZH, ["赵敏", "yanshan.jiedao", "13912345678", "书记"]]
    )
    assert report.created == 1
    zhao = tb.em.add_user("敏敏")
    age = (await tb.send(zhao, None, "/register"))[-1]
    prompt = (await tb.press(zhao, age, "reg:age:n"))[-1]
    keyboard = prompt.params["reply_markup"]["keyboard"]
    assert keyboard[0][0].get("request_contact") is True
    consent = await tb.deliver(tb.em.contact(zhao, "+86 139 1234 5678"))
    assert "赵敏" in consent[-1].text and "雁山街道团工委" in consent[-1].text
    # the summary and the consent are one message: agreeing registers (one tap)
    await tb.press(zhao, consent[-1], "reg:consent:y")
    person = await tb.services.people.person(zhao["id"])
    assert person is not None and person.real_name == "赵敏" and person.phone == "+8613912345678"
    roles = await tb.db.fetchall(
        "SELECT r.role, o.code FROM roles r JOIN orgs o ON o.id = r.org_id WHERE r.user_id = ?",
        (zhao["id"],),
    )
    assert [tuple(r) for r in roles] == [("secretary", "yanshan.jiedao")]
    assert await tb.services.roster.waiting() == 0  # the row is now the person's


async def test_match_at_the_phone_step_after_typing(tb: Harness, tower: dict) -> None:
    await tb.services.roster.import_rows([EN, ["Zhao Min", "yanshan.dabu", "13912345679", ""]])
    user = tb.em.add_user("Min", language_code="en")
    await tb.send(user, None, "/start join_yanshan-jiedao")
    await tb.press(user, tb.em.messages_to(user["id"])[-1], "reg:age:n")
    await tb.send(user, None, "Min Z")
    consent = await tb.deliver(tb.em.contact(user, "13912345679"))
    assert "Zhao Min" in consent[-1].text
    await tb.press(user, consent[-1], "reg:consent:y")  # one tap registers
    person = await tb.services.people.person(user["id"])
    org = await tb.db.fetchone("SELECT code FROM orgs WHERE id = ?", (person.org_id,))
    assert person.real_name == "Zhao Min" and org["code"] == "yanshan.dabu"
    roles = await tb.db.fetchall("SELECT 1 FROM roles WHERE user_id = ?", (user["id"],))
    assert roles == []  # no role on the roster: a member


async def test_phone_not_on_the_roster_keeps_the_usual_steps(tb: Harness, tower: dict) -> None:
    user = tb.em.add_user("新人")
    await tb.send(user, None, "/start join_yanshan-dabu")
    await tb.press(user, tb.em.messages_to(user["id"])[-1], "reg:age:n")
    after = await tb.deliver(tb.em.contact(user, "13700000000"))  # at the name step
    assert "姓名" in after[-1].text
    consent = await tb.send(user, None, "新人甲")  # org known, phone known: straight to consent
    await tb.press(user, consent[-1], "reg:consent:y")  # one tap registers
    person = await tb.services.people.person(user["id"])
    assert person.real_name == "新人甲" and person.phone == "+13700000000"


async def test_already_registered_phone_is_not_stored_and_forgetme_drops_a_late_row(
    tb: Harness, tower: dict
) -> None:
    user = tb.em.add_user("小周")
    await tb.send(user, None, "/start join_yanshan-dabu")
    await tb.press(user, tb.em.messages_to(user["id"])[-1], "reg:age:n")
    await tb.send(user, None, "周一")
    consent = await tb.deliver(tb.em.contact(user, "13600000001"))
    await tb.press(user, consent[-1], "reg:consent:y")  # one tap registers
    report = await tb.services.roster.import_rows([EN, ["周一", "yanshan.dabu", "13600000001", ""]])
    assert (report.registered, report.created) == (1, 0)
    # a row that slipped in anyway (written before they registered) goes with /forgetme
    async with tb.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO roster(phone, real_name, org_id, imported_at)"
            " VALUES ('+8613600000001', '周一', 2, 0)"
        )
    ask = await tb.send(user, None, "/forgetme")
    await tb.press(user, ask[-1], "forget:y")
    assert await tb.services.roster.waiting() == 0
