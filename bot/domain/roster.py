"""Rosters: an existing member list (.xlsx or .csv, en or zh headers) as pre-registrations.

The whole file is checked before anything is written; a bad row is reported by its row number
and the column in error, never by its content (a roster is personal data). A person who later
shares the same phone in /register finds their name and org filled in (bot/domain/people.py).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel

from bot.domain import validate
from bot.domain.clock import Clock
from bot.domain.errors import Refusal
from bot.domain.models import RosterEntry
from storage import roster as roster_repo
from storage.db import Database

Progress = Callable[[int], object]  # e.g. tqdm.update

#: header spellings (compared without case, spaces, '_' or '-') → our column
HEADERS: dict[str, str] = {
    **dict.fromkeys(("name", "realname", "fullname", "姓名", "真实姓名"), "name"),
    **dict.fromkeys(
        (
            "org",
            "orgcode",
            "organisation",
            "organization",
            "组织代码",
            "团组织编码",
            "组织编码",
            "团组织代码",
        ),
        "org",
    ),
    **dict.fromkeys(
        ("phone", "mobile", "phonenumber", "手机号", "手机号码", "电话", "联系电话", "手机"),
        "phone",
    ),
    **dict.fromkeys(("role", "post", "职务", "角色", "团内职务"), "role"),
}
REQUIRED = ("name", "org", "phone")
#: role cells → the role granted on confirm (None: a member, nothing to grant)
ROLES: dict[str, str | None] = {
    **dict.fromkeys(
        ("secretary", "书记", "副书记", "团支部书记", "团委书记", "团总支书记", "团工委书记"),
        "secretary",
    ),
    **dict.fromkeys(("staff", "团干部", "专职团干部", "工作人员"), "staff"),
    **dict.fromkeys(("", "member", "团员", "成员", "青年", "志愿者", "委员", "团员青年"), None),
}
#: what a spreadsheet would run: =, @, a tab or CR first; +/- first unless a phone follows
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-](?![0-9 ()\-]*$))")
_PHONE_CHARS = re.compile(r"[0-9+\-() ]+", re.ASCII)


class RosterProblem(BaseModel):
    """One bad cell: where it is and why, with nothing of what it holds."""

    row: int
    column: str
    reason: str


class RosterReport(BaseModel):
    """What `import_file` found and did."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    registered: int = 0  # phones of people already registered: their profile is theirs
    problems: list[RosterProblem] = []
    written: bool = False


class RosterFileError(Exception):
    """The file cannot be read as a roster at all (format, encoding, missing columns)."""


# --- reading ----------------------------------------------------------------------------------


