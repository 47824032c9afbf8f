"""Image geometry for the rules: which zone a point is in, masks, and box distances.

Zones are drawn on a reference frame (``SourceConfig.frame_size``); a stream delivered at another
resolution (sub-stream, resized recording) scales them, so one config serves both.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from detection.rules.config import SourceConfig, Zone

FRAME_ZONE_ID = "frame"


def box_size(box: npt.ArrayLike) -> float:
    """sqrt(w*h), at least 1 px: the unit in which drift and distances are measured."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    return max(1.0, math.sqrt(max(0.0, x2 - x1) * max(0.0, y2 - y1)))


def box_gap(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Shortest distance between two boxes' edges (0 when they touch or overlap)."""
    ax1, ay1, ax2, ay2 = (float(v) for v in np.asarray(a).reshape(4))
    bx1, by1, bx2, by2 = (float(v) for v in np.asarray(b).reshape(4))
    dx = max(0.0, bx1 - ax2, ax1 - bx2)
    dy = max(0.0, by1 - ay2, ay1 - by2)
    return math.hypot(dx, dy)


def box_union(boxes: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """The smallest box holding all ``boxes`` (N×4)."""
    arr = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.array(
        [arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()], np.float32
    )


def ground_point(box: npt.ArrayLike) -> tuple[float, float]:
    """Bottom centre: where a standing object touches the ground (zones are ground areas)."""
    x1, _, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    return (x1 + x2) / 2.0, y2


def centre_point(box: npt.ArrayLike) -> tuple[float, float]:
    """Box centre: the anchor of things on walls or hanging in the air."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    return (x1 + x2) / 2.0, (y1 + y2) / 2.0


class ZoneMap:
    """The zones and masks of one source, scaled to the frame size in use."""

    def __init__(self, source: SourceConfig, width: int, height: int) -> None:
        ref_w, ref_h = source.frame_size or (width, height)
        sx, sy = width / ref_w, height / ref_h
        self.scale = (sx + sy) / 2.0
        self.zones = source.zones
        self._polys = [_contour(z.polygon, sx, sy) for z in source.zones]
        self._masks = [_contour(m, sx, sy) for m in source.masks]
        self.default = (
            None
            if source.default_zone is None
            else Zone(
                id=FRAME_ZONE_ID,
                type=source.default_zone,
                polygon=((0, 0), (width, 0), (width, height), (0, height)),
            )
        )

    def zone_at(self, point: tuple[float, float]) -> Zone | None:
        """The first listed zone containing ``point`` (edges count as inside), else the default."""
        for zone, poly in zip(self.zones, self._polys, strict=True):
            if cv2.pointPolygonTest(poly, point, False) >= 0:
                return zone
        return self.default

    def polygon(self, zone: Zone) -> npt.NDArray[np.float32] | None:
        """A configured zone's polygon (K×2) at this frame size; None for the default zone."""
        for z, poly in zip(self.zones, self._polys, strict=True):
            if z.id == zone.id:
                return poly.reshape(-1, 2)
        return None

    def masked(self, points: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        """Per point (N×2): whether it lies inside an ignore region."""
        out = np.zeros(len(points), bool)
        for poly in self._masks:
            for i, (x, y) in enumerate(points):
                out[i] |= cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0
        return out

    def spill_zone(self, point: tuple[float, float]) -> Zone | None:
        """A trading zone ``point`` is just outside of (within its spill margin), nearest first."""
        best: tuple[float, Zone] | None = None
        for zone, poly in zip(self.zones, self._polys, strict=True):
            if not zone.trading or zone.spill_margin_px <= 0:
                continue
            outside = -cv2.pointPolygonTest(poly, point, True)
            if 0 < outside <= zone.spill_margin_px * self.scale and (
                best is None or outside < best[0]
            ):
                best = (outside, zone)
        return None if best is None else best[1]


def _contour(
    polygon: tuple[tuple[float, float], ...], sx: float, sy: float
) -> npt.NDArray[np.float32]:
    pts = np.asarray(polygon, np.float32) * np.array([sx, sy], np.float32)
    return pts.reshape(-1, 1, 2)
