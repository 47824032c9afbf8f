"""Core data types: one validated ``Detections`` batch and the metadata of the frame it came from,
plus the box overlaps (IoU, coverage) that every layer measures them by.

Adapters from model outputs live at the edges (``detection.engine``); everything inside the pipeline
(tracker, rules, annotation, JSON output) works on these types only. ``box_iou`` lives here, not
with NMS in the engine: the tracker, the rules, the metrics, the dataset tooling and the service all
match boxes by it, and none of them should need the engine for that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> Float64Array:
    """Pairwise IoU of xyxy boxes: an (N, M) matrix for N boxes ``a`` and M boxes ``b``.

    An inverted box counts as empty, and pairs whose union is empty have IoU 0 rather than NaN.
    """
    a, b, inter = _intersections(a, b)
    union = _areas(a)[:, None] + _areas(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_coverage(a: npt.ArrayLike, b: npt.ArrayLike) -> Float64Array:
    """Pairwise share of each box ``a``'s area that lies inside each box ``b``: an (N, M) matrix.

    Unlike IoU it is not symmetric: a small box wholly inside a large one has coverage 1 by it
    (text on a signboard), however small the IoU. An empty box ``a`` has coverage 0.
    """
    a, b, inter = _intersections(a, b)
    area = _areas(a)[:, None]
    return np.divide(inter, area, out=np.zeros_like(inter), where=area > 0)


def _intersections(
    a: npt.ArrayLike, b: npt.ArrayLike
) -> tuple[Float64Array, Float64Array, Float64Array]:
    """``a`` and ``b`` as (N, 4) and (M, 4) float64 boxes, and their (N, M) intersection areas."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    return a, b, np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)


def _areas(boxes: Float64Array) -> Float64Array:
    return np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)


@dataclass(frozen=True)
class GeoPoint:
    """A WGS-84 position, with heading in degrees clockwise from north where known."""

    lat: float
    lon: float
    heading: float | None = None

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"GeoPoint out of range: lat={self.lat}, lon={self.lon}")
        if self.heading is not None and not 0.0 <= self.heading < 360.0:
            raise ValueError(f"GeoPoint heading must be in [0, 360), got {self.heading}")


@dataclass(frozen=True)
class FrameMeta:
    """Where and when a frame was taken.

    ``pts`` is seconds since the source started (video position); ``wall_time`` is the absolute,
    timezone-aware time of capture (live: the clock; files: start time plus ``pts``).
    """

    source_id: str
    frame_index: int
    pts: float
    wall_time: datetime
    width: int
    height: int
    gps: GeoPoint | None = None

    def __post_init__(self) -> None:
        if self.frame_index < 0:
            raise ValueError(f"frame_index must be >= 0, got {self.frame_index}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")
        if self.wall_time.tzinfo is None:
            raise ValueError("wall_time must be timezone-aware")


@dataclass(frozen=True)
class Frame:
    """A BGR uint8 image (H×W×3) with its metadata.

    ``full`` is the same moment at a higher resolution where the source has one (a camera's main
    stream beside the sub-stream analysed): evidence is cut from it, boxes scaled to it.
    """

    image: npt.NDArray[np.uint8]
    meta: FrameMeta
    full: npt.NDArray[np.uint8] | None = None

    def __post_init__(self) -> None:
        for name, img in (("image", self.image), ("full", self.full)):
            if img is not None and (img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3):
                raise ValueError(f"Frame.{name} must be H×W×3 uint8, got {img.shape} {img.dtype}")
        img = self.image
        if (img.shape[1], img.shape[0]) != (self.meta.width, self.meta.height):
            raise ValueError(
                f"Frame.image is {img.shape[1]}x{img.shape[0]} but meta says "
                f"{self.meta.width}x{self.meta.height}"
            )


