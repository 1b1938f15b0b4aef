"""Every .xlsx cell goes through here: text people typed is stored as text, never as a formula.

openpyxl turns any string that starts with "=" into a formula (data_type "f"), and a spreadsheet
program re-parses a cell someone edits, so a name like `=HYPERLINK(...)`, `+1+1`, `@SUM(A1)` or
`＝1+1` could run. Here each string cell is forced to an inline string (data_type "s"); one that
a spreadsheet would read as a formula or DDE also gets the "quote prefix" style (Excel's
apostrophe, which is not displayed), so the visible text stays exactly what the user typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell

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
