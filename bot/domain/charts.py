"""Charts as PNG: the numbers first (pure functions, tested), then the drawing (matplotlib Agg).

Sized for a phone (1080 px wide). Chinese labels use Noto Sans CJK SC, shipped by the pinned
`mplfonts` package (SIL OFL); a font dropped into `bot/assets/` is used instead when present.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bot.domain.stats import StatsView, pct
from bot.domain.xlsx import day_words, text_width
from bot.texts import t

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

log = logging.getLogger(__name__)

WIDTH_PX = 1080
DPI = 150
GREEN, AMBER, RED = "#2e9d4f", "#f0a020", "#d64541"
COLOURS = {"green": GREEN, "amber": AMBER, "red": RED}
AMBER_BELOW = 80  # member coverage % under which an org is amber


class BarData(BaseModel):
    """Grouped horizontal bars: one group per label, one bar per series."""

    title: str
    labels: list[str]
    series: dict[str, list[float]]
    unit: str = ""
    xmax: float | None = None
    stamp: str = ""


class TreeNode(BaseModel):
    id: int
    parent_id: int | None
    label: str
    health: str  # green | amber | red
    x: float = 0.0
    depth: int = 0
    row: int = 0  # position in the indented list (parents before their children)


class TreeData(BaseModel):
    title: str
    nodes: list[TreeNode]
    legend: dict[str, str]
    stamp: str = ""


# --- the numbers -----------------------------------------------------------------------------


def _groups(view: StatsView) -> list[Any]:
    """Direct children, or the org itself when it has none."""
    return view.children or [view.total]


def stamp(lang: str, today: date) -> str:
    """'截至 12月1日' / 'as of 1 Dec'."""
    return str(t(lang, "chart_as_of", date=day_words(lang, today, year=False)))


def empty_reason(kind: str, view: StatsView) -> str | None:
    """The catalogue key that answers in words when the chart would be empty (None: draw it)."""
    if not view.children:
        return "chart_empty_no_children"
    if kind == "hours" and not any(f.quarters_all for f in view.children):
        return "chart_empty_hours"
    return None


def _bars(
    view: StatsView,
    lang: str,
    today: date | None,
    title: str,
    series: dict[str, str],
    unit: str,
    xmax: float | None = None,
) -> BarData:
    """One bar group per direct child; `series` maps a catalogue key to a `Figures.numbers` name."""
    groups = _groups(view)
    numbers = [f.numbers() for f in groups]
    return BarData(
        stamp=stamp(lang, today) if today else "",
        title=str(t(lang, title, org=view.total.org.name)),
        labels=[f.org.name for f in groups],
        series={
            str(t(lang, key)): [float(n[name]) for n in numbers] for key, name in series.items()
        },
        unit=unit,
        xmax=xmax,
    )


def hours_data(view: StatsView, lang: str, today: date | None = None) -> BarData:
    """Approved hours per direct child: this year and all time."""
    series = {"chart_hours_year": "hours_year", "chart_hours_all": "hours_all"}
    return _bars(view, lang, today, "chart_hours_title", series, str(t(lang, "chart_unit_hours")))


def coverage_data(view: StatsView, lang: str, today: date | None = None) -> BarData:
    """Per direct child: chat coverage, staffing (配备率 of posts), cadres active (在岗率) and
    member coverage, in %."""
    series = {
        "chart_cov_chats": "chat_pct",
        "chart_cov_staffed": "cadre_pct",  # = staffed_pct while only the default post exists
        "chart_cov_active": "active_pct",
        "chart_cov_members": "member_pct",
    }
    return _bars(view, lang, today, "chart_coverage_title", series, "%", xmax=100.0)


def health(row: dict[str, Any]) -> str:
    """red: no active chat, or a report-back overdue; amber: member coverage under 80 %, no
    secretary, or a report-back owed and not yet due; green otherwise."""
    if not row["has_chat"] or row["campaigns_missing"]:
        return "red"
    if (
        (row["members"] and pct(row["members_in_chat"], row["members"]) < AMBER_BELOW)
        or not row["staffed"]
        or row["campaigns_due"]
    ):
        return "amber"
    return "green"


def tower_data(
    rows: list[dict[str, Any]], lang: str, title_org: str, today: date | None = None
) -> TreeData:
    """The subtree as a tree laid out top-down: leaves side by side, parents centred."""
    mark = stamp(lang, today) if today else ""
    if not rows:
        return TreeData(
            title=str(t(lang, "chart_tower_title", org=title_org)), nodes=[], legend={}, stamp=mark
        )
    ids = {r["id"] for r in rows}
    top_depth = min(r["depth"] for r in rows)
    nodes = {
        r["id"]: TreeNode(
            id=r["id"],
            parent_id=r["parent_id"] if r["parent_id"] in ids else None,
            label=r["name"],
            health=health(r),
            depth=r["depth"] - top_depth,
        )
        for r in rows
    }
    kids: dict[int | None, list[int]] = {}
    for r in rows:  # rows come parents first, children by code
        kids.setdefault(nodes[r["id"]].parent_id, []).append(r["id"])
    cursor = [0.0]
    order = [0]

    def place(node_id: int) -> float:
        nodes[node_id].row = order[0]
        order[0] += 1
        children = kids.get(node_id, [])
        if not children:
            x = cursor[0]
            cursor[0] += 1.0
        else:
            xs = [place(c) for c in children]
            x = (xs[0] + xs[-1]) / 2
        nodes[node_id].x = x
        return x

    for root in kids.get(None, []):
        place(root)
    legend = {colour: str(t(lang, "chart_tower_" + colour)) for colour in ("green", "amber", "red")}
    return TreeData(
        title=str(t(lang, "chart_tower_title", org=title_org)),
        nodes=sorted(nodes.values(), key=lambda n: n.row),
        legend=legend,
        stamp=mark,
    )


# --- the drawing -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Register a CJK font with matplotlib; returns its family name (None: none found)."""
    from matplotlib import font_manager

    candidates = sorted(Path(__file__).resolve().parents[1].joinpath("assets").glob("*.[ot]tf"))
    try:
        import importlib.util

        spec = importlib.util.find_spec("mplfonts")
        if spec and spec.origin:
            candidates.append(Path(spec.origin).parent / "fonts" / "NotoSansCJKsc-Regular.otf")
    except (ImportError, ValueError):
        pass
    for path in candidates:
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
    log.warning("no CJK font found: Chinese labels will not render")
    return None


