"""Charts as PNG: the numbers first (pure functions, tested), then the drawing (matplotlib Agg).

Sized for a phone (1080 px wide). Chinese labels use Noto Sans CJK SC, shipped by the pinned
`mplfonts` package (SIL OFL); a font dropped into `bot/assets/` is used instead when present.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bot.domain.stats import StatsView, pct
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


class TreeNode(BaseModel):
    id: int
    parent_id: int | None
    label: str
    health: str  # green | amber | red
    x: float = 0.0
    depth: int = 0


class TreeData(BaseModel):
    title: str
    nodes: list[TreeNode]
    legend: dict[str, str]


# --- the numbers -----------------------------------------------------------------------------

def _groups(view: StatsView) -> list[Any]:
    """Direct children, or the org itself when it has none."""
    return view.children or [view.total]


def hours_data(view: StatsView, lang: str) -> BarData:
    """Approved hours per direct child: this year and all time."""
    groups = _groups(view)
    return BarData(
        title=str(t(lang, "chart_hours_title", org=view.total.org.name)),
        labels=[f.org.name for f in groups],
        series={str(t(lang, "chart_hours_year")): [f.hours_year for f in groups],
                str(t(lang, "chart_hours_all")): [f.hours_all for f in groups]},
        unit="h")


def coverage_data(view: StatsView, lang: str) -> BarData:
    """Per direct child: chat coverage, staffing and member coverage, in %."""
    groups = _groups(view)
    return BarData(
        title=str(t(lang, "chart_coverage_title", org=view.total.org.name)),
        labels=[f.org.name for f in groups],
        series={str(t(lang, "chart_cov_chats")): [float(f.chat_pct) for f in groups],
                str(t(lang, "chart_cov_staffed")): [float(f.staffed_pct) for f in groups],
                str(t(lang, "chart_cov_members")): [float(f.member_pct) for f in groups]},
        unit="%", xmax=100.0)


def health(row: dict[str, Any]) -> str:
    """red: no active chat, or a report-back overdue; amber: member coverage under 80 %, no
    secretary, or a report-back owed and not yet due; green otherwise."""
    if not row["has_chat"] or row["campaigns_missing"]:
        return "red"
    if (row["members"] and pct(row["members_in_chat"], row["members"]) < AMBER_BELOW) \
            or not row["staffed"] or row["campaigns_due"]:
        return "amber"
    return "green"


def tower_data(rows: list[dict[str, Any]], lang: str, title_org: str) -> TreeData:
    """The subtree as a tree laid out top-down: leaves side by side, parents centred."""
    if not rows:
        return TreeData(title=str(t(lang, "chart_tower_title", org=title_org)), nodes=[],
                        legend={})
    ids = {r["id"] for r in rows}
    top_depth = min(r["depth"] for r in rows)
    nodes = {r["id"]: TreeNode(
        id=r["id"], parent_id=r["parent_id"] if r["parent_id"] in ids else None,
        label=r["name"], health=health(r), depth=r["depth"] - top_depth) for r in rows}
    kids: dict[int | None, list[int]] = {}
    for r in rows:  # rows come parents first, children by code
        kids.setdefault(nodes[r["id"]].parent_id, []).append(r["id"])
    cursor = [0.0]

    def place(node_id: int) -> float:
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
    return TreeData(title=str(t(lang, "chart_tower_title", org=title_org)),
                    nodes=list(nodes.values()), legend=legend)


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
    return {"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
            "axes.unicode_minus": False, "font.size": 9}


def draw_bars(data: BarData) -> bytes:
    import matplotlib

    with matplotlib.rc_context(_rc()):
        n = max(1, len(data.labels))
        k = max(1, len(data.series))
        fig = _figure(160 + n * (30 + 22 * k))
        ax = fig.add_subplot(111)
        height = 0.8 / k
        palette = ["#3b6fb6", "#f0a020", "#2e9d4f", "#8e44ad"]
        for i, (name, values) in enumerate(data.series.items()):
            ys = [j + i * height for j in range(len(values))]
            bars = ax.barh(ys, values, height=height, label=name, color=palette[i % len(palette)])
            ax.bar_label(bars, labels=[f"{v:g}{data.unit}" for v in values], padding=2,
                         fontsize=7)
        ax.set_yticks([j + height * (k - 1) / 2 for j in range(n)], data.labels)
        ax.invert_yaxis()
        top = data.xmax or max([v for vs in data.series.values() for v in vs] + [1.0])
        ax.set_xlim(0, top * 1.15)
        ax.set_title(data.title)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=k, fontsize=7,
                  frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return _png(fig)


def draw_tree(data: TreeData) -> bytes:
    import matplotlib

    with matplotlib.rc_context(_rc()):
        depth = max([n.depth for n in data.nodes] + [0]) + 1
        fig = _figure(160 + depth * 170)
        ax = fig.add_subplot(111)
        ax.set_axis_off()
        ax.set_title(data.title)
        by_id = {n.id: n for n in data.nodes}
        for node in data.nodes:
            parent = by_id.get(node.parent_id) if node.parent_id else None
            if parent is not None:
                ax.plot([parent.x, node.x], [-parent.depth, -node.depth], color="#999999",
                        linewidth=0.8, zorder=1)
        width = max([n.x for n in data.nodes] + [0]) + 1
        size = max(5, min(9, 90 / width))
        for node in data.nodes:
            ax.text(node.x, -node.depth, node.label, ha="center", va="center", fontsize=size,
                    color="white", zorder=2, rotation=0 if width <= 12 else 90,
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": COLOURS[node.health],
                          "edgecolor": "none"})
        ax.set_xlim(-0.7, width - 0.3)
        ax.set_ylim(-depth + 0.4, 0.6)
        from matplotlib.patches import Patch

        handles = [Patch(color=COLOURS[c], label=label)
                   for c, label in data.legend.items()]
        if handles:
            ax.legend(handles=handles, loc="lower center", ncol=3, fontsize=7, frameon=False,
                      bbox_to_anchor=(0.5, -0.08))
        fig.tight_layout()
        return _png(fig)
