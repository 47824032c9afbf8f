"""Measure teacher classes before using them: precision against labelled truth, or a gallery of
crops for a person to check where no labels exist (``shirong data teachers RECIPE``).

Precision is measured on the images where the truth is complete for that class: a source's human
labels (e.g. Open Images ``Plastic bag`` on the trash-bag photos), or another teacher's confident
boxes (``Dog`` against the COCO teacher). A teacher box is right when it overlaps an unmatched truth
box by ``truth.iou``, matched greedily from the most confident box down (as detection AP does).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from detection.core import box_iou
from detection.data.checks import load_bgr
from detection.data.recipe import Recipe, collect, load_recipe, recipe_taxonomy, teach
from detection.data.samples import Box, Sample
from detection.data.teacher import RawBox
from detection.data.teachers import TeacherClass, TeacherSpec, Truth

SWEEP = (0.2, 0.3, 0.4, 0.5, 0.6)
TILE = 128


@dataclass(frozen=True)
class Row:
    """One teacher class: its measured precision (None without truth) and box counts."""

    teacher: str
    name: str
    to: str
    conf: float
    boxes: int
    precision: float | None
    recall: float | None
    truth: str
    sweep: tuple[tuple[float, float | None, int], ...]


Raw = dict[str, dict[Path, list[RawBox]]]


def measure(recipe_file: Path, cache_dir: Path | None) -> tuple[list[Row], Raw, list[Sample]]:
    """Every teacher class of a recipe, measured where it has truth, counted where it has not."""
    recipe = load_recipe(recipe_file, check_bar=False)
    taxonomy = recipe_taxonomy(recipe)
    result, infos, _, _ = collect(recipe, recipe_file, taxonomy)
    samples = result.samples
    raw = teach(recipe, samples, infos, taxonomy, cache_dir)
    rows = [
        _row(spec, name, cls, raw, samples)
        for spec in recipe.teachers
        for name, cls in spec.classes.items()
    ]
    return rows, raw, samples


def _row(spec: TeacherSpec, name: str, cls: TeacherClass, raw: Raw, samples: list[Sample]) -> Row:
    mine = raw[spec.name]
    if cls.truth is None:
        n = sum(
            1 for boxes in mine.values() for r in boxes if r.name == name and r.conf >= cls.conf
        )
        return Row(spec.name, name, cls.to, cls.conf, n, None, None, "gallery", ())
    images, truth = _truth(cls.truth, raw, samples)
    sweep = tuple((c, *_precision(mine, images, truth, name, c, cls.truth.iou)) for c in SWEEP)
    p, r, n = _precision(mine, images, truth, name, cls.conf, cls.truth.iou)
    label = f"{cls.truth.source or cls.truth.teacher}:{cls.truth.name}"
    return Row(
        spec.name,
        name,
        cls.to,
        cls.conf,
        n,
        p,
        r,
        label,
        tuple((c, p_, n_) for c, p_, _, n_ in sweep),
    )


def _truth(
    truth: Truth, raw: Raw, samples: list[Sample]
) -> tuple[list[Path], dict[Path, list[Box]]]:
    if truth.source is not None:
        images = [s.image for s in samples if s.source == truth.source]
        by_image = {s.image: [b for b in s.boxes if b.label == truth.name] for s in samples}
        return images, {i: by_image[i] for i in images}
    assert truth.teacher is not None
    other = raw[truth.teacher]
    boxes = {
        i: [r.box for r in rows if r.name == truth.name and r.conf >= truth.conf]
        for i, rows in other.items()
    }
    return list(other), boxes


def _precision(
    raw: dict[Path, list[RawBox]],
    images: Sequence[Path],
    truth: dict[Path, list[Box]],
    name: str,
    conf: float,
    iou: float,
) -> tuple[float | None, float | None, int]:
    """(precision, recall, teacher boxes) of one class at one confidence."""
    hits = found = total_truth = 0
    for image in images:
        preds = sorted(
            (r for r in raw.get(image, []) if r.name == name and r.conf >= conf),
            key=lambda r: -r.conf,
        )
        gts, used = truth.get(image, []), set[int]()
        total_truth += len(gts)
        overlap = box_iou([p.box.xyxy for p in preds], [g.xyxy for g in gts])
        for j in range(len(preds)):
            found += 1
            best = max(
                ((float(overlap[j, k]), k) for k in range(len(gts)) if k not in used),
                default=(0.0, -1),
            )
            if best[0] >= iou:
                used.add(best[1])
                hits += 1
    precision = hits / found if found else None
    recall = hits / total_truth if total_truth else None
    return precision, recall, found


def gallery(
    raw: dict[Path, list[RawBox]], name: str, conf: float, out: Path, n: int = 50, seed: int = 0
) -> int:
    """A numbered sheet of up to ``n`` random crops of one teacher class, for a person to check."""
    boxes = [
        (image, r)
        for image, rows in sorted(raw.items())
        for r in rows
        if r.name == name and r.conf >= conf
    ]
    picked = random.Random(seed).sample(boxes, min(n, len(boxes)))
    tiles = [_tile(image, r, k) for k, (image, r) in enumerate(picked, start=1)]
    if not tiles:
        return 0
    cols = 10
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows))
    return len(picked)


def _tile(image: Path, raw: RawBox, number: int) -> npt.NDArray[np.uint8]:
    """The box with a margin of context, its outline drawn, its number and confidence written."""
    bgr = load_bgr(image)
    tile = np.zeros((TILE, TILE, 3), np.uint8)
    if bgr is None:
        return tile
    h, w = bgr.shape[:2]
    b = raw.box
    mx, my = (b.x2 - b.x1) * 0.25, (b.y2 - b.y1) * 0.25
    x1, y1 = int(max(0, (b.x1 - mx) * w)), int(max(0, (b.y1 - my) * h))
    x2, y2 = int(min(w, (b.x2 + mx) * w)), int(min(h, (b.y2 + my) * h))
    crop = bgr[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)].copy()
    cv2.rectangle(
        crop,
        (int(b.x1 * w) - x1, int(b.y1 * h) - y1),
        (int(b.x2 * w) - x1, int(b.y2 * h) - y1),
        (0, 255, 0),
        2,
    )
    scale = TILE / max(crop.shape[:2])
    small = cv2.resize(
        crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale)))
    )
    tile[: small.shape[0], : small.shape[1]] = small
    cv2.putText(
        tile, f"{number} {raw.conf:.2f}", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1
    )
    return tile


def markdown(rows: Sequence[Row], recipe: Recipe) -> str:
    """The precision table, with the recipe's recorded figures and decisions beside the measured."""
    specs = {(s.name, k): v for s in recipe.teachers for k, v in s.classes.items()}
    lines = [
        "| teacher | class | → taxonomy | conf | boxes | precision | recall | truth | used |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cls = specs[(r.teacher, r.name)]
        p = r.precision if r.precision is not None else cls.precision
        shown = "—" if p is None else f"{p:.2f}"
        if r.precision is None and cls.precision is not None:
            shown += " (gallery)"
        rec = "—" if r.recall is None else f"{r.recall:.2f}"
        used = "yes" if cls.use else f"no: {cls.reason}"
        cells = [r.teacher, r.name, r.to, r.conf, r.boxes, shown, rec, r.truth, used]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)