@dataclass(frozen=True)
class Detections:
    """A batch of N boxes in pixel xyxy, with confidences, class ids and optional track ids.

    ``names`` is the producing model's class-name table (class_id indexes into it). ``track_id`` is
    ``None`` before tracking; after tracking, -1 marks a box with no confirmed track. ``texts`` is
    the text read in each box where a text reader made it (a flyer's words, "" for a box with
    none), ``None`` where nothing read text. ``model`` tags each box with the model that produced
    it where a detector set merged several, ``None`` for one model's output.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    names: tuple[str, ...]
    track_id: IntArray | None = None
    texts: tuple[str, ...] | None = None
    model: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = _check_array("xyxy", self.xyxy, np.float32, 2, None)
        if self.xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must have shape (N, 4), got {self.xyxy.shape}")
        _check_array("confidence", self.confidence, np.float32, 1, n)
        _check_array("class_id", self.class_id, np.int64, 1, n)
        if self.track_id is not None:
            _check_array("track_id", self.track_id, np.int64, 1, n)
        if self.texts is not None:
            if not isinstance(self.texts, tuple) or not all(isinstance(t, str) for t in self.texts):
                raise TypeError("Detections.texts must be a tuple of str")
            if len(self.texts) != n:
                raise ValueError(f"Detections.texts has {len(self.texts)} rows, expected {n}")
        if self.model is not None:
            if not isinstance(self.model, tuple) or not all(isinstance(t, str) for t in self.model):
                raise TypeError("Detections.model must be a tuple of str")
            if len(self.model) != n:
                raise ValueError(f"Detections.model has {len(self.model)} rows, expected {n}")
        if n and (self.class_id.min() < 0 or self.class_id.max() >= len(self.names)):
            raise ValueError(
                f"Detections.class_id out of range for {len(self.names)} class names: "
                f"{self.class_id.min()}..{self.class_id.max()}"
            )
        if n and not np.all(self.xyxy[:, 2:] >= self.xyxy[:, :2]):
            raise ValueError("Detections.xyxy must have x2 >= x1 and y2 >= y1")

    @classmethod
    def empty(cls, names: Sequence[str]) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int64),
            names=tuple(names),
        )

    @classmethod
    def from_arrays(
        cls,
        xyxy: Any,
        confidence: Any,
        class_id: Any,
        names: Sequence[str],
        track_id: Any = None,
        texts: Sequence[str] | None = None,
        model: Sequence[str] | None = None,
    ) -> Detections:
        """Build from any array-likes, converting dtypes (the strict constructor does not)."""
        return cls(
            xyxy=np.asarray(xyxy, np.float32).reshape(-1, 4),
            confidence=np.asarray(confidence, np.float32).reshape(-1),
            class_id=np.asarray(class_id, np.int64).reshape(-1),
            names=tuple(names),
            track_id=None if track_id is None else np.asarray(track_id, np.int64).reshape(-1),
            texts=None if texts is None else tuple(texts),
            model=None if model is None else tuple(model),
        )

    @classmethod
    def from_ultralytics(cls, result: Any) -> Detections:
        """Adapter for an ``ultralytics.engine.results.Results`` object."""
        boxes = result.boxes
        names = tuple(result.names[i] for i in range(len(result.names)))
        track = boxes.id.cpu().numpy() if getattr(boxes, "id", None) is not None else None
        return cls.from_arrays(
            boxes.xyxy.cpu().numpy(),
            boxes.conf.cpu().numpy(),
            boxes.cls.cpu().numpy(),
            names,
            track,
        )

    @classmethod
    def merge(cls, *parts: Detections) -> Detections:
        """Every part's boxes in one batch, in order, with every per-box field: the one way
        several producers' boxes become one result (a detector set's models, the text reader's
        candidates beside the detector's boxes).

        Class ids are re-indexed by name into the first part's table, extended by the classes
        later parts' boxes use that it lacks, so the first part's ids stand. A field some parts
        carry and others lack is filled for the others with its empty value: track id -1 (no
        confirmed track), text "" and model "" (no tag); it stays ``None`` only where no part
        carries it.
        """
        if not parts:
            raise ValueError("Detections.merge needs at least one part")
        names = list(parts[0].names)
        for part in parts[1:]:
            names += [n for n in dict.fromkeys(part.class_name) if n not in names]
        index = {n: i for i, n in reversed(list(enumerate(names)))}
        class_id = [
            np.asarray([index.get(n, -1) for n in p.names], np.int64)[p.class_id] for p in parts
        ]
        track = None
        if any(p.track_id is not None for p in parts):
            track = np.concatenate(
                [np.full(len(p), -1, np.int64) if p.track_id is None else p.track_id for p in parts]
            )
        texts = None
        if any(p.texts is not None for p in parts):
            texts = tuple(t for p in parts for t in (p.texts or ("",) * len(p)))
        model = None
        if any(p.model is not None for p in parts):
            model = tuple(t for p in parts for t in (p.model or ("",) * len(p)))
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]).reshape(-1, 4),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate(class_id),
            names=tuple(names),
            track_id=track,
            texts=texts,
            model=model,
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: Any) -> Detections:
        """Select boxes by a boolean mask, an index array or a slice (always returns Detections)."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        texts = None if self.texts is None else tuple(np.asarray(self.texts, object)[index].ravel())
        model = None if self.model is None else tuple(np.asarray(self.model, object)[index].ravel())
        return Detections(
            xyxy=self.xyxy[index].reshape(-1, 4),
            confidence=self.confidence[index].reshape(-1),
            class_id=self.class_id[index].reshape(-1),
            names=self.names,
            track_id=None if self.track_id is None else self.track_id[index].reshape(-1),
            texts=texts,
            model=model,
        )

    @property
    def class_name(self) -> list[str]:
        return [self.names[i] for i in self.class_id]

    @property
    def center(self) -> FloatArray:
        return ((self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2).astype(np.float32)

    @property
    def wh(self) -> FloatArray:
        return (self.xyxy[:, 2:] - self.xyxy[:, :2]).astype(np.float32)

    @property
    def area(self) -> FloatArray:
        wh = self.wh
        return (wh[:, 0] * wh[:, 1]).astype(np.float32)

    def with_track_ids(self, track_id: Any) -> Detections:
        return replace(self, track_id=np.asarray(track_id, np.int64).reshape(-1))

    def of_classes(self, names: Sequence[str]) -> Detections:
        """Only the boxes whose class name is in ``names`` (names the model lacks are ignored)."""
        wanted = [i for i, n in enumerate(self.names) if n in set(names)]
        return self[np.isin(self.class_id, wanted)]

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready list: class_name, confidence, xyxy (and track_id once tracked, text where
        some was read in the box, model where the box is tagged with one)."""
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {
                "class_name": self.names[int(self.class_id[i])],
                "confidence": round(float(self.confidence[i]), 4),
                "xyxy": [round(float(v), 1) for v in self.xyxy[i]],
            }
            if self.track_id is not None:
                rec["track_id"] = int(self.track_id[i])
            if self.texts is not None and self.texts[i]:
                rec["text"] = self.texts[i]
            if self.model is not None and self.model[i]:
                rec["model"] = self.model[i]
            out.append(rec)
        return out


def _check_array(name: str, arr: Any, dtype: type, ndim: int, n: int | None) -> int:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"Detections.{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise TypeError(f"Detections.{name} must be {np.dtype(dtype)}, got {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"Detections.{name} must be {ndim}-D, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"Detections.{name} has {arr.shape[0]} rows, expected {n}")
    return int(arr.shape[0])
