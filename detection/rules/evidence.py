"""Evidence images of an incident frame: the original, an annotated copy and a crop.

The original is stored losslessly (PNG) exactly as decoded, so what a reviewer or a court sees is
what the detector saw; its SHA-256 is its name in the store. A camera analysed on its
low-resolution sub-stream gives the main stream's frame of the same moment (``Frame.full``)
instead, with the boxes scaled to it: the detector saw a reduced copy of that scene. The annotated
copy (JPEG) draws the evidence boxes with Chinese labels and the zone; the crop (PNG) is cut from
the original. Each object's own box is recorded with the frame, so every object can be reviewed
and learned from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import tzinfo

import cv2
import numpy as np
import numpy.typing as npt

from detection.annotate import Annotator
from detection.core import Detections, Frame
from detection.evidence import EvidenceStore
from detection.rules.config import EvidenceSettings, Zone
from detection.rules.geometry import ZoneMap
from detection.rules.incident import Box, EvidenceBox, EvidenceFile, EvidenceFrame, rounded_box
from detection.rules.tracks import Seen

Image = npt.NDArray[np.uint8]


def encode(image: Image, ext: str, jpeg_quality: int = 90) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext == "jpg" else []
    ok, buf = cv2.imencode(f".{ext}", image, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as {ext}")
    return bytes(buf.tobytes())


def crop_box(region: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """``region`` grown by ``margin`` times its size on each side, clipped to the frame."""
    x1, y1, x2, y2 = region
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
    right, bottom = min(width, int(np.ceil(x2 + mx))), min(height, int(np.ceil(y2 + my)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _box(seen: Seen) -> EvidenceBox:
    """An object's own box in the evidence frame (what a reviewer checks and training learns)."""
    x1, y1, x2, y2 = (float(v) for v in seen.box)
    return EvidenceBox(
        track_key=seen.track.key,
        class_name=seen.class_name,
        confidence=round(float(seen.confidence), 4),
        xyxy=rounded_box((x1, y1, x2, y2)),
    )


def at_full_resolution(
    frame: Frame,
    objects: Sequence[Seen],
    region: Box,
    polygon: npt.NDArray[np.float32] | None,
) -> tuple[Frame, list[Seen], Box, npt.NDArray[np.float32] | None]:
    """The frame's ``full`` image as the frame, with boxes, region and zone scaled to it."""
    assert frame.full is not None
    height, width = frame.full.shape[:2]
    sx, sy = width / frame.meta.width, height / frame.meta.height
    scale = np.array([sx, sy, sx, sy])
    meta = replace(frame.meta, width=width, height=height)
    x1, y1, x2, y2 = region
    return (
        Frame(frame.full, meta),
        [replace(s, box=np.asarray(s.box) * scale) for s in objects],
        (x1 * sx, y1 * sy, x2 * sx, y2 * sy),
        None if polygon is None else (polygon * np.array([sx, sy])).astype(np.float32),
    )


class EvidenceWriter:
    """Writes the three images of an evidence frame into a store."""

    def __init__(
        self, store: EvidenceStore, settings: EvidenceSettings, annotator: Annotator, tz: tzinfo
    ) -> None:
        self.tz = tz
        self.store = store
        self.settings = settings
        self.annotator = annotator
        # Incidents opened by one frame share its original: encode it once (a 1080p frame's PNG is
        # the largest part of the time from a frame to its incidents: docs/benchmarks/live.md).
        self._original: tuple[Image, EvidenceFile] | None = None

    def capture(
        self,
        frame: Frame,
        objects: Sequence[Seen],
        region: Box,
        confidence: float,
        zone: Zone | None,
        zones: ZoneMap,
    ) -> EvidenceFrame:
        polygon = zones.polygon(zone) if zone is not None else None
        if frame.full is not None:
            frame, objects, region, polygon = at_full_resolution(frame, objects, region, polygon)
        meta = frame.meta
        annotated = self._annotate(frame.image, objects, zone, polygon)
        left, top, right, bottom = crop_box(
            region, self.settings.crop_margin, meta.width, meta.height
        )
        crop = np.ascontiguousarray(frame.image[top:bottom, left:right])
        return EvidenceFrame(
            frame_index=meta.frame_index,
            pts=round(meta.pts, 3),
            wall_time=meta.wall_time.astimezone(self.tz),
            confidence=round(confidence, 4),
            region_xyxy=rounded_box(region),
            original=self._original_of(frame.image),
            annotated=self._put(encode(annotated, "jpg", self.settings.jpeg_quality), "jpg"),
            crop=self._put(encode(crop, "png"), "png"),
            boxes=tuple(_box(s) for s in objects),
        )

    def _annotate(
        self,
        image: Image,
        objects: Sequence[Seen],
        zone: Zone | None,
        polygon: npt.NDArray[np.float32] | None,
    ) -> Image:
        out = image
        if polygon is not None:
            label = f"{zone.name or zone.id} ({zone.type.value})" if zone is not None else ""
            out = self.annotator.draw_polygons(out, [polygon], [label])
        names = tuple(sorted({s.class_name for s in objects}))
        dets = Detections.from_arrays(
            [s.box for s in objects],
            [s.confidence for s in objects],
            [names.index(s.class_name) for s in objects],
            names,
            [s.track.key for s in objects],
        )
        return self.annotator.annotate(out, dets)

    def _original_of(self, image: Image) -> EvidenceFile:
        if self._original is None or self._original[0] is not image:
            self._original = (image, self._put(encode(image, "png"), "png"))
        return self._original[1]

    def _put(self, data: bytes, ext: str) -> EvidenceFile:
        sha = self.store.put(data, ext)
        return EvidenceFile(
            sha256=sha,
            path=self.store.relpath(sha),
            media_type="image/png" if ext == "png" else "image/jpeg",
            bytes=len(data),
        )
