"""Hour exports as .xlsx: a subtree's records, and one person's service record to certify.

Real names appear here (exports go privately to secretaries and staff, or to the person);
a person who used /forgetme shows as "(deleted)". Labels come from the language catalogues.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.domain.errors import Refusal
from bot.domain.hours import Hours, fmt_hours
from bot.domain.models import Org
from bot.domain.xlsx import append
from bot.texts import t
from storage import orgs as org_repo
from storage import users as user_repo

Progress = Callable[[int], object]  # e.g. tqdm.update, which returns a bool
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def heads(lang: str, key: str) -> list[str]:
    return str(t(lang, key)).split("|")


def _plain(lang: str, key: str, **values: object) -> str:
    """A catalogue text for a cell: HTML entities back to characters."""
    import html

    return html.unescape(str(t(lang, key, **values)))


def status_label(lang: str, status: str) -> str:
    return _plain(lang, "hours_status_" + status)


def _name(lang: str, real_name: str | None) -> str:
    return real_name if real_name else _plain(lang, "hours_deleted_person")


async def subtree_workbook(
    hours: Hours, org: Org, *, year: int | None, lang: str, progress: Progress | None = None,
) -> bytes:
    """Sheets: every entry, totals per person, totals per org rolled up the tree."""
    wb = Workbook(write_only=True)
    fmt = hours.fmt_time

    ws = wb.create_sheet(_plain(lang, "xl_sheet_entries"))
    append(ws, heads(lang, "xl_entries_head"))
    done = 0
    async for e in hours.entries_in(org, year):
        append(ws, [
            e.id, e.served_on, e.quarters / 4, status_label(lang, e.status),
            _name(lang, e.real_name), e.user_id, e.org_code, e.org_name, e.description,
            e.source, fmt(e.created_at), e.decider_name or (e.decided_by or ""),
            fmt(e.decided_at) if e.decided_at else "", e.reason or "",
        ])
        done += 1
        if progress and done % 1000 == 0:
            progress(1000)
    if progress and done % 1000:
        progress(done % 1000)

    ws = wb.create_sheet(_plain(lang, "xl_sheet_people"))
    append(ws, heads(lang, "xl_people_head"))
    for p in await hours.person_totals(org, year):
        append(ws, [_name(lang, p.real_name), p.user_id, p.approved / 4, p.pending / 4, p.entries])

    ws = wb.create_sheet(_plain(lang, "xl_sheet_orgs"))
    append(ws, heads(lang, "xl_orgs_head", ))
    codes = {}
    rows = await hours.rollup(org, year)
    for r in rows:
        codes[r.org.id] = r.org.code
    for r in rows:
        append(ws, [
            r.org.code, "  " * (r.org.depth - org.depth) + r.org.name,
            codes.get(r.org.parent_id or 0, ""), r.org.depth - org.depth,
            r.own / 4, r.subtree / 4, r.subtree_year / 4, r.subtree_entries,
        ])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_filename(kind: str, code: str, when: date, year: int | None = None) -> str:
    suffix = f"-{year}" if year else ""
    return f"{kind}-{code}{suffix}-{when.isoformat()}.xlsx"


async def personal_record(hours: Hours, user_id: int, *, lang: str) -> bytes:
    """A service record laid out for the recording organisation to certify and seal."""
    r = hours.db.reader
    person = await user_repo.get_person(r, user_id)
    if person is None:
        raise Refusal("err_not_registered")
    org = await org_repo.get(r, person.org_id)
    entries = await hours.approved_of(user_id)
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook's one sheet
    ws.title = _plain(lang, "xl_sheet_record")
    bold = Font(bold=True)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    head = heads(lang, "xl_record_head")
    width = len(head)
    append(ws, [_plain(lang, "xl_record_title")])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws["A1"].font = Font(bold=True, size=16)
    ws["A1"].alignment = Alignment(horizontal="center")
    append(ws, [])
    append(ws, [_plain(lang, "xl_record_name"), person.real_name])
    append(ws, [_plain(lang, "xl_record_org"), org.name if org else ""])
    append(ws, [_plain(lang, "xl_record_tgid"), user_id])
    append(ws, [_plain(lang, "xl_record_issued"), hours.today().isoformat()])
    append(ws, [])
    append(ws, head)
    head_row = ws.max_row
    for cell in ws[head_row]:
        cell.font = bold
        cell.border = box
    total = 0
    for i, e in enumerate(entries, start=1):
        append(ws, [i, e.served_on, e.quarters / 4, e.description, e.org_name or "",
                   hours.fmt_time(e.decided_at) if e.decided_at else ""])
        for cell in ws[ws.max_row]:
            cell.border = box
        total += e.quarters
    append(ws, [_plain(lang, "xl_record_total"), "", total / 4])
    for cell in ws[ws.max_row]:
        cell.font = bold
        cell.border = box
    append(ws, [])
    append(ws, [_plain(lang, "xl_record_note", hours=fmt_hours(total), count=len(entries))])
    append(ws, [])
    for key in ("xl_record_org_sign", "xl_record_person_sign", "xl_record_seal",
                "xl_record_date"):
        append(ws, [_plain(lang, key), "", "________________________"])
        append(ws, [])
    for col, size in enumerate((8, 14, 12, 50, 24, 18), start=1):
        ws.column_dimensions[get_column_letter(col)].width = size
    ws.page_setup.orientation = "portrait"
    ws.print_options.horizontalCentered = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def queue_document(
    hours: Hours, user_id: int, data: bytes, *, filename: str, caption: str
) -> int | None:
    """Send an export to the person's private chat through the outbox (kind "document")."""
    import base64

    return await hours.outbox.send(
        user_id, caption, user_id=user_id, kind="document", ref="export",
        extra={"data_b64": base64.b64encode(data).decode("ascii"), "filename": filename,
               "mime_type": XLSX},
    )