def _figure(height_px: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_PX / DPI, max(height_px, 400) / DPI), dpi=DPI)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _rc() -> dict[RcKeyType, Any]:
    family = cjk_font()
    return {
        "font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
        "axes.unicode_minus": False,
        "font.size": 9,
    }


def _stamp(fig: Any, text: str) -> None:
    if text:
        fig.text(0.99, 0.005, text, ha="right", va="bottom", fontsize=7, color="#555555")


def bars_figure(data: BarData) -> Any:
    """The bar chart as a matplotlib Figure (not yet saved): percentages end at 100 %."""
    import matplotlib
    from matplotlib.ticker import PercentFormatter

    with matplotlib.rc_context(_rc()):
        n = max(1, len(data.labels))
        k = max(1, len(data.series))
        fig = _figure(180 + n * (30 + 22 * k))
        ax = fig.add_subplot(111)
        height = 0.8 / k
        palette = ["#3b6fb6", "#f0a020", "#2e9d4f", "#8e44ad"]
        sep = "" if data.unit == "%" else " "
        for i, (name, values) in enumerate(data.series.items()):
            ys = [j + i * height for j in range(len(values))]
            bars = ax.barh(ys, values, height=height, label=name, color=palette[i % len(palette)])
            ax.bar_label(
                bars, labels=[f"{v:g}{sep}{data.unit}" for v in values], padding=2, fontsize=7
            )
        ax.set_yticks([j + height * (k - 1) / 2 for j in range(n)], data.labels)
        ax.invert_yaxis()
        if data.unit == "%":
            ax.set_xlim(0, 100)  # a share never reads past 100 %
            ax.xaxis.set_major_formatter(PercentFormatter(100))
        else:
            top = data.xmax or max([v for vs in data.series.values() for v in vs] + [1.0])
            ax.set_xlim(0, top * 1.15)
            ax.set_xlabel(data.unit)
        ax.set_title(data.title)
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=k, fontsize=7, frameon=False
        )
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout(rect=(0, 0.03, 0.97, 1))
        _stamp(fig, data.stamp)
        return fig


