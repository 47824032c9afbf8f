"""The daily report's 7-day trend: one small chart per standard, drawn with matplotlib (Agg).

Figures are built with the object API (``Figure`` + Agg canvas), never ``pyplot``: no global
state, so report requests in different threads cannot draw into each other's figure. Chinese
labels need the Noto CJK font that ``scripts/setup.sh`` installs (``fonts-noto-cjk``); where it is
absent the chart is labelled in English rather than with empty boxes.
"""

from __future__ import annotations

import io
import logging
import math
from enum import StrEnum
from functools import cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from serving.schemas.reports import DailyReport
from serving.services.reports import METRICS

log = logging.getLogger(__name__)

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")  # where Debian's fonts-noto-cjk puts them
NOTO_SANS = "NotoSansCJK-Regular"
COLUMNS = 3
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#7f7f7f", "#d62728")  # one per metric


class ChartFormat(StrEnum):
    PNG = "png"
    SVG = "svg"


MEDIA_TYPES = {ChartFormat.PNG: "image/png", ChartFormat.SVG: "image/svg+xml"}


@cache
def cjk_font_file() -> str | None:
    """Noto Sans CJK as font_manager finds it under NOTO_DIR; None (logged once) where absent."""
    for path in sorted(font_manager.findSystemFonts(fontpaths=[str(NOTO_DIR)])):
        if Path(path).stem == NOTO_SANS:
            return path
    log.warning("no %s font under %s: trend charts are labelled in English", NOTO_SANS, NOTO_DIR)
    return None


def trend_chart(report: DailyReport, fmt: ChartFormat = ChartFormat.PNG, lang: str = "zh") -> bytes:
    """The report's trend as a PNG or SVG: per standard, each metric's count on each day."""
    cjk = cjk_font_file() if lang == "zh" else None
    zh = cjk is not None

    def font(size: float) -> FontProperties:
        return FontProperties(fname=cjk, size=size) if cjk else FontProperties(size=size)

    days = sorted({p.day for p in report.trend})
    rows = math.ceil(len(report.standards) / COLUMNS)
    figure = Figure(figsize=(4.2 * COLUMNS, 2.6 * rows + 0.9), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, COLUMNS, squeeze=False, sharex=True).ravel()
    for standard, ax in zip(report.standards, grid, strict=False):
        points = {p.day: p for p in report.trend if p.standard == standard.id}
        for (field, label_zh, label_en), colour in zip(METRICS, COLOURS, strict=True):
            ax.plot(
                range(len(days)),
                [getattr(points[d], field) for d in days],
                marker="o",
                markersize=3,
                color=colour,
                label=label_zh if zh else label_en,
            )
        name = standard.name_zh if zh else standard.name_en
        ax.set_title(f"{standard.id} {name}", fontproperties=font(10))
        ax.set_xticks(range(len(days)), [d.strftime("%m-%d") for d in days], fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
        ax.grid(alpha=0.3)
    for ax in grid[len(report.standards) :]:
        ax.set_visible(False)  # panels beyond the last standard
    handles, labels = grid[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper right", ncols=len(METRICS), prop=font(9))
    first, last = days[0].isoformat(), days[-1].isoformat()
    title = (
        f"近{len(days)}日趋势（{first} 至 {last}）"
        if zh
        else f"{len(days)}-day trend ({first} to {last})"
    )
    figure.suptitle(title, fontproperties=font(12), x=0.02, ha="left")
    out = io.BytesIO()
    metadata = {"Date": None} if fmt is ChartFormat.SVG else {"Software": None}
    figure.savefig(out, format=fmt.value, metadata=metadata)
    return out.getvalue()
