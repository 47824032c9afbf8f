"""Still images decoded reduced (``min_side``): a large photo costs a fraction of its decode."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detection.capture import open_source
from detection.capture.opencv import decode_image, reduction

ROTATED_90 = 6  # EXIF orientation: the stored image is shown turned 90° clockwise


def photo(path: Path, size: tuple[int, int], fmt: str = "JPEG", orientation: int = 1) -> Path:
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.parametrize(
    ("size", "min_side", "factor"),
    [((4000, 3000), 1000, 4), ((4000, 3000), 1001, 2), ((640, 480), 1920, 1), ((3000, 9000), 1, 8)],
)
def test_the_largest_reduction_that_keeps_the_long_side(
    size: tuple[int, int], min_side: int, factor: int
) -> None:
    assert reduction(size, min_side) == factor


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_images_decode_reduced_with_their_orientation(tmp_path: Path, fmt: str) -> None:
    path = photo(tmp_path / f"p.{fmt.lower()}", (1600, 1200), fmt, orientation=ROTATED_90)
    assert decode_image(path).shape == (1600, 1200, 3)  # EXIF orientation applied
    assert decode_image(path, min_side=400).shape == (400, 300, 3)  # 1/4, still turned


def test_an_image_source_passes_min_side_on(tmp_path: Path) -> None:
    path = photo(tmp_path / "street.jpg", (2048, 1536))
    with open_source(str(path), min_side=1000) as source:
        (frame,) = list(source)
    assert (frame.meta.width, frame.meta.height) == (1024, 768)
    with open_source(str(path), min_side=4096) as source:
        (frame,) = list(source)
    assert (frame.meta.width, frame.meta.height) == (2048, 1536)  # never enlarged
