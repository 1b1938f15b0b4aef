"""Every .xlsx cell goes through here: text people typed is stored as text, never as a formula.

openpyxl turns any string that starts with "=" into a formula (data_type "f"), and a spreadsheet
program re-parses a cell someone edits, so a name like `=HYPERLINK(...)`, `+1+1`, `@SUM(A1)` or
`＝1+1` could run. Here each string cell is forced to an inline string (data_type "s"); one that
a spreadsheet would read as a formula or DDE also gets the "quote prefix" style (Excel's
apostrophe, which is not displayed), so the visible text stays exactly what the user typed.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, cast

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

#: characters openpyxl refuses in XML (C0 controls except tab, line feed, carriage return)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: first characters (after NFKC, so full-width ＝＋－＠ count) that start a formula or DDE
_TRIGGERS = frozenset("=+-@\u2212")
MAX_CELL = 32767  # Excel's limit on the characters of one cell

Scalar = str | int | float | Decimal | date | datetime | time | bool | None


def is_risky(text: str) -> bool:
    """True when a spreadsheet could read `text` as a formula or a DDE call."""
    if text[:1] in ("\t", "\r", "\n"):
        return True
    head = text.lstrip()
    return bool(head) and unicodedata.normalize("NFKC", head[0])[:1] in _TRIGGERS


def safe_text(text: str) -> str:
    """The text as it can be stored: line breaks as LF, XML-illegal controls as U+FFFD."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # XML turns a bare CR into LF anyway
    return _ILLEGAL.sub("\ufffd", text)[:MAX_CELL]


def safe_cell(ws: Any, value: Scalar) -> Cell | Scalar:
    """One value ready for `ws.append`: strings become text cells, everything else is kept."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(ws, safe_text(value))
    cell.data_type = "s"  # openpyxl made "=..." a formula: it is text
    if is_risky(value):
        cell.quotePrefix = True
    return cell


def append(ws: Any, values: Iterable[Scalar]) -> None:
    """Append one row, every string written as text (write-only and normal sheets alike)."""
    ws.append([safe_cell(ws, v) for v in values])


# --- sheets ready to forward -----------------------------------------------------------------

CREATOR = "TowerBot 塔群助手"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
PCT = "0%"
PCT1 = "0.0%"
MIN_WIDTH = 6
MAX_WIDTH = 50  # a wider text wraps inside its column
SAMPLE = 1000  # rows measured for the widths before the sheet starts streaming
WIDE_COLUMNS = 7  # more columns than this print landscape
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEAD_FILL = PatternFill("solid", fgColor="DDE6F2")
_THIN = Side(style="thin")
_TOP = Border(top=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")


def text_width(value: object) -> int:
    """Display width of a value: East Asian wide characters count 2, the longest line wins."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            for line in text.split("\n")
        ),
        default=0,
    )


def book(title: str, *, write_only: bool = True) -> Workbook:
    """A workbook whose document properties name TowerBot and what it holds."""
    wb = Workbook(write_only=write_only)
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.title = title
    return wb


def fit_page(ws: Any, *, landscape: bool, tall: bool = False) -> None:
    """Print to the page width (and height when `tall`), A4, landscape for wide sheets."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if tall else 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True


def save(wb: Workbook) -> bytes:
    """The workbook as .xlsx bytes."""
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


class Sheet:
    """One table of a write-only workbook: a title row, a bold frozen header with a filter,
    rows (an optional indent for a tree), a bold totals row; widths fitted to the text."""

    def __init__(
        self,
        wb: Workbook,
        name: str,
        *,
        title: str,
        header: list[str],
        formats: dict[int, str] | None = None,
        landscape: bool | None = None,
    ) -> None:
        self.ws = wb.create_sheet(safe_text(name)[:31])
        self.title = title
        self.header = header
        self.formats = formats or {}
        self.landscape = len(header) > WIDE_COLUMNS if landscape is None else landscape
        self.widths = [text_width(h) for h in header]
        self.pending: list[list[Any]] = []
        self.rows = 0
        self.started = False

    def _cell(self, value: Scalar, column: int, *, bold: bool = False, indent: int = 0) -> Any:
        cell = safe_cell(self.ws, value)
        if not isinstance(cell, Cell):
            if value is None:
                return None
            cell = WriteOnlyCell(self.ws, cast(Any, value))  # openpyxl types omit dates/Decimal
        if isinstance(value, datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, date):
            cell.number_format = DATE_FORMAT
        elif column in self.formats and isinstance(value, int | float):
            cell.number_format = self.formats[column]
        if bold:
            cell.font = _BOLD
            cell.border = _TOP
        if indent:
            cell.alignment = Alignment(indent=indent)
        elif isinstance(value, str) and text_width(value) > MAX_WIDTH:
            cell.alignment = _WRAP
        if not self.started:
            extra = 2 * indent if indent else 0
            if column in self.formats and isinstance(value, int | float):
                extra += 2  # "%" and a decimal
            self.widths[column] = max(self.widths[column], text_width(value) + extra)
        return cell

    def add(
        self, values: list[Scalar], *, indent: int = 0, indent_column: int = 0, bold: bool = False
    ) -> None:
        """One data row; `indent` shifts the cell in `indent_column` (a tree's depth)."""
        row = [
            self._cell(v, i, bold=bold, indent=indent if i == indent_column else 0)
            for i, v in enumerate(values)
        ]
        self.rows += 1
        if self.started:
            self.ws.append(row)
            return
        self.pending.append(row)
        if len(self.pending) >= SAMPLE:
            self._start()

    def total(self, values: list[Scalar]) -> None:
        """The bold totals row under the table (outside the filter)."""
        row = [self._cell(v, i, bold=True) for i, v in enumerate(values)]  # widths count it
        self._start()
        self.ws.append(row)

    def _start(self) -> None:
        if self.started:
            return
        self.started = True
        ws = self.ws
        for i, width in enumerate(self.widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = min(
                max(width + 2, MIN_WIDTH), MAX_WIDTH + 2
            )
        ws.freeze_panes = "A3"
        fit_page(ws, landscape=self.landscape)  # sheet properties go out with the first row
        title = safe_cell(ws, self.title)
        if isinstance(title, Cell):
            title.font = _TITLE
        ws.append([title])
        heads = []
        for text in self.header:
            cell = safe_cell(ws, text)
            if isinstance(cell, Cell):
                cell.font = _BOLD
                cell.fill = _HEAD_FILL
                cell.border = Border(bottom=_THIN)
                cell.alignment = Alignment(vertical="center")
            heads.append(cell)
        ws.append(heads)
        for row in self.pending:
            ws.append(row)
        self.pending = []

    def close(self) -> None:
        """Write what is still held back; filter, print setup."""
        self._start()
        last = get_column_letter(len(self.header))
        self.ws.auto_filter.ref = f"A2:{last}{2 + self.rows}"
        self.ws.print_title_rows = "2:2"


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def day_words(lang: str, day: date, *, year: bool = True) -> str:
    """'2025年12月1日' / '1 Dec 2025' (no year: '12月1日' / '1 Dec').

    A local stand-in until the Babel date formatting in bot/domain/when.py lands."""
    if lang.startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日" if year else f"{day.month}月{day.day}日"
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text