def read_rows(path: Path) -> list[list[object]]:
    """Every row of an .xlsx's first sheet, or of a .csv (UTF-8, with or without BOM, or GB18030)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:  # data_only=False: a formula cell comes back as its formula text, and is refused
            book = load_workbook(path, read_only=True, data_only=False)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, InvalidFileException) as exc:
            raise RosterFileError(
                f"cannot read {path.name} as .xlsx: {type(exc).__name__}"
            ) from None
        try:
            sheet = book.worksheets[0]
            return [list(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    if suffix == ".csv":
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RosterFileError(f"cannot read {path.name}: {exc.strerror}") from None
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
        raise RosterFileError(f"{path.name} is neither UTF-8 nor GB18030 text")
    raise RosterFileError(f"{path.name}: a roster is an .xlsx or .csv file")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone stored as a number
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _header_key(value: object) -> str:
    text = unicodedata.normalize("NFKC", _cell(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return re.sub(r"[\s_\-]+", "", text).lower()


def columns(header: Sequence[object]) -> dict[str, int]:
    """Our column → its index; a roster without name, org code and phone cannot be read."""
    found: dict[str, int] = {}
    for index, value in enumerate(header):
        column = HEADERS.get(_header_key(value))
        if column and column not in found:
            found[column] = index
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise RosterFileError(
            "missing column(s): "
            + ", ".join(missing)
            + " (e.g. 姓名 / 组织代码 / 手机号, or name / org / phone)"
        )
    return found


# --- checking ---------------------------------------------------------------------------------


def _reason(exc: Refusal) -> str:
    code = exc.values.get("code")
    return {
        "err_empty": "empty",
        "err_too_long": "too long",
        "err_invisible_chars": f"invisible character {code}",
        "err_control_chars": f"control character {code}",
        "err_foreign_digits": f"non-ASCII digit {code}",
        "err_bad_code": "not an org code",
        "err_bad_phone": "not a phone number",
    }.get(exc.key, exc.key)


def match_key(phone: str) -> str:
    """The phone a roster row is found by: '+digits', a Chinese mobile (11 digits from 1) with
    +86 (a roster holds 13800138000 where a Telegram contact gives 8613800138000)."""
    digits = phone.lstrip("+")
    return "+86" + digits if len(digits) == 11 and digits.startswith("1") else "+" + digits


def _phone(text: str) -> str:
    validate.no_invisible(text, field="phone")
    digits = validate.ascii_digits(text).strip()
    if not digits:
        raise Refusal("err_empty", field="phone")
    if not _PHONE_CHARS.fullmatch(digits):
        raise Refusal("err_bad_phone")
    return match_key(validate.phone(digits))


class _Bad(Exception):
    """A cell's problem, in the operator's words."""


def _cell_value(column: str, text: str, org_ids: dict[str, int]) -> str | int | None:
    """The checked value of one cell (name, org id, phone, role); raises Refusal or _Bad."""
    if column == "name":
        return validate.clean_text(text, max_len=50, field="name")
    if column == "org":
        code = validate.no_invisible(text.strip(), field="org_code")
        if not code:
            raise _Bad("empty")
        code = validate.org_code(code)
        if code not in org_ids:
            raise _Bad("unknown org code")
        return org_ids[code]
    if column == "phone":
        return _phone(text)
    key = unicodedata.normalize("NFKC", validate.no_invisible(text, field="role")).strip().lower()
    if key not in ROLES:
        raise _Bad("unknown role (secretary, staff, member, 书记, 团干部, 团员)")
    return ROLES[key]


def check_row(
    cells: dict[str, str], org_ids: dict[str, int], row: int
) -> tuple[RosterEntry | None, list[RosterProblem]]:
    """One data row as an entry, or the problems of its cells."""
    problems: list[RosterProblem] = []
    values: dict[str, str | int | None] = {}
    for column in ("name", "org", "phone", "role"):
        text = cells.get(column, "")
        try:
            if _FORMULA.match(text):
                raise _Bad("looks like a formula")
            values[column] = _cell_value(column, text, org_ids)
        except Refusal as exc:
            problems.append(RosterProblem(row=row, column=column, reason=_reason(exc)))
        except _Bad as exc:
            problems.append(RosterProblem(row=row, column=column, reason=str(exc)))
    if problems:
        return None, problems
    role = values["role"]
    return RosterEntry(
        phone=str(values["phone"]),
        real_name=str(values["name"]),
        org_id=int(values["org"] or 0),
        role=str(role) if role else None,
        imported_at=0.0,
    ), []


def check_rows(
    rows: Sequence[Sequence[object]], org_ids: dict[str, int]
) -> tuple[list[RosterEntry], list[RosterProblem]]:
    """The header, then every data row; blank rows are skipped, a phone twice is a problem."""
    if not rows:
        raise RosterFileError("the file is empty")
    where = columns(rows[0])
    entries: list[RosterEntry] = []
    problems: list[RosterProblem] = []
    first_row: dict[str, int] = {}
    for number, raw in enumerate(rows[1:], start=2):  # the row numbers a spreadsheet shows
        cells = {c: _cell(raw[i]) if i < len(raw) else "" for c, i in where.items()}
        if not any(v.strip() for v in cells.values()):
            continue
        entry, bad = check_row(cells, org_ids, number)
        problems.extend(bad)
        if entry is None:
            continue
        if entry.phone in first_row:
            problems.append(
                RosterProblem(
                    row=number, column="phone", reason=f"same phone as row {first_row[entry.phone]}"
                )
            )
            continue
        first_row[entry.phone] = number
        entries.append(entry)
    return entries, problems


# --- the service ------------------------------------------------------------------------------


class Roster:
    """`towerbot members import | purge`; the /register match lives in People."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def import_rows(
        self,
        rows: Sequence[Sequence[object]],
        *,
        skip_bad: bool = False,
        progress: Progress | None = None,
    ) -> RosterReport:
        """Check every row; write the good ones in one transaction unless a row is bad and
        `skip_bad` is off (then nothing is written). Same phone again: the row is updated."""
        entries, problems = check_rows(rows, await roster_repo.org_ids(self.db.reader))
        report = RosterReport(rows=len(entries) + len({p.row for p in problems}), problems=problems)
        if problems and not skip_bad:
            return report
        now = self.clock.time()
        async with self.db.transaction() as tx:
            taken = {match_key(p) for p in await roster_repo.registered_phones(tx)}
            for entry in entries:
                if entry.phone in taken:
                    report.registered += 1
                elif await roster_repo.upsert(tx, entry.model_copy(update={"imported_at": now})):
                    report.created += 1
                else:
                    report.updated += 1
                if progress is not None:
                    progress(1)
        report.written = True
        return report

    async def purge(self) -> int:
        """Drop every pre-registration nobody has claimed yet."""
        async with self.db.transaction() as tx:
            return await roster_repo.purge(tx)

    async def waiting(self) -> int:
        return await roster_repo.count(self.db.reader)


def describe(problems: Iterable[RosterProblem]) -> list[str]:
    """One line per problem: `row 7: phone: not a phone number` (no cell content)."""
    return [f"row {p.row}: {p.column}: {p.reason}" for p in problems]
