"""Helpers that make tiny labelled datasets on disk (real image files, real label files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

MakeImage = Callable[..., Path]


@pytest.fixture
def make_image() -> MakeImage:
    """Write a deterministic, textured JPEG/PNG; ``seed`` picks the content, ``size`` = (w, h)."""

    def make(path: Path, seed: int = 0, size: tuple[int, int] = (64, 48)) -> Path:
        rng = np.random.default_rng(seed)
        small = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
        image = cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image)
        return path

    return make


@pytest.fixture
def make_yolo(make_image: MakeImage) -> Callable[..., Path]:
    """A YOLO folder: ``labels`` maps image stem → label text (``None``: no label file)."""

    def make(root: Path, labels: dict[str, str | None], names: list[str], seed: int = 0) -> Path:
        for i, (stem, text) in enumerate(labels.items()):
            make_image(root / "images" / f"{stem}.jpg", seed=seed + i * 7 + 1)
            if text is not None:
                (root / "labels").mkdir(parents=True, exist_ok=True)
                (root / "labels" / f"{stem}.txt").write_text(text)
        (root / "data.yaml").write_text("names: [" + ", ".join(names) + "]\n")
        return root

    return make
