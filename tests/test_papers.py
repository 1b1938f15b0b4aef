"""Exports and charts ready to forward to superiors (issue "For real people", items 9 and 10).

Every export kind goes through the real /export command and is opened with openpyxl: title
row, bold frozen header with a filter, widths that fit the text (wide characters count two),
real dates, percentages as numbers, a totals row, no internal codes or Telegram ids, the tree
as an indent, fit-to-width printing, TowerBot in the document properties. The service record
fits one A4 portrait page and has one seal block. Charts carry an as-of stamp, cap percentage
axes at 100 %, answer an empty subtree in words, and keep the tower's labels apart at 40 and
200 orgs (text boxes measured with the Agg renderer).
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter

from bot.domain import charts
from bot.domain.xlsx import CREATOR, day_words, text_width
from tests import test_stats
from tests.conftest import Harness
from tests.test_stats import root_view, seeded_world

#: the harness whose clock the world moves on (test_stats.ftb, registered here under this name)
moving_harness = test_stats.ftb

CODE = re.compile(r"^self$|[A-Za-z_]\w*:\d+|^[a-z]+(\.[a-z0-9_]+)+$")
TOTALS = ("合计", "合计（已通过）")


async def exports(tb: Harness) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The world of test_stats with known figures, and every export kind through /export."""
    t = await seeded_world(tb)
    books: dict[str, bytes] = {}
    for kind in ("hours", "members", "activities", "campaign 1"):
        mark = len(tb.em.documents)
        await tb.send(t["boss"], t["root"], f"/export {kind}")
        await tb.drain()
        docs = [d for d in tb.em.documents[mark:] if d["chat_id"] == t["boss"]["id"]]
        assert len(docs) == 1, kind
        books[kind.split()[0]] = docs[0]["bytes"]
    mark = len(tb.em.documents)
    await tb.send(t["member_a"], None, "/export myhours")
    await tb.drain()
    books["myhours"] = tb.em.documents[mark:][-1]["bytes"]
    return t, books


def no_internal_codes(ws: Any, user_ids: list[int]) -> None:
    for row in ws.iter_rows():
        for cell in row:
            value = cell.value
            if isinstance(value, str):
                assert not CODE.search(value), (ws.title, cell.coordinate, value)
                assert not any(str(uid) in value for uid in user_ids), (cell.coordinate, value)
            elif isinstance(value, int):
                assert value not in user_ids and value < 10**6, (cell.coordinate, value)


def column_width(ws: Any, letter: str) -> float:
    """A column's width, also when the file gives one width to a run of columns
    (`<col min="2" max="4">`, which openpyxl files under the run's first letter only)."""
    index = column_index_from_string(letter)
    for dim in ws.column_dimensions.values():
        if dim.min is not None and dim.min <= index <= (dim.max or dim.min) and dim.customWidth:
            return float(dim.width)
    return float(ws.column_dimensions[letter].width)


def check_table(ws: Any, org: str, user_ids: list[int]) -> None:
    """One export sheet laid out to forward."""
    today = day_words("zh", date.today())[:5]  # the year at least: the clock is real here
    title = ws["A1"].value
    assert org in title and "截至" in title and today[:4] in title, title
    assert ws["A1"].font.bold
    header = [c for c in ws[2] if c.value is not None]
    assert header and all(c.font.bold for c in header)
    assert ws.freeze_panes == "A3"
    last = ws.max_row
    assert ws.auto_filter.ref == f"A2:{get_column_letter(len(header))}{last - 1}"
    assert ws.cell(last, 1).value in TOTALS and ws.cell(last, 1).font.bold
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if cell.value is None or (cell.alignment and cell.alignment.wrap_text):
                continue
            width = column_width(ws, cell.column_letter)
            need = text_width(cell.value) + 2 * int(cell.alignment.indent or 0)
            if isinstance(cell.value, datetime):  # shown as its format: yyyy-mm-dd [hh:mm]
                need = len(cell.number_format)
            assert width >= need, (ws.title, cell.coordinate, cell.value, width)
            if isinstance(cell.value, datetime):
                assert "yy" in cell.number_format and "dd" in cell.number_format
            if isinstance(cell.value, str):
                assert cell.value == cell.value.lstrip(" "), cell.coordinate  # indent, not spaces
    # one page wide (an absent fitToWidth is 1, the file format's default), as many pages tall
    assert ws.page_setup.fitToWidth in (None, 1) and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToHeight == 0
    wide = len(header) > 7
    assert ws.page_setup.orientation == ("landscape" if wide else "portrait")
    no_internal_codes(ws, user_ids)


