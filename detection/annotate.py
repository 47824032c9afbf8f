"""Draw detections and zones on BGR frames, with Chinese labels (``行人 0.87 #12``).

OpenCV cannot draw CJK text, so labels are rendered with Pillow and a CJK font found on the system
(Debian's ``fonts-noto-cjk``); without one, labels fall back to the ASCII class names with a single
warning. Boxes and fills are drawn with OpenCV; all labels of a frame share one Pillow conversion.
"""

from __future__ import annotations

import colorsys
import shutil
import subprocess
import warnings
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field

from detection.core import Detections
from detection.errors import InputError
from detection.taxonomy import Taxonomy, default_taxonomy

ImageArray = npt.NDArray[np.uint8]
Color = tuple[int, int, int]  # BGR
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

CJK_FAMILY = "Noto Sans CJK SC"
# Tried after fontconfig, as (path, face index): the Simplified Chinese face of Debian/Ubuntu fonts.
KNOWN_CJK_FONTS: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc"), 2),
    (Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),
)
_PROBE_TEXT = "市容行人"
_MISSING = "\U0010fffd"  # a private-use code point no font maps: renders as the font's .notdef
_GOLDEN = 0.618033988749895


class AnnotatorConfig(BaseModel):
    """How detections and zones are drawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    font_path: Path | None = Field(
        None, description="Font file for labels; None finds a CJK font on the system."
    )
    font_index: int = Field(0, ge=0, le=255, description="Face index inside a .ttc font_path.")
    font_size: int | None = Field(
        None, ge=6, le=200, description="Label text height in pixels; None: 1/40 of frame height."
    )
    thickness: int | None = Field(
        None, ge=1, le=50, description="Box line width in pixels; None: 1/360 of frame height."
    )
    show_labels: bool = Field(True, description="Draw a label above each box.")
    show_confidence: bool = Field(True, description="Include the confidence in labels.")
    show_track_id: bool = Field(True, description="Include '#id' in labels of tracked boxes.")
    zone_opacity: float = Field(
        0.25, ge=0.0, le=1.0, description="Opacity of polygon fills (0: outline only)."
    )


def has_glyphs(font: Font, text: str) -> bool:
    """Whether ``font`` draws every non-space character of ``text`` (none comes out as tofu)."""
    tofu = _glyph(font, _MISSING)
    return all(ch.isspace() or _glyph(font, ch) != tofu for ch in text)


def _glyph(font: Font, ch: str) -> tuple[tuple[int, int], bytes]:
    left, top, right, bottom = (int(v) for v in font.getbbox(ch))
    img = Image.new("L", (max(right - left, 1), max(bottom - top, 1)))
    ImageDraw.Draw(img).text((-left, -top), ch, font=font, fill=255)
    return img.size, img.tobytes()


def find_cjk_font(
    candidates: Sequence[tuple[Path, int]] = KNOWN_CJK_FONTS, use_fontconfig: bool = True
) -> tuple[Path, int] | None:
    """(path, face index) of an installed font that has Chinese glyphs, or None.

    Asks fontconfig (``fc-match``) first, then tries ``candidates``; each is checked for glyphs,
    since fontconfig answers with some font even when no CJK font is installed.
    """
    found = _fc_match(CJK_FAMILY) if use_fontconfig else None
    for path, index in ([found] if found else []) + list(candidates):
        if path.is_file() and has_glyphs(_truetype(path, index, 16), _PROBE_TEXT):
            return path, index
    return None


def _fc_match(family: str) -> tuple[Path, int] | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-f", "%{file}\t%{index}", family],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = out.partition("\t")
    return (Path(path), int(index)) if path and index.isdigit() else None


@lru_cache(maxsize=32)
def _truetype(path: Path, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=index)


class Annotator:
    """Draws detections and polygons; create once and reuse (fonts and label names are cached)."""

    def __init__(
        self, config: AnnotatorConfig | None = None, taxonomy: Taxonomy | None = None
    ) -> None:
        self.config = config or AnnotatorConfig()
        self._taxonomy = taxonomy or default_taxonomy()
        self._zh = _zh_names(self._taxonomy)
        self._colors: dict[str, Color] = {}
        self._font_file = self._choose_font()
        self.cjk = self._font_file is not None and has_glyphs(self.font(16), _PROBE_TEXT)
        if not self.cjk:
            where = self._font_file[0] if self._font_file else "this system (fonts-noto-cjk)"
            warnings.warn(
                f"no CJK font found in {where}: labels use the ASCII class names",
                RuntimeWarning,
                stacklevel=2,
            )

    def _choose_font(self) -> tuple[Path, int] | None:
        path = self.config.font_path
        if path is None:
            return find_cjk_font()
        try:
            _truetype(path, self.config.font_index, 16)
        except OSError as exc:
            raise InputError(f"cannot load label font {path}: {exc}") from exc
        return path, self.config.font_index

    def font(self, size: int) -> Font:
        """The label font at ``size`` px (Pillow's built-in font when no font file is usable)."""
        if self._font_file is None:
            return _default_font(size)
        return _truetype(self._font_file[0], self._font_file[1], size)

    def display_name(self, name: str) -> str:
        """A class's Chinese name (taxonomy classes and their COCO names), else ``name``."""
        return self._zh.get(name, name) if self.cjk else name

    def color(self, name: str) -> Color:
        """A stable BGR colour per class: taxonomy order, or the name's hash for other classes."""
        if name not in self._colors:
            self._colors[name] = class_color(name, self._taxonomy)
        return self._colors[name]

    def labels(self, detections: Detections) -> list[str]:
        """The label text of each box, e.g. ``行人 0.87 #12``."""
        tracks = detections.track_id if self.config.show_track_id else None
        out = []
        for i, name in enumerate(detections.class_name):
            parts = [self.display_name(name)]
            if self.config.show_confidence:
                parts.append(f"{detections.confidence[i]:.2f}")
            if tracks is not None and tracks[i] >= 0:
                parts.append(f"#{tracks[i]}")
            out.append(" ".join(parts))
        return out

    def annotate(self, image: ImageArray, detections: Detections) -> ImageArray:
        """A copy of the BGR ``image`` with boxes and labels drawn."""
        out = _checked_copy(image)
        thickness = self._thickness(out)
        colors = [self.color(n) for n in detections.class_name]
        boxes = np.round(detections.xyxy).astype(int)
        for (x1, y1, x2, y2), color in zip(boxes, colors, strict=True):
            cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        if self.config.show_labels and len(detections):
            anchors = [(int(x1), int(y1)) for x1, y1, _, _ in boxes]
            out = self._draw_labels(
                out, list(zip(anchors, self.labels(detections), colors, strict=True))
            )
        return out

    def draw_polygons(
        self,
        image: ImageArray,
        polygons: Sequence[npt.ArrayLike],
        labels: Sequence[str] | None = None,
    ) -> ImageArray:
        """A copy of ``image`` with each polygon (K×2 pixel points) outlined, filled, labelled."""
        if labels is not None and len(labels) != len(polygons):
            raise ValueError(f"{len(polygons)} polygons but {len(labels)} labels")
        out = _checked_copy(image)
        names = (
            list(labels) if labels is not None else [f"zone {i + 1}" for i in range(len(polygons))]
        )
        points = [_polygon_points(p, i) for i, p in enumerate(polygons)]
        colors = [self.color(name) for name in names]
        if self.config.zone_opacity > 0 and points:
            fill = out.copy()
            for pts, color in zip(points, colors, strict=True):
                cv2.fillPoly(fill, [pts], color)
            alpha = self.config.zone_opacity
            cv2.addWeighted(fill, alpha, out, 1 - alpha, 0, dst=out)
        for pts, color in zip(points, colors, strict=True):
            cv2.polylines(out, [pts], True, color, self._thickness(out), cv2.LINE_AA)
        if self.config.show_labels and labels is not None:
            anchors = [_top_left_vertex(pts) for pts in points]
            out = self._draw_labels(out, list(zip(anchors, names, colors, strict=True)))
        return out

    def _thickness(self, image: ImageArray) -> int:
        return self.config.thickness or max(1, round(image.shape[0] / 360))

    def _draw_labels(
        self, image: ImageArray, items: list[tuple[tuple[int, int], str, Color]]
    ) -> ImageArray:
        """Label backgrounds with OpenCV, then all texts in one Pillow pass.

        Pillow sees the BGR array as RGB; the text is black or white, the same in both orders.
        """
        size = self.config.font_size or max(12, round(image.shape[0] / 40))
        font = self.font(size)
        pad = max(2, size // 6)
        placed = []
        for anchor, text, color in items:
            rect, origin = _label_rect(anchor, font, text, pad, image.shape)
            cv2.rectangle(image, rect[:2], rect[2:], color, cv2.FILLED)
            placed.append((origin, text, _text_color(color)))
        canvas = Image.fromarray(image)
        draw = ImageDraw.Draw(canvas)
        for origin, text, fill in placed:
            draw.text(origin, text, font=font, fill=fill)
        return np.array(canvas)


def _label_rect(
    anchor: tuple[int, int], font: Font, text: str, pad: int, shape: tuple[int, ...]
) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """Background rectangle and text origin of a label above ``anchor`` (below, at the top edge)."""
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    x = min(max(anchor[0], 0), max(shape[1] - width, 0))
    y = anchor[1] - height if anchor[1] - height >= 0 else max(anchor[1], 0)
    y = min(y, max(shape[0] - height, 0))
    return (x, y, x + width, y + height), (x + pad - left, y + pad - top)


def _text_color(background: Color) -> Color:
    b, g, r = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


def _checked_copy(image: Any) -> ImageArray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected an H×W×3 uint8 BGR image, got {getattr(image, 'shape', image)}")
    if image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 BGR image, got shape {image.shape}")
    return np.array(image, order="C")


def _polygon_points(polygon: npt.ArrayLike, index: int) -> npt.NDArray[np.int32]:
    pts = np.asarray(polygon, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise ValueError(f"polygon {index} must be K×2 points with K >= 3, got shape {pts.shape}")
    return np.round(pts).astype(np.int32)


def _top_left_vertex(points: npt.NDArray[np.int32]) -> tuple[int, int]:
    top = points[np.lexsort((points[:, 0], points[:, 1]))[0]]
    return int(top[0]), int(top[1])


def class_color(name: str, taxonomy: Taxonomy | None = None) -> Color:
    """A stable BGR colour for a class name, the same across runs, models and processes.

    Taxonomy classes (and COCO names mapped to them) take golden-ratio hues in taxonomy order, so
    they are well apart; other names hash (CRC-32, not Python's salted ``hash``) to a hue.
    """
    tax = taxonomy or default_taxonomy()
    name = tax.coco_aliases().get(name, name)
    names = tax.class_names
    index = names.index(name) if name in names else len(names) + zlib.crc32(name.encode()) % 9973
    r, g, b = colorsys.hsv_to_rgb((index * _GOLDEN) % 1.0, 0.8, 0.95)
    return round(b * 255), round(g * 255), round(r * 255)


def _zh_names(taxonomy: Taxonomy) -> dict[str, str]:
    zh = {c.name: c.name_zh for c in taxonomy.classes}
    zh.update({coco: zh[name] for coco, name in taxonomy.coco_aliases().items()})
    return zh


@lru_cache(maxsize=32)
def _default_font(size: int) -> Font:
    return ImageFont.load_default(size)


@lru_cache(maxsize=1)
def default_annotator() -> Annotator:
    """The shared annotator with default settings (so the no-CJK warning comes once)."""
    return Annotator()


def annotate(image: ImageArray, detections: Detections) -> ImageArray:
    """Boxes and labels on a copy of ``image``, with the default settings."""
    return default_annotator().annotate(image, detections)


def draw_polygons(
    image: ImageArray, polygons: Sequence[npt.ArrayLike], labels: Sequence[str] | None = None
) -> ImageArray:
    """Zones on a copy of ``image``, with the default settings."""
    return default_annotator().draw_polygons(image, polygons, labels)
