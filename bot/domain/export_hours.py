"""Hour exports as .xlsx: a subtree's records, and one person's service record to certify.

Real names appear here (exports go privately to secretaries and staff, or to the person);
a person who used /forgetme shows as "(deleted)". Labels come from the language catalogues;
layout (title row, frozen header, widths, print setup) from bot/domain/xlsx.py.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache, partial
from typing import Any

from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain.errors import Refusal
from bot.domain.hours import Hours, fmt_hours
from bot.domain.models import Org
from bot.domain.xlsx import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    Sheet,
    append,
    book,
    day_words,
    fit_page,
    record_book,
    save,
    text_width,
)
from bot.texts import t
from storage import orgs as org_repo
from storage import users as user_repo

Progress = Callable[[int], object]  # e.g. tqdm.update, which returns a bool
SEEN = 4096  # distinct labels or days an export remembers


def heads(lang: str, key: str) -> list[str]:
    """A '|'-separated catalogue header as column titles."""
    return _plain(lang, key).split("|")


def _plain(lang: str, key: str, **values: object) -> str:
    """A catalogue text for a cell: HTML entities back to characters."""
    return html.unescape(str(t(lang, key, **values)))


def status_label(lang: str, status: str) -> str:
    """pending / approved / rejected in words."""
    return _plain(lang, "xl_status_" + status)


def source_label(lang: str, source: str) -> str:
    """'self' or 'activity:<id>' in words."""
    kind, _, ref = source.partition(":")
    if kind == "self":
        return _plain(lang, "xl_source_self")
    if kind == "activity" and ref.isdigit():
        return _plain(lang, "xl_source_activity", id=ref)
    return _plain(lang, "xl_source_other")


def _name(lang: str, real_name: str | None) -> str:
    return real_name if real_name else _plain(lang, "hours_deleted_person")


def _day(text: str) -> date | str:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def sheet_title(lang: str, org: str, what: str, today: date) -> str:
    """'雁山区团委 · 志愿服务时长明细 · 截至 2025年12月1日'."""
    return _plain(lang, "xl_title", org=org, what=what, date=day_words(lang, today))


async def subtree_workbook(
    hours: Hours,
    org: Org,
    *,
    year: int | None,
    lang: str,
    progress: Progress | None = None,
) -> bytes:
    """Sheets: every entry, totals per person, totals per org rolled up the tree."""
    today = hours.today()
    tz = hours.settings.tz
    scope = _plain(lang, "xl_year", year=year) if year else ""

    def when(ts: float | None) -> datetime | None:
        return datetime.fromtimestamp(ts, tz).replace(tzinfo=None) if ts else None

    def title(key: str) -> str:
        return sheet_title(lang, org.name, _plain(lang, key) + scope, today)

    wb = book(title("xl_what_hours"))
    ws = Sheet(
        wb,
        _plain(lang, "xl_sheet_entries"),
        title=title("xl_what_entries"),
        header=heads(lang, "xl_entries_head"),
    )
    done = approved = 0
    # labels, names and days repeat from row to row: each distinct value is worked out once
    statuses = lru_cache(maxsize=SEEN)(partial(status_label, lang))
    sources = lru_cache(maxsize=SEEN)(partial(source_label, lang))
    evidences = lru_cache(maxsize=SEEN)(lambda kind: _plain(lang, "xl_evidence_" + kind))
    days = lru_cache(maxsize=SEEN)(_day)
    deleted = _name(lang, None)
    async for e in hours.entries_in(org, year):
        decider = e.decider_name or (deleted if e.decided_by else "")
        ws.add(
            [
                e.id,
                days(e.served_on),
                e.quarters / 4,
                statuses(e.status),
                e.real_name or deleted,
                e.org_name,
                e.description,
                sources(e.source),
                when(e.created_at),
                decider,
                when(e.decided_at),
                e.revoke_reason or e.reason or "",
                evidences(e.evidence or "none"),
            ]
        )
        approved += e.quarters if e.status == "approved" else 0
        done += 1
        if progress and done % 1000 == 0:
            progress(1000)
    if progress and done % 1000:
        progress(done % 1000)
    ws.total(
        [
            _plain(lang, "xl_total_approved"),
            None,
            approved / 4,
            None,
            None,
            None,
            _plain(lang, "xl_count", n=done),
        ]
    )
    ws.close()

    rows = await hours.rollup(org, year)
    names = {r.org.id: r.org.name for r in rows}
    ws = Sheet(
        wb,
        _plain(lang, "xl_sheet_people"),
        title=title("xl_what_people"),
        header=heads(lang, "xl_people_head"),
    )
    sums = [0, 0, 0]
    for p in await hours.person_totals(org, year):
        ws.add(
            [
                _name(lang, p.real_name),
                names.get(p.org_id or 0, ""),
                p.approved / 4,
                p.pending / 4,
                p.entries,
            ]
        )
        sums = [sums[0] + p.approved, sums[1] + p.pending, sums[2] + p.entries]
    ws.total([_plain(lang, "xl_total"), None, sums[0] / 4, sums[1] / 4, sums[2]])
    ws.close()

    ws = Sheet(
        wb,
        _plain(lang, "xl_sheet_orgs"),
        title=title("xl_what_orgs"),
        header=heads(lang, "xl_orgs_head"),
    )
    for r in rows:
        ws.add(
            [r.org.name, r.own / 4, r.subtree / 4, r.subtree_year / 4, r.subtree_entries],
            indent=r.org.depth - org.depth,
        )
    top = rows[0] if rows else None
    ws.total(
        [
            _plain(lang, "xl_total"),
            sum(r.own for r in rows) / 4,
            top.subtree / 4 if top else 0,
            top.subtree_year / 4 if top else 0,
            top.subtree_entries if top else 0,
        ]
    )
    ws.close()
    return save(wb)


def export_filename(kind: str, code: str, when: date, year: int | None = None) -> str:
    suffix = f"-{year}" if year else ""
    return f"{kind}-{code}{suffix}-{when.isoformat()}.xlsx"


async def personal_record(hours: Hours, user_id: int, *, lang: str) -> bytes:
    """A service record laid out for the recording organisation to certify and seal:
    one A4 portrait page, one seal block, no Telegram id."""
    r = hours.db.reader
    person = await user_repo.get_person(r, user_id)
    if person is None:
        raise Refusal("err_not_registered")
    org = await org_repo.get(r, person.org_id)
    entries = await hours.approved_of(user_id)
    today = hours.today()
    title = _plain(lang, "xl_record_title")
    wb = record_book(f"{title} · {person.real_name}")
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook's one sheet
    ws.title = _plain(lang, "xl_sheet_record")
    bold = Font(bold=True)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    head = heads(lang, "xl_record_head")
    width = len(head)
    widths = [text_width(h) for h in head]
    append(ws, [title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws["A1"].font = Font(bold=True, size=16)
    ws["A1"].alignment = Alignment(horizontal="center")
    append(ws, [])
    append(ws, [_plain(lang, "xl_record_name"), person.real_name])
    append(ws, [_plain(lang, "xl_record_org"), org.name if org else ""])
    append(ws, [_plain(lang, "xl_record_issued"), today])
    ws.cell(ws.max_row, 2).number_format = DATE_FORMAT
    ws.cell(ws.max_row, 2).alignment = Alignment(horizontal="left")
    for row in range(3, 6):
        ws.cell(row, 1).font = bold
    append(ws, [])
    append(ws, head)
    head_row = ws.max_row
    for cell in ws[head_row]:
        cell.font = bold
        cell.border = box
    tz = hours.settings.tz
    total = 0
    for i, e in enumerate(entries, start=1):
        decided = (
            datetime.fromtimestamp(e.decided_at, tz).replace(tzinfo=None) if e.decided_at else None
        )
        values = [i, _day(e.served_on), e.quarters / 4, e.description, e.org_name or "", decided]
        append(ws, values)
        for cell in ws[ws.max_row]:
            cell.border = box
        ws.cell(ws.max_row, 4).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(ws.max_row, 6).number_format = DATETIME_FORMAT
        ws.cell(ws.max_row, 2).number_format = DATE_FORMAT
        widths = [max(w, text_width(v)) for w, v in zip(widths, values, strict=True)]
        total += e.quarters
    append(ws, [_plain(lang, "xl_record_total"), "", total / 4])
    for cell in ws[ws.max_row]:
        cell.font = bold
        cell.border = box
    append(ws, [])
    append(ws, [_plain(lang, "xl_record_note", hours=fmt_hours(total), count=len(entries))])
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=width)
    ws.cell(ws.max_row, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[ws.max_row].height = 32
    append(ws, [])
    _seal_block(ws, lang, width, today)
    for col, size in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = min(max(size + 2, 8), 40)
    fit_page(ws, landscape=False, tall=True)
    ws.print_area = f"A1:{get_column_letter(width)}{ws.max_row}"
    return save(wb)


def _seal_block(ws: Any, lang: str, width: int, today: date) -> None:
    """The one seal block: signature and date on the left, the seal box on the right."""
    thin = Side(style="thin")
    left = max(2, width - 2)  # the box takes the last two or three columns
    first = ws.max_row + 1
    line = "________________"
    append(ws, [_plain(lang, "xl_record_person_sign"), line])
    for _ in range(3):
        append(ws, [])
    append(ws, [_plain(lang, "xl_record_date"), day_words(lang, today)])
    last = ws.max_row
    ws.cell(first, left + 1).value = _plain(lang, "xl_record_org_sign")
    ws.merge_cells(start_row=first, start_column=left + 1, end_row=last, end_column=width)
    seal = ws.cell(first, left + 1)
    seal.alignment = Alignment(horizontal="center", vertical="top", wrap_text=True)
    seal.font = Font(bold=True)
    for row in range(first, last + 1):
        ws.row_dimensions[row].height = 24
        for col in range(left + 1, width + 1):
            ws.cell(row, col).border = Border(
                left=thin if col == left + 1 else None,
                right=thin if col == width else None,
                top=thin if row == first else None,
                bottom=thin if row == last else None,
            )
    ws.cell(first, 1).font = Font(bold=True)
    ws.cell(last, 1).font = Font(bold=True)
