"""Issue 15: the hours export streams. A district of a few thousand entries goes out row by row:
each entry is in the sheet before the next one is read, the sheet writer holds at most one row,
and the memory an export takes (tracemalloc's peak) does not grow with the number of entries.
Counts and sizes only, never time (the 200,000-entry timing is `python -m bench.rollup`).
"""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.app import build_services
from bot.demo.worlds import hour_district
from bot.domain import export_hours
from bot.domain.clock import Clock
from bot.domain.models import Org
from bot.domain.models_hours import EntryRow
from bot.settings import Settings
from storage import orgs as org_repo
from storage.db import Database, open_database

ORGS, PEOPLE = 20, 300


async def district(tmp_path: Path, entries: int) -> tuple[Database, Any, Org]:
    """A migrated database with a bulk-loaded district; (db, services, root)."""
    path = str(tmp_path / f"district-{entries}.sqlite3")
    await (await open_database(path).connect()).close()
    hour_district(path, ORGS, PEOPLE, entries)
    db = await open_database(path).connect()
    services = build_services(Settings(db=path, token=None), db, Clock())
    root = await org_repo.root(db.reader)
    assert root is not None
    return db, services, root


async def test_hours_export_writes_each_entry_before_reading_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, services, root = await district(tmp_path, 3_000)
    hours = services.hours
    sheets: list[Any] = []
    held: list[int] = []

    class Watched(export_hours.Sheet):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            sheets.append(self)

        def add(self, values: Any, **kwargs: Any) -> None:
            super().add(values, **kwargs)
            held.append(len(self.ws.table))  # rows the writer keeps in memory

    read: list[int] = []
    real = hours.entries_in

    def entries_in(org: Org, year: int | None) -> AsyncIterator[EntryRow]:
        async def watched() -> AsyncIterator[EntryRow]:
            async for e in real(org, year):
                # every entry read before this one is already a row of the sheet
                assert sheets[0].rows == len(read), (sheets[0].rows, len(read))
                read.append(e.id)
                yield e

        return watched()

    monkeypatch.setattr(export_hours, "Sheet", Watched)
    monkeypatch.setattr(hours, "entries_in", entries_in)
    try:
        data = await export_hours.subtree_workbook(hours, root, year=None, lang="zh")
    finally:
        await db.close()
    assert len(read) == len(set(read)) == 3_000 and sheets[0].rows == 3_000
    assert held and max(held) <= 1  # one row at a time, whatever the size
    ws = load_workbook(io.BytesIO(data), read_only=True)["明细"]
    ids = [row[0] for row in ws.iter_rows(min_row=3, max_col=1, values_only=True)]
    assert ids[:-1] == read  # every entry, in the order read, then the totals row


async def peak_of_export(tmp_path: Path, entries: int, warm_up: bool) -> tuple[int, int]:
    """(tracemalloc peak in bytes while one export runs, size of the file)."""
    db, services, root = await district(tmp_path, entries)
    try:
        if warm_up:  # imports and catalogues are not the export's growth
            await export_hours.subtree_workbook(services.hours, root, year=None, lang="zh")
        tracemalloc.start()
        try:
            data = await export_hours.subtree_workbook(services.hours, root, year=None, lang="zh")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        await db.close()
    return peak, len(data)


async def test_export_memory_does_not_grow_with_the_entries(tmp_path: Path) -> None:
    # both sizes past the storage's batch (2,000 rows are fetched at a time, a fixed cost)
    small, small_file = await peak_of_export(tmp_path, 2_500, warm_up=True)
    large, large_file = await peak_of_export(tmp_path, 7_500, warm_up=False)
    assert large_file > 2 * small_file  # three times the entries: a much bigger file
    # streaming, the growth is about 1.4 MB: the bigger zipped file, held twice (the buffer and
    # its bytes); reading the entries into a list first makes it about 10 MB
    assert large - small < 4_000_000, (small, large, large_file)
