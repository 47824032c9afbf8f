"""Validation: decode every image once (size, exact and perceptual hash) and check every box.

Bad items are dropped with an ``Issue`` naming the file; everything else stays usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from detection.data.samples import Box, ImportResult, Issue, Sample, Severity
from detection.evidence import sha256_bytes

MIN_SIDE = 1e-3  # normalised; a box thinner than this (≈ 1 px at 1000 px) is degenerate
CLIP_TOLERANCE = 0.01  # boxes overshooting the image by less than this are clipped silently


@dataclass(frozen=True)
class ImageInfo:
    sha256: str
    dhash: int
    width: int
    height: int


def dhash(image: npt.NDArray[np.uint8], size: int = 8) -> int:
    """64-bit difference hash: robust to re-encoding and resizing, cheap with OpenCV."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (size + 1, size), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def read_image(path: Path) -> tuple[npt.NDArray[np.uint8] | None, bytes]:
    """Decode an image (BGR) from disk; ``None`` where the bytes are not a decodable image."""
    data = path.read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    return (None if image is None else cast(npt.NDArray[np.uint8], image)), data


def load_bgr(path: Path) -> npt.NDArray[np.uint8] | None:
    """A BGR image, or ``None`` when the file is missing or not a decodable image."""
    try:
        return read_image(path)[0]
    except OSError:
        return None


def inspect_image(path: Path) -> ImageInfo | str:
    """Hashes and size of an image, or the reason it cannot be used."""
    try:
        image, data = read_image(path)
    except OSError as exc:
        return f"cannot read image: {exc.strerror}"
    if image is None or image.size == 0:
        return "corrupt or unsupported image; skipped"
    height, width = image.shape[:2]
    return ImageInfo(sha256_bytes(data), dhash(image), width, height)


def check_box(box: Box, known: frozenset[str]) -> tuple[Box | None, str | None]:
    """Return the (clipped) box or ``None`` to drop it, and a message when something was wrong."""
    if box.label not in known:
        return None, f"unknown class '{box.label}'; box dropped"
    clipped = Box(
        box.label,
        min(max(box.x1, 0.0), 1.0),
        min(max(box.y1, 0.0), 1.0),
        min(max(box.x2, 0.0), 1.0),
        min(max(box.y2, 0.0), 1.0),
    )
    if clipped.x2 - clipped.x1 < MIN_SIDE or clipped.y2 - clipped.y1 < MIN_SIDE:
        where = (
            "degenerate (zero or negative size)"
            if box.x2 <= box.x1 or box.y2 <= box.y1
            else "outside the image"
            if clipped.area == 0
            else "too small (under 0.1% of the image side)"
        )
        return None, f"'{box.label}' box {_fmt(box)} is {where}; box dropped"
    overshoot = max(-box.x1, -box.y1, box.x2 - 1.0, box.y2 - 1.0)
    if overshoot > CLIP_TOLERANCE:
        return clipped, f"'{box.label}' box {_fmt(box)} extends outside the image; clipped"
    return clipped, None


def _fmt(box: Box) -> str:
    return f"({box.x1:.3f}, {box.y1:.3f}, {box.x2:.3f}, {box.y2:.3f})"


def validate(result: ImportResult, known: frozenset[str]) -> dict[Path, ImageInfo]:
    """Drop unusable images and boxes from ``result`` (recording issues); return image info."""
    infos: dict[Path, ImageInfo] = {}
    kept: list[Sample] = []
    for sample in result.samples:
        info = inspect_image(sample.image)
        if isinstance(info, str):
            result.issues.append(Issue(sample.image, info))
            continue
        infos[sample.image] = info
        kept.append(sample.with_boxes(_checked_boxes(sample, known, result.issues)))
    result.samples = kept
    return infos


def _checked_boxes(sample: Sample, known: frozenset[str], issues: list[Issue]) -> list[Box]:
    boxes = []
    for box in sample.boxes:
        fixed, message = check_box(box, known)
        if message:
            severity = Severity.WARNING if fixed is not None else Severity.ERROR
            issues.append(Issue(sample.image, message, severity))
        if fixed is not None:
            boxes.append(fixed)
    return boxes
