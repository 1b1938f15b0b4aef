"""Every .xlsx cell goes through here: text people typed is stored as text, never as a formula.

A spreadsheet program re-parses a cell someone edits, so a name like `=HYPERLINK(...)`, `+1+1`,
`@SUM(A1)` or `＝1+1` could run. Here each string cell is written as a string (xlsxwriter's
write_string, an inline string; openpyxl's data_type "s", as openpyxl would otherwise make
"=..." a formula); one that a spreadsheet would read as a formula or DDE also gets the "quote
prefix" style (Excel's apostrophe, which is not displayed), so the visible text stays exactly
what the user typed.

The table exports (`Sheet` in a `book`) stream: xlsxwriter in constant_memory mode, a sheet
making each row's XML itself (the XML xlsxwriter would write, escapes included) and holding at
most a couple of hundred rows before they go to a temporary file; a handful of shared cell
styles. 200,000 rows take seconds and little memory. The one-page service record (`record_book`) is laid out cell by cell with openpyxl.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import xlsxwriter
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.properties import PageSetupProperties
from xlsxwriter.utility import (
    _preserve_whitespace,
    _utf16_len,
    _utf16_truncate,
    xl_col_to_name,
)
from xlsxwriter.worksheet import Worksheet

#: the media type of every workbook the bot sends
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: characters openpyxl refuses in XML (C0 controls except tab, line feed, carriage return)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: what `safe_text` changes: those and carriage returns
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f]")
#: first characters (after NFKC, so full-width ＝＋－＠ count) that start a formula or DDE
_TRIGGERS = frozenset("=+-@\u2212")
#: what any of xlsxwriter's escapes of an inline string looks for (`text_xml`): control
#: characters, `_xHHHH_` (an underscore), \ufffe \uffff, XML's specials, edge white space
_XML_SPECIAL = re.compile('[\x00-\x08\x0b-\x1f"&<>\n_\ufffe\uffff]|^\\s|\\s$')
MAX_CELL = 32767  # Excel's limit on the characters of one cell

Scalar = str | int | float | Decimal | date | datetime | time | bool | None


def is_risky(text: str) -> bool:
    """True when a spreadsheet could read `text` as a formula or a DDE call."""
    if text[:1].isalnum():  # most text: no letter or digit normalises to a trigger (tested)
        return False
    if text[:1] in ("\t", "\r", "\n"):
        return True
    head = text.lstrip()
    return bool(head) and unicodedata.normalize("NFKC", head[0])[:1] in _TRIGGERS


def safe_text(text: str) -> str:
    """The text as it can be stored: line breaks as LF, XML-illegal controls as U+FFFD."""
    if len(text) <= MAX_CELL and not _CONTROLS.search(text):
        return text  # most text: nothing to change
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
TIME_FORMAT = "hh:mm"
SEEN = 4096  # distinct dates a sheet remembers the day number of
ROWS_HELD = 200  # rows a streamed sheet gathers before it writes them to its file
TEXT_HELD = 1_000_000  # characters of cell XML a sheet remembers (names, labels, days)
_EPOCH = datetime(1899, 12, 30)  # day 0 of the spreadsheet's calendar (from March 1900 on)
_MARCH_1900 = datetime(1900, 3, 1)
_ONE_DAY = timedelta(days=1)
#: the title row's and the header's own looks (a header is light blue, underlined)
_LOOKS: dict[str, dict[str, Any]] = {
    "": {},
    "title": {"bold": True, "font_size": 14},
    "head": {"bold": True, "bottom": 1, "valign": "vcenter", "pattern": 1, "bg_color": "#DDE6F2"},
}


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


class _TextSheet(Worksheet):  # type: ignore[misc]  # xlsxwriter ships no type information
    """An xlsxwriter sheet that never writes a string as raw XML, and takes whole rows.

    In constant_memory mode xlsxwriter copies a string that starts with "<r>" and ends with
    "</r>" into the sheet unescaped (it takes it for a rich string it made): a name typed that
    way could close the cell and add a formula. Here every string is escaped like any other.

    `put_row` writes one row's cells, made by `Sheet` (`text_xml`, numbers), straight into
    the row file: the same XML xlsxwriter writes cell by cell, without a cell object, a
    dimension check and a few attribute lists for each cell (the most of a 200,000-row
    export's time)."""

    previous_row: int  # xlsxwriter's: the row its table holds (the last one put, here)
    dim_rowmin: int | None
    dim_rowmax: int | None
    dim_colmin: int | None
    dim_colmax: int | None

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[str] = []  # rows from `put_row` not yet in the file
        self._put = -1  # the last row `put_row` wrote

    def _xml_rich_inline_string(self, string: str, attributes: Any = ()) -> None:
        preserve = string[:1].isspace() or string[-1:].isspace()
        self._xml_inline_string(string, preserve, list(attributes))

    def text_xml(self, string: str) -> str:
        """A cell's inline string element as xlsxwriter writes it in constant_memory mode,
        "<r>…</r>" escaped like any text: `_x0041_`-like runs and control characters as
        `_xHHHH_`, then & < > as entities; cut to Excel's 32,767 UTF-16 units."""
        if len(string) <= self.xls_strmax // 2 and not _XML_SPECIAL.search(string):
            return f"<is><t>{string}</t></is>"  # most text: nothing any step below changes
        if len(string) > self.xls_strmax // 2 and _utf16_len(string) > self.xls_strmax:
            string = _utf16_truncate(string, self.xls_strmax)
        string = self._escape_control_characters(string)
        space = ' xml:space="preserve"' if _preserve_whitespace(string) else ""
        return f"<is><t{space}>{self._escape_data(string)}</t></is>"

    def style_xml(self, fmt: Any) -> str:
        """The ` s="n"` attribute of a cell in this format ("" for none)."""
        return f' s="{fmt._get_xf_index()}"' if fmt else ""

    def put_row(self, row: int, first: int, last: int, cells: str) -> None:
        """Row `row` (0-based, after every row written so far) holding `cells`, the XML of its
        cells from column `first` to `last`; rows go to the file a few hundred at a time."""
        if not (
            self._put < row < self.xls_rowmax
            and row >= self.previous_row
            and 0 <= first <= last < self.xls_colmax
        ):
            raise ValueError(f"row {row} is out of the sheet or already written")
        self._put = row
        if self.table or self.previous_row in self.row_info:
            if row == self.previous_row:
                raise ValueError(f"row {row} already has cells")
            self._write_single_row(row)  # a row written through xlsxwriter's own cell calls
        self.previous_row = row
        if self.dim_rowmin is None:
            self.dim_rowmin, self.dim_colmin, self.dim_colmax = row, first, last
        else:
            if first < (self.dim_colmin or 0):
                self.dim_colmin = first
            if last > (self.dim_colmax or 0):
                self.dim_colmax = last
        self.dim_rowmax = row
        if row in self.row_info or self.default_row_height != self.original_row_height:
            self._flush()
            self._write_row(row, None, self.row_info.get(row))  # a height or a row style
            self.fh.write(f"{cells}</row>")
        elif self.excel_version == 2010:
            self._rows.append(f'<row r="{row + 1}" x14ac:dyDescent="0.25">{cells}</row>')
        else:
            self._rows.append(f'<row r="{row + 1}">{cells}</row>')
        if len(self._rows) >= ROWS_HELD:
            self._flush()

    def _flush(self) -> None:
        """The rows `put_row` holds, into the file."""
        if self._rows:
            self.fh.write("".join(self._rows))
            self._rows.clear()

    def _write_single_row(self, current_row_num: int = 0) -> None:
        self._flush()  # xlsxwriter writes a row (or the last one, before zipping): ours first
        super()._write_single_row(current_row_num)

    def _opt_close(self) -> None:
        self._flush()
        super()._opt_close()


class Book:
    """A workbook streamed row by row (xlsxwriter, constant_memory): a few rows in memory at a
    time, rows in a temporary file until `save` zips them; a few shared cell styles."""

    def __init__(self, title: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="towerbot-xlsx-")
        self._out = io.BytesIO()
        self.wb = xlsxwriter.Workbook(
            self._out,
            {
                "constant_memory": True,
                "tmpdir": self._tmp.name,
                # text stays text even through write(): no formulas, links or numbers from it
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.wb.set_properties({"title": safe_text(title), "author": CREATOR})
        self._styles: dict[tuple[Any, ...], Any] = {}

    def style(
        self,
        num: str | None = None,
        bold: bool = False,
        indent: int = 0,
        wrap: bool = False,
        quote: bool = False,
        look: str = "",
    ) -> Any:
        """The one shared cell format for this combination (None: the default style);
        `look` is "title" or "head" for those rows."""
        key = (num, bold, indent, wrap, quote, look)
        if key in self._styles:
            return self._styles[key]
        props: dict[str, Any] = dict(_LOOKS[look])
        if num:
            props["num_format"] = num
        if bold:
            props.update(bold=True, top=1)  # a totals row: bold, a thin line above
        if indent:
            props["indent"] = indent
        if wrap:
            props.update(text_wrap=True, valign="top")
        if quote:
            props["quote_prefix"] = True
        fmt = self.wb.add_format(props) if props else None
        self._styles[key] = fmt
        return fmt

    def sheet(self, name: str) -> Any:
        """A new sheet; the name as Excel allows it (no []:*?/\\, 31 characters)."""
        clean = re.sub(r"[\[\]:*?/\\]", "_", safe_text(name))[:31] or "Sheet"
        return self.wb.add_worksheet(clean, worksheet_class=_TextSheet)

    def save(self) -> bytes:
        """Zip the sheets; the workbook as .xlsx bytes."""
        try:
            self.wb.close()
            return self._out.getvalue()
        finally:
            self._tmp.cleanup()


def book(title: str) -> Book:
    """A streamed workbook whose document properties name TowerBot and what it holds."""
    return Book(title)


def record_book(title: str) -> Workbook:
    """A workbook laid out cell by cell (openpyxl, in memory): for the one-page service record,
    whose merged seal block needs random access; small by nature."""
    wb = Workbook()
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.title = title
    return wb


def fit_page(ws: Any, *, landscape: bool, tall: bool = False) -> None:
    """Print to the page width (and height when `tall`), A4, landscape for wide sheets."""
    if isinstance(ws, Worksheet):
        ws.set_paper(9)  # A4
        if landscape:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.fit_to_pages(1, 1 if tall else 0)
        ws.center_horizontally()
        return
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if tall else 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True


def save(wb: Book | Workbook) -> bytes:
    """The workbook as .xlsx bytes."""
    if isinstance(wb, Book):
        return wb.save()
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


class Sheet:
    """One table of a streamed workbook: a title row, a bold frozen header with a filter,
    rows (an optional indent for a tree), a bold totals row; widths fitted to the text of the
    header, the first `SAMPLE` rows and the totals. Rows go out as they come."""

    def __init__(
        self,
        wb: Book,
        name: str,
        *,
        title: str,
        header: list[str],
        formats: dict[int, str] | None = None,
        landscape: bool | None = None,
    ) -> None:
        self.book = wb
        self.ws = wb.sheet(name)
        self.header = header
        self.formats = formats or {}
        self.landscape = len(header) > WIDE_COLUMNS if landscape is None else landscape
        self.widths = [text_width(h) for h in header]
        self.rows = 0
        # the title holds typed names (an org's): text, quote-prefixed when formula-like
        self.ws.write_string(0, 0, safe_text(title), wb.style(quote=is_risky(title), look="title"))
        for column, text in enumerate(header):
            fmt = wb.style(quote=is_risky(text), look="head")
            self.ws.write_string(1, column, safe_text(text), fmt)
        self._serials: dict[date, float] = {}
        self._tails: dict[Scalar, str] = {}  # a data cell's XML after its reference, by value
        self._held = 0  # characters in `_tails`
        self._numbers: dict[int, str] = {}  # a data column's number style attribute
        self._attrs: dict[int, str] = {}
        self._refs = [xl_col_to_name(column) for column in range(len(header))]
        self._row = 2  # the next row to write (0-based): the data start under the header

    def _write(self, values: list[Scalar], *, bold: bool, indent: int, indent_column: int) -> None:
        refs, tails, numbers = self._refs, self._tails, self._numbers
        while len(refs) < len(values):
            refs.append(xl_col_to_name(len(refs)))
        plain = not bold and not indent  # a data row: its cells' XML can be remembered
        number = str(self._row + 1)
        cells: list[str] = []
        first = -1
        measure = self.rows < SAMPLE or bold
        tail: str | None
        for column, value in enumerate(values):
            kind = type(value)
            if value is None or (kind is str and not value):
                continue  # a blank cell (an empty text is written as none, like openpyxl did)
            if plain and (kind is int or kind is float):  # most cells: the quickest way
                attr = numbers.get(column)
                if attr is None:
                    attr = numbers[column] = self._s(self.book.style(self.formats.get(column)))
                serial: float = value  # type: ignore[assignment]  # an int or a float
                if kind is float and not math.isfinite(serial):
                    raise TypeError("NAN/INF not supported in write_number()")
                tail = f"{attr}><v>{serial:.16G}</v></c>"
            elif plain and (kind is str or kind is date or kind is datetime):
                tail = tails.get(value)
                if tail is None:
                    tail = self._tail(value, bold=False, shift=0, column=column)
                    self._held += len(tail)
                    if self._held > TEXT_HELD:
                        tails.clear()  # labels come back at once; a stale name goes
                        self._held = len(tail)
                    tails[value] = tail
            else:
                shift = indent if column == indent_column else 0
                tail = self._tail(value, bold=bold, shift=shift, column=column)
            cells.append(f'<c r="{refs[column]}{number}"{tail}')
            if first < 0:
                first = column
            last = column
            if measure:
                extra = 2 * indent if column == indent_column else 0
                if column in self.formats and isinstance(value, int | float):
                    extra += 2  # "%" and a decimal
                self.widths[column] = max(self.widths[column], text_width(value) + extra)
        if cells:
            self.ws.put_row(self._row, first, last, "".join(cells))
        self._row += 1

    def _tail(self, value: Scalar, *, bold: bool, shift: int, column: int) -> str:
        """A cell's XML after its reference: style, type and value."""
        style = self.book.style
        if isinstance(value, str):
            text = safe_text(value)
            wrap = not shift and len(value) > MAX_WIDTH // 2 and text_width(value) > MAX_WIDTH
            attr = self._s(style(None, bold, shift, wrap, is_risky(value)))
            return f'{attr} t="inlineStr">{self.ws.text_xml(text)}</c>'
        if isinstance(value, bool):
            return f'{self._s(style(None, bold, shift))} t="b"><v>{value:d}</v></c>'
        if isinstance(value, int | float | Decimal):
            attr = self._s(style(self.formats.get(column), bold, shift))
            serial = float(value)
            if not math.isfinite(serial):
                raise TypeError("NAN/INF not supported in write_number()")
        elif isinstance(value, date):  # a datetime too
            num = DATETIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
            attr = self._s(style(num, bold, shift))
            serial = self._serial(value)
        else:  # a time of day
            attr = self._s(style(TIME_FORMAT, bold, shift))
            serial = self.ws._convert_date_time(value)
        return f"{attr}><v>{serial:.16G}</v></c>"

    def _s(self, fmt: Any) -> str:
        """The style attribute of a shared format, worked out once."""
        attr = self._attrs.get(id(fmt))
        if attr is None:
            attr = self._attrs[id(fmt)] = self.ws.style_xml(fmt)
        return attr

    def _serial(self, value: date) -> float:
        """The spreadsheet's day number of a date or a wall-clock datetime, each distinct value
        worked out once (an export repeats its days); before March 1900, where the
        spreadsheet's calendar has a day that never was, xlsxwriter converts it."""
        serial = self._serials.get(value)
        if serial is None:
            when = value if isinstance(value, datetime) else datetime.combine(value, time())
            if when < _MARCH_1900:
                return float(self.ws._convert_date_time(value))
            serial = (when - _EPOCH) / _ONE_DAY
            if len(self._serials) < SEEN:
                self._serials[value] = serial
        return serial

    def add(
        self, values: list[Scalar], *, indent: int = 0, indent_column: int = 0, bold: bool = False
    ) -> None:
        """One data row; `indent` shifts the cell in `indent_column` (a tree's depth)."""
        self._write(values, bold=bold, indent=indent, indent_column=indent_column)
        self.rows += 1

    def total(self, values: list[Scalar]) -> None:
        """The bold totals row under the table (outside the filter)."""
        self._write(values, bold=True, indent=0, indent_column=0)

    def close(self) -> None:
        """Widths, frozen header, filter, print setup (xlsxwriter writes them when it zips)."""
        ws = self.ws
        for i, width in enumerate(self.widths):
            ws.set_column(i, i, min(max(width + 2, MIN_WIDTH), MAX_WIDTH + 2))
        ws.freeze_panes(2, 0)
        ws.autofilter(1, 0, 1 + self.rows, len(self.header) - 1)
        ws.repeat_rows(1)
        fit_page(ws, landscape=self.landscape)


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def day_words(lang: str, day: date, *, year: bool = True) -> str:
    """'2025年12月1日' / '1 Dec 2025' (no year: '12月1日' / '1 Dec').

    A local stand-in until the Babel date formatting in bot/domain/when.py lands."""
    if lang.startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日" if year else f"{day.month}月{day.day}日"
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text