async def test_every_export_is_ready_to_forward(moving_harness: Harness) -> None:
    tb = moving_harness  # the world moves its clock on (OffsetClock)
    t, books = await exports(tb)
    user_ids = [u["id"] for u in tb.em.users.values()] if hasattr(tb.em, "users") else []
    user_ids = user_ids or [t[k]["id"] for k in ("boss", "sec_a", "member_a", "member_b", "gang")]
    for kind in ("hours", "members", "activities", "campaign"):
        wb = load_workbook(io.BytesIO(books[kind]))
        assert wb.properties.creator == CREATOR and wb.properties.title, kind
        for ws in wb.worksheets:
            check_table(ws, "雁山区团委", user_ids)

    hours = load_workbook(io.BytesIO(books["hours"]))
    entries = hours["明细"]
    served = entries.cell(3, 2)
    assert isinstance(served.value, datetime) and served.number_format == "yyyy-mm-dd"
    # human labels, never `self` / `activity:1`: own entries and activity check-ins
    assert {entries.cell(r, 8).value for r in range(3, entries.max_row)} <= {"本人登记"} | {
        f"活动签到（活动 {n}）" for n in range(1, 10)
    }
    tree = hours["按组织汇总"]
    indents = {
        tree.cell(r, 1).value: tree.cell(r, 1).alignment.indent for r in range(3, tree.max_row)
    }
    assert indents == {"雁山区团委": 0, "大埠乡团委": 1, "雁山街道团工委": 1}
    assert tree.cell(tree.max_row, 3).value == tree.cell(3, 3).value  # total = the root's subtree

    acts = load_workbook(io.BytesIO(books["activities"])).active
    rate = acts.cell(3, 14)  # after the post column
    assert rate.value == pytest.approx(2 / 3) and rate.number_format in ("0%", "0.0%")
    assert acts.cell(acts.max_row, 14).value == pytest.approx(2 / 3)
    assert isinstance(acts.cell(3, 6).value, datetime) and "hh:mm" in acts.cell(3, 6).number_format
    members = load_workbook(io.BytesIO(books["members"])).active
    assert all(isinstance(members.cell(r, 6).value, datetime) for r in range(3, members.max_row))


async def test_service_record_is_one_sealed_a4_page(moving_harness: Harness) -> None:
    tb = moving_harness  # the world moves its clock on (OffsetClock)
    t, books = await exports(tb)
    wb = load_workbook(io.BytesIO(books["myhours"]))
    assert wb.properties.creator == CREATOR and "陈小红" in wb.properties.title
    ws = wb.active
    setup = ws.page_setup
    assert setup.orientation == "portrait" and setup.paperSize in (9, "9")
    assert setup.fitToWidth == 1 and setup.fitToHeight == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    seals = [c for c in cells if isinstance(c.value, str) and "盖章" in c.value]
    assert len(seals) == 1  # one seal block
    seal = seals[0]
    box = next(r for r in ws.merged_cells.ranges if seal.coordinate in r)
    assert box.max_row - box.min_row >= 3 and seal.border.top.style == "thin"
    assert not any("Telegram" in str(c.value) for c in cells)
    no_internal_codes(ws, [t["member_a"]["id"], t["boss"]["id"]])
    dates = [c for c in cells if isinstance(c.value, datetime)]
    assert dates and all("yy" in c.number_format for c in dates)
    head = next(c.row for c in cells if c.value == "序号")
    for col in range(1, 7):
        width = ws.column_dimensions[get_column_letter(col)].width
        value = ws.cell(head, col).value
        assert width >= text_width(value), (col, value, width)


