"""Images the text tests make: flyers and banners rendered with a real CJK font, warped onto walls.

The font is Noto Sans CJK (``fonts-noto-cjk``, installed by scripts/setup.sh). The walls are a
synthetic rendered texture (always there) or photos from ../shared (tests marked shared_data).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from detection.core import Frame, FrameMeta
from detection.text import TextReader

Image8 = npt.NDArray[np.uint8]

FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts"))


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK Bold (or any Noto CJK face the machine has) at ``size`` pixels."""
    for folder in FONT_DIRS:
        faces = sorted(folder.rglob("NotoSansCJK-Bold.ttc")) or sorted(
            folder.rglob("Noto*CJK*.ttc")
        )
        if faces:
            return ImageFont.truetype(str(faces[0]), size)
    pytest.fail(
        "no Noto CJK font under /usr/share/fonts: install fonts-noto-cjk (scripts/setup.sh)"
    )


def render(
    lines: Sequence[str],
    *,
    ground: tuple[int, int, int],
    ink: tuple[int, int, int],
    size: int = 44,
    margin: int = 24,
) -> Image8:
    """Lines of text on a plain ground, as a BGR image just large enough for them."""
    font = cjk_font(size)
    widths = [font.getbbox(line)[2] for line in lines]
    step = int(size * 1.5)
    canvas = Image.new("RGB", (max(widths) + 2 * margin, step * len(lines) + 2 * margin), ground)
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * step), line, font=font, fill=ink)
    return cv2.cvtColor(np.asarray(canvas), cv2.COLOR_RGB2BGR)


def flyer(phone: str) -> Image8:
    """A small-ad flyer: black and red print on off-white paper, with a phone number."""
    return render(
        ["专业疏通下水道", "开锁 换锁 修马桶", f"电话 {phone}"],
        ground=(245, 243, 235),
        ink=(25, 25, 25),
    )


def banner(text: str) -> Image8:
    """A red cloth banner with white text: one long line."""
    return render([text], ground=(200, 20, 30), ink=(255, 255, 255), size=56, margin=20)


def warp_onto(wall: Image8, art: Image8, corners: Sequence[tuple[float, float]]) -> Image8:
    """``art`` pasted onto ``wall`` with its corners (TL, TR, BR, BL) at ``corners``, as a camera
    at an angle sees a sheet on a wall."""
    h, w = art.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    matrix = cv2.getPerspectiveTransform(src, np.float32(corners))
    size = (wall.shape[1], wall.shape[0])
    warped = cv2.warpPerspective(art, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, size)
    out = wall.copy()
    out[mask > 0] = warped[mask > 0]
    return out


def brick_wall(width: int = 1024, height: int = 768, seed: int = 0) -> Image8:
    """A grey-brown rendered wall: mortar lines, brick-to-brick tone and fine noise, no text."""
    rng = np.random.default_rng(seed)
    wall = np.zeros((height, width, 3), np.uint8)
    brick_h, brick_w = 40, 96
    for row, y in enumerate(range(0, height, brick_h)):
        offset = (row % 2) * brick_w // 2
        for x in range(-offset, width, brick_w):
            tone = rng.integers(95, 135)
            colour = (int(tone * 0.8), int(tone * 0.9), int(tone))
            cv2.rectangle(wall, (x + 2, y + 2), (x + brick_w - 2, y + brick_h - 2), colour, -1)
    noise = rng.normal(0, 6, wall.shape)
    return np.clip(wall + noise, 0, 255).astype(np.uint8)


def frame_of(image: Image8, source_id: str = "test") -> Frame:
    h, w = image.shape[:2]
    meta = FrameMeta(source_id, 0, 0.0, datetime(2026, 12, 8, tzinfo=UTC), w, h)
    return Frame(image, meta)


@pytest.fixture(scope="session")
def reader() -> TextReader:
    """One reader for the session (three ONNX sessions); skips where the ocr extra is missing."""
    pytest.importorskip("rapidocr_onnxruntime")
    return TextReader()
