"""How many reviewed images does a new class need? Fine-tune a base that never saw the class on
N labelled images of it, score the class on a fixed test split, and record the CPU time.

The N images are drawn (per seed) from the train split of a built dataset among those holding the
class, as a reviewer's first labels would be; the test split is the dataset's own and the same for
every point. Nothing is copied: a point's data.yaml lists its train images in a text file.
"""

from __future__ import annotations

import json
import random
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from detection.data.yolo import label_path
from detection.errors import InputError
from detection.train.config import TrainConfig
from detection.train.evaluate import split_images


@dataclass(frozen=True)
class Point:
    """One fine-tune: the class, how many images, the seed, the score and its cost."""

    cls: str
    images: int
    seed: int
    map50: float
    recall: float
    cpu_s: float
    wall_s: float


def images_with(data_yaml: Path, split: str, cls: str) -> list[Path]:
    """Images of one split whose labels hold at least one box of ``cls``."""
    names, images = split_images(data_yaml, split)
    if cls not in names:
        raise InputError(f"{data_yaml}: no class '{cls}' (classes: {', '.join(names)})")
    want, root = str(names.index(cls)), data_yaml.parent
    return [
        i for i in images if want in _label_classes(label_path(i, root / "images", root / "labels"))
    ]


def _label_classes(label: Path) -> set[str]:
    text = label.read_text(encoding="utf-8") if label.is_file() else ""
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def subset(data_yaml: Path, cls: str, n: int, seed: int, out: Path) -> Path:
    """A data.yaml training on ``n`` random train images holding ``cls``, tested as the source."""
    pool = images_with(data_yaml, "train", cls)
    if len(pool) < n:
        raise InputError(f"{data_yaml}: only {len(pool)} train images hold '{cls}', {n} asked")
    picked = sorted(random.Random(seed).sample(pool, n))
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.txt").write_text("".join(f"{p}\n" for p in picked), encoding="utf-8")
    doc = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    root = data_yaml.parent.resolve()
    doc.update(path=str(root), train=str(out / "train.txt"))
    (out / "data.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return out / "data.yaml"


def capped(counts: Sequence[int], available: int) -> list[int]:
    """The counts a class can have: those below its train images, then all of them once a count
    asks for more (traffic_cone has 172: 25, 50, 100 and 172 for 25-200)."""
    below = [n for n in counts if n < available]
    return [*below, available] if len(below) < len(counts) else below


def _cpu_seconds() -> float:
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def point(template: TrainConfig, base: Path, data_yaml: Path, cls: str, n: int, seed: int) -> Point:
    """Fine-tune ``base`` on ``n`` images of ``cls`` and score the class on the test split."""
    from detection.train.evaluate import evaluate_model
    from detection.train.trainer import train

    folder = template.resolve(template.project) / f"{cls}-{n}-s{seed}"
    data = subset(data_yaml, cls, n, seed, folder / "data")
    config = template.model_copy(
        update={"name": folder.name, "data": data, "recipe": None, "base": base, "seed": seed}
    )
    cpu, wall = _cpu_seconds(), time.monotonic()
    run = train(config)
    cpu, wall = _cpu_seconds() - cpu, time.monotonic() - wall
    doc = evaluate_model(run / "weights" / "last.pt", data_yaml, "test", imgsz=config.imgsz).doc
    row = doc["classes"].get(cls, {})
    return Point(cls, n, seed, row.get("ap50", 0.0), row.get("recall", 0.0), cpu, wall)


def study(
    template: TrainConfig,
    base: Path,
    data_yaml: Path,
    classes: Sequence[str],
    counts: Sequence[int],
    seeds: Sequence[int],
    out: Path,
) -> list[Point]:
    """Every (class, count, seed) point, saved to ``out`` (JSON) after each one; points already
    in ``out`` are kept, so a study cut off by a session's end continues where it stopped.
    Counts are ``capped`` by each class's train images."""
    done = load_points(out)
    have = {(p.cls, p.images, p.seed) for p in done}
    points = list(done)
    for cls in classes:
        if all((cls, n, seed) in have for n in counts for seed in seeds):
            continue  # done: the dataset need not even be there
        for n in capped(counts, len(images_with(data_yaml, "train", cls))):
            for seed in seeds:
                if (cls, n, seed) in have:
                    continue
                points.append(point(template, base, data_yaml, cls, n, seed))
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_suffix(".tmp")
                tmp.write_text(json.dumps([asdict(p) for p in points], indent=1), encoding="utf-8")
                tmp.replace(out)
    return points


def load_points(file: Path) -> list[Point]:
    """Points saved by ``study`` (none when the file does not exist yet)."""
    if not file.is_file():
        return []
    try:
        return [Point(**row) for row in json.loads(file.read_text(encoding="utf-8"))]
    except (ValueError, TypeError) as exc:
        raise InputError(f"{file}: not a learning-curve result file: {exc}") from exc