def draw_bars(data: BarData) -> bytes:
    """The bar chart as PNG bytes."""
    return _png(bars_figure(data))


TREE_MAX_LEAVES = 12  # more leaves than this and the tower becomes an indented list
LIST_ROWS = 50  # rows per column of the indented list
ROW_PX = 34
INDENT_PX = 22
CHAR_PX = 10.0  # one half-width character at the list's font size (a wide one counts two)


def tree_figure(data: TreeData) -> Any:
    """The tower as a Figure: a top-down tree while it is small, else an indented list."""
    leaves = max([n.x for n in data.nodes] + [0]) + 1
    if leaves <= TREE_MAX_LEAVES:
        return _top_down(data)
    return _indented(data)


def draw_tree(data: TreeData) -> bytes:
    """The tower as PNG bytes."""
    return _png(tree_figure(data))


def _legend(fig: Any, data: TreeData, y: float) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=COLOURS[c], label=label) for c, label in data.legend.items()]
    if handles:
        fig.legend(
            handles=handles,
            loc="upper center",
            ncol=1,
            fontsize=7,
            frameon=False,
            bbox_to_anchor=(0.5, y),
        )


def _top_down(data: TreeData) -> Any:
    import matplotlib

    with matplotlib.rc_context(_rc()):
        depth = max([n.depth for n in data.nodes] + [0]) + 1
        fig = _figure(260 + depth * 170)
        ax = fig.add_axes((0.02, 0.08, 0.96, 0.70))
        ax.set_axis_off()
        fig.suptitle(data.title, y=0.985)
        _legend(fig, data, 0.95)
        by_id = {n.id: n for n in data.nodes}
        for node in data.nodes:
            parent = by_id.get(node.parent_id) if node.parent_id else None
            if parent is not None:
                ax.plot(
                    [parent.x, node.x],
                    [-parent.depth, -node.depth],
                    color="#999999",
                    linewidth=0.8,
                    zorder=1,
                )
        width = max([n.x for n in data.nodes] + [0]) + 1
        size = max(5, min(9, 90 / width))
        for node in data.nodes:
            ax.text(
                node.x,
                -node.depth,
                node.label,
                ha="center",
                va="center",
                fontsize=size,
                color="white",
                zorder=2,
                rotation=0 if width <= 6 else 90,
                bbox={
                    "boxstyle": "round,pad=0.3",
                    "facecolor": COLOURS[node.health],
                    "edgecolor": "none",
                },
            )
        ax.set_xlim(-0.7, width - 0.3)
        ax.set_ylim(-depth + 0.4, 0.6)
        _stamp(fig, data.stamp)
        return fig


def fit_label(label: str, budget: int) -> str:
    """The label cut to `budget` half-width units (a wide character counts two), with '…'."""
    if text_width(label) <= budget:
        return label
    out = ""
    for ch in label:
        if text_width(out + ch) > budget - 1:
            break
        out += ch
    return out + "…"


def _indented(data: TreeData) -> Any:
    """One row per org, indented by depth, in columns of LIST_ROWS; labels never overlap."""
    import matplotlib

    nodes = sorted(data.nodes, key=lambda n: n.row)
    columns = max(1, -(-len(nodes) // LIST_ROWS))
    per_column = -(-len(nodes) // columns)
    head_px, foot_px = 170, 40
    height = head_px + per_column * ROW_PX + foot_px
    column_px = WIDTH_PX / columns
    with matplotlib.rc_context(_rc()):
        fig = _figure(height)
        fig.suptitle(data.title, y=1 - 20 / height)
        _legend(fig, data, 1 - 50 / height)
        for i, node in enumerate(nodes):
            col, row = divmod(i, per_column)
            x_px = col * column_px + 16 + INDENT_PX * node.depth
            y_px = height - head_px - (row + 0.5) * ROW_PX
            budget = int((column_px - 16 - INDENT_PX * node.depth - 24) / CHAR_PX)
            fig.text(
                x_px / WIDTH_PX,
                y_px / height,
                fit_label(node.label, max(budget, 4)),
                ha="left",
                va="center",
                fontsize=8,
                color="white",
                bbox={
                    "boxstyle": "round,pad=0.25",
                    "facecolor": COLOURS[node.health],
                    "edgecolor": "none",
                },
            )
        _stamp(fig, data.stamp)
        return fig
