"""Dataset statistics: per-class box counts, box sizes and images per source, with a PNG plot."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detection.data.samples import Sample


@dataclass
class DatasetStats:
    images: int = 0
    images_per_source: Counter[str] = field(default_factory=Counter)
    boxes_per_class: Counter[str] = field(default_factory=Counter)
    box_sides: dict[str, list[float]] = field(default_factory=dict)  # sqrt(area), normalised
    empty_images: int = 0

    def to_dict(self) -> dict[str, Any]:
        sizes = {
            name: {
                "median": float(np.median(v)),
                "p10": float(np.percentile(v, 10)),
                "p90": float(np.percentile(v, 90)),
            }
            for name, v in sorted(self.box_sides.items())
        }
        return {
            "images": self.images,
            "empty_images": self.empty_images,
            "images_per_source": dict(sorted(self.images_per_source.items())),
            "boxes_per_class": dict(self.boxes_per_class.most_common()),
            "box_side_fraction": sizes,
        }


def compute_stats(samples: list[Sample]) -> DatasetStats:
    stats = DatasetStats(images=len(samples))
    for sample in samples:
        stats.images_per_source[sample.source] += 1
        stats.empty_images += not sample.all_boxes
        for box in sample.all_boxes:
            stats.boxes_per_class[box.label] += 1
            stats.box_sides.setdefault(box.label, []).append(float(np.sqrt(box.area)))
    return stats


def plot_stats(stats: DatasetStats, out: Path, title: str) -> Path:
    """Three panels (boxes per class, box size per class, images per source) as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = [name for name, _ in stats.boxes_per_class.most_common()]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), constrained_layout=True)
    axes[0].barh(classes[::-1], [stats.boxes_per_class[c] for c in classes[::-1]])
    axes[0].set_xscale("log")
    axes[0].set_title("boxes per class (log)")
    axes[1].boxplot(
        [stats.box_sides[c] for c in classes[::-1]], orientation="horizontal", showfliers=False
    )
    axes[1].set_yticks(range(1, len(classes) + 1), classes[::-1])
    axes[1].set_title("box size: sqrt(area) / image")
    sources = sorted(stats.images_per_source)
    axes[2].bar(sources, [stats.images_per_source[s] for s in sources])
    axes[2].set_title("images per source")
    fig.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def write_stats_json(stats: DatasetStats, out: Path) -> None:
    out.write_text(json.dumps(stats.to_dict(), indent=1), encoding="utf-8")
