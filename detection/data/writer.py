"""Write a YOLO dataset atomically: build in a temporary sibling folder, then rename into place."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from detection.data.checks import ImageInfo
from detection.data.samples import Sample
from detection.data.split import SPLITS
from detection.errors import InputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@contextmanager
def atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``out``; on success it replaces ``out`` in one rename,
    on any error it is removed and ``out`` is left as it was."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def output_name(sample: Sample, info: ImageInfo, used: set[str]) -> str:
    """A readable, unique file name: ``source__stem.ext`` (plus a hash prefix on a clash)."""
    stem = _UNSAFE.sub("_", sample.image.stem).strip("_") or "image"
    name = f"{sample.source}__{stem}{sample.image.suffix.lower()}"
    if name in used:
        name = f"{sample.source}__{stem}_{info.sha256[:8]}{sample.image.suffix.lower()}"
    used.add(name)
    return name


def _place(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_yolo_dataset(
    out: Path,
    samples: Sequence[Sample],
    splits: Sequence[str],
    infos: Mapping[Path, ImageInfo],
    class_names: Sequence[str],
    extra_manifest: Mapping[str, Any],
    extra_files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write images, labels, ``data.yaml`` (all taxonomy classes as ``names``), ``manifest.json``
    (per-image hashes, split and box counts, a digest of all labels) and ``extra_files``."""
    ids = {name: i for i, name in enumerate(class_names)}
    with atomic_dir(out) as tmp:
        layout = SPLITS if any(splits) else ("",)
        for split in layout:
            (tmp / "images" / split).mkdir(parents=True)
            (tmp / "labels" / split).mkdir(parents=True)
        entries, used, digest = [], set[str](), hashlib.sha256()
        counts: dict[str, Counter[str]] = {s: Counter() for s in layout}
        order = sorted(
            range(len(samples)), key=lambda i: (splits[i], infos[samples[i].image].sha256)
        )
        for i in order:
            sample, split, info = samples[i], splits[i], infos[samples[i].image]
            name = output_name(sample, info, used)
            _place(sample.image, tmp / "images" / split / name)
            try:
                lines = [b.yolo_line(ids[b.label]) for b in sample.all_boxes]
            except KeyError as exc:
                raise InputError(f"{sample.image}: class {exc} is not in the taxonomy") from exc
            text = "".join(f"{line}\n" for line in lines)
            (tmp / "labels" / split / name).with_suffix(".txt").write_text(text, encoding="utf-8")
            digest.update(f"{split}/{name}\n{info.sha256}\n{text}".encode())
            counts[split].update(b.label for b in sample.all_boxes)
            entries.append(_entry(sample, split, name, info))
        folders = {s: f"images/{s}" for s in SPLITS} if any(splits) else {"train": "images"}
        data_yaml = {**folders, "nc": len(class_names), "names": list(class_names)}
        (tmp / "data.yaml").write_text(yaml.safe_dump(data_yaml, sort_keys=False), encoding="utf-8")
        manifest = {
            **extra_manifest,
            "labels_digest": digest.hexdigest(),
            "images": {s: sum(e["split"] == s for e in entries) for s in layout},
            "boxes": {s: dict(sorted(c.items())) for s, c in counts.items()},
            "files": entries,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
    return manifest


def _entry(sample: Sample, split: str, name: str, info: ImageInfo) -> dict[str, Any]:
    return {
        "file": name,
        "split": split,
        "source": sample.source,
        "origin": str(sample.image),
        "sha256": info.sha256,
        "width": info.width,
        "height": info.height,
        "human_boxes": len(sample.boxes),
        "teacher_boxes": len(sample.teacher_boxes),
    }
