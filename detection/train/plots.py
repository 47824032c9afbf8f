"""Evaluation figures: confusion matrix, PR curves (matplotlib Agg), error galleries (OpenCV)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from detection.train.metrics import FArr

TILE = 160


# What the figures read of ``evaluate.Accumulator`` and ``evaluate.ErrorCase``. Protocols, not
# imports: ``evaluate.write_outputs`` calls these figures, so importing evaluate here is a cycle.
class Tally(Protocol):
    nc: int
    tp: list[npt.NDArray[np.bool_]]
    conf: list[FArr]
    pred_cls: list[npt.NDArray[np.int64]]
    n_gt: npt.NDArray[np.int64]
    confusion: npt.NDArray[np.int64]


class Case(Protocol):
    @property
    def image(self) -> Path: ...
    @property
    def xyxy(self) -> tuple[float, float, float, float]: ...
    @property
    def name(self) -> str: ...
    @property
    def score(self) -> float: ...


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(acc: Tally, names: Sequence[str], out: Path) -> Path:
    """Row-normalised confusion matrix over the classes that occur (plus background)."""
    plt = _pyplot()
    used = [i for i in range(acc.nc) if acc.confusion[i].sum() or acc.confusion[:, i].sum()]
    idx = [*used, acc.nc]
    labels = [names[i] for i in used] + ["background"]
    m = acc.confusion[np.ix_(idx, idx)].astype(float)
    norm = m / np.maximum(m.sum(axis=0, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(idx), 0.5 * len(idx)), constrained_layout=True)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(idx)), labels, rotation=90)
    ax.set_yticks(range(len(idx)), labels)
    ax.set_xlabel("true class")
    ax.set_ylabel("predicted class")
    for (r, c), v in np.ndenumerate(m):
        if v:
            ax.text(c, r, int(v), ha="center", va="center", fontsize=7)
    ax.set_title("confusion matrix (conf 0.25, IoU 0.45; columns normalised)")
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_pr_curves(acc: Tally, names: Sequence[str], out: Path) -> Path:
    """Precision-recall curve at IoU 0.5 for every class with ground truth."""
    plt = _pyplot()
    tp = np.concatenate(acc.tp)[:, 0] if acc.tp else np.zeros(0, bool)
    conf = np.concatenate(acc.conf) if acc.conf else np.zeros(0)
    cls = np.concatenate(acc.pred_cls) if acc.pred_cls else np.zeros(0, np.int64)
    fig, ax = plt.subplots(figsize=(7, 6), constrained_layout=True)
    for c in np.nonzero(acc.n_gt)[0]:
        order = np.argsort(-conf[cls == c], kind="stable")
        hits = tp[cls == c][order]
        recall = hits.cumsum() / acc.n_gt[c]
        precision = hits.cumsum() / np.arange(1, len(hits) + 1)
        ax.plot(recall, precision, label=f"{names[int(c)]} ({acc.n_gt[c]})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("PR curves, IoU 0.5")
    ax.legend(fontsize=7, loc="lower left")
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def error_gallery(cases: Sequence[Case], out: Path, title: str, limit: int = 24) -> Path:
    """The ``limit`` worst cases (highest score first) as a grid of crops with some context."""
    worst = sorted(cases, key=lambda c: -c.score)[:limit]
    cols = 6
    rows = max(1, -(-len(worst) // cols))
    grid = np.full((rows * TILE + 24, cols * TILE, 3), 255, np.uint8)
    cv2.putText(grid, title, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for k, case in enumerate(worst):
        tile = _crop(case)
        r, c = divmod(k, cols)
        grid[24 + r * TILE : 24 + (r + 1) * TILE, c * TILE : (c + 1) * TILE] = tile
    cv2.imwrite(str(out), grid)
    return out


def _crop(case: Case) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(case.image))
    tile = np.full((TILE, TILE, 3), 200, np.uint8)
    if image is None:
        return tile
    x1, y1, x2, y2 = case.xyxy
    pad = 0.25 * max(x2 - x1, y2 - y1, 16)
    h, w = image.shape[:2]
    cx1, cy1 = max(int(x1 - pad), 0), max(int(y1 - pad), 0)
    cx2, cy2 = min(int(x2 + pad), w), min(int(y2 + pad), h)
    crop = image[cy1:cy2, cx1:cx2].copy()
    cv2.rectangle(
        crop, (int(x1) - cx1, int(y1) - cy1), (int(x2) - cx1, int(y2) - cy1), (0, 0, 255), 2
    )
    scale = (TILE - 20) / max(crop.shape[:2])
    crop = cv2.resize(
        crop, (max(int(crop.shape[1] * scale), 1), max(int(crop.shape[0] * scale), 1))
    )
    tile[: crop.shape[0], : crop.shape[1]] = crop
    label = f"{case.name} {case.score:.2f}" if case.score <= 1 else case.name
    cv2.putText(
        tile, label[:22], (2, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
    )
    return tile