# --- charts ----------------------------------------------------------------------------------


def texts_of(fig: Any) -> list[str]:
    found = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        found += [t.get_text() for t in ax.texts] + [ax.get_title()]
    return found


async def test_charts_are_stamped_capped_and_empty_in_words(moving_harness: Harness) -> None:
    tb = moving_harness  # the world moves its clock on (OffsetClock)
    t = await seeded_world(tb)
    stats = tb.services.stats
    root, view = await root_view(tb)
    today = date(2025, 12, 1)
    hours = charts.bars_figure(charts.hours_data(view, "zh", today))
    assert "截至 12月1日" in texts_of(hours)
    assert any(s.endswith(" 小时") for s in texts_of(hours)) and not any(
        s.endswith("h") for s in texts_of(hours)
    )
    coverage = charts.bars_figure(charts.coverage_data(view, "en", today))
    assert "as of 1 Dec" in texts_of(coverage)
    assert coverage.axes[0].get_xlim()[1] <= 100
    tower = charts.tree_figure(charts.tower_data(await stats.tower(root), "zh", root.name, today))
    assert "截至 12月1日" in texts_of(tower)

    # an org with nothing below it: words, not an empty chart
    mark = len(tb.em.documents)
    for kind in ("hours", "coverage", "tower"):
        answer = await tb.send(t["boss"], t["chat_a"], f"/chart {kind}")
        assert any("没有下级组织" in (a.text or "") for a in answer), kind
    assert tb.em.documents[mark:] == []
    # a real chart still goes out as a photo
    await tb.send(t["boss"], t["root"], "/chart coverage")
    assert [d["kind"] for d in tb.em.documents[mark:]] == ["photo"]


def synthetic_tower(n: int) -> list[dict[str, Any]]:
    """n orgs: a root, townships, villages and teams, with long Chinese names."""
    rows: list[dict[str, Any]] = []
    healthy = {
        "has_chat": True,
        "campaigns_missing": 0,
        "members": 10,
        "members_in_chat": 9,
        "staffed": True,
        "campaigns_due": 0,
    }

    def add(parent: dict[str, Any] | None, name: str) -> dict[str, Any]:
        row = {
            "id": len(rows) + 1,
            "parent_id": parent["id"] if parent else None,
            "depth": parent["depth"] + 1 if parent else 0,
            "name": name,
            **healthy,
        }
        if row["id"] % 7 == 0:
            row["has_chat"] = False
        rows.append(row)
        return row

    root = add(None, "雁山区团委")
    towns: list[dict[str, Any]] = []
    while len(rows) < n:
        parent = root if len(towns) < 6 else towns[len(rows) % len(towns)]
        node = add(parent, f"雁山区大埠乡第{len(rows)}村青年志愿服务团支部委员会")
        if parent is root:
            towns.append(node)
    by_parent: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        by_parent.setdefault(row["parent_id"], []).append(row)
    ordered: list[dict[str, Any]] = []

    def walk(row: dict[str, Any]) -> None:
        ordered.append(row)
        for kid in by_parent.get(row["id"], []):
            walk(kid)

    walk(root)
    return ordered


@pytest.mark.parametrize("n", [40, 200])
def test_tower_labels_do_not_overlap(n: int) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    data = charts.tower_data(synthetic_tower(n), "zh", "雁山区团委", date(2025, 12, 1))
    fig = charts.tree_figure(data)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for t in fig.texts if t.get_text()]
    for ax in fig.axes:
        texts += [t for t in ax.texts if t.get_text()]
    labels = [t for t in texts if t.get_bbox_patch() is not None]
    assert len(labels) == n
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in labels]
    boxes += [t.get_window_extent(renderer) for t in texts if t.get_bbox_patch() is None]
    width, height = fig.canvas.get_width_height()
    for i, a in enumerate(boxes):
        assert a.x0 >= 0 and a.y0 >= 0 and a.x1 <= width and a.y1 <= height, (i, a)
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    assert width == 1080 and height / width <= 4  # still a phone-sized picture
