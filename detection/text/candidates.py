"""Text regions → ``poster`` (2a, small ads and flyers) and ``banner`` (5a) candidates.

No labelled data exists for either class, so they come from the text reader: text that is not a
shop's own sign (inside a ``signboard`` or ``window_ad`` box the detector found) is a poster
candidate, its lines grouped into one flyer; a wide line of text on a strongly coloured ground
(the red cloth of a 横幅) is a banner candidate. They are candidates: the rules' dwell and the
reviewer decide, as for any detector box.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detection.core import Detections, Frame, box_coverage
from detection.errors import ConfigError
from detection.taxonomy import Taxonomy
from detection.text.reader import TextRegion

MODEL_TAG = "text-reader"
"""The ``model`` tag of every candidate, beside a detector set's model names. It names the reader
(this package), not its OCR model: a candidate is the reader's rules (host boxes, flyer lines,
banner ground) over the OCR's lines, and a tag that stays when the OCR model is swapped keeps
records comparable, as a set's entry names do."""


class CandidateConfig(BaseModel):
    """Which classes the text candidates are and how they are told apart. The class names are
    checked against the taxonomy by ``text_candidates``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poster: str = Field(default="poster", description="Class of text outside any host box.")
    banner: str = Field(default="banner", description="Class of a wide line on coloured ground.")
    hosts: tuple[str, ...] = Field(
        default=("signboard", "window_ad"),
        description="Classes whose boxes hold text that is theirs (a shop's sign, its window "
        "advertising): text inside them is no candidate.",
    )
    inside: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Share of a text box's area inside a host box that makes it the host's text.",
    )
    line_gap: float = Field(
        default=1.0,
        ge=0.0,
        description="Lines of text this many line heights apart or closer are one flyer.",
    )
    banner_aspect: float = Field(
        default=4.0,
        gt=1.0,
        description="Wide: a banner's line of text is at least this many times as wide as high "
        "(a 横幅 carries one long line; a flyer's lines are short or on white paper).",
    )
    banner_saturation: int = Field(
        default=120,
        ge=0,
        le=255,
        description="Strongly coloured: a ground pixel's HSV saturation and value are both at "
        "least this (0-255). Red banner cloth measures 200 and more, walls, paper and grey "
        "concrete under 60.",
    )
    banner_ground: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Share of the line's box that must be strongly coloured: the ground; the "
        "text's strokes are most of the rest (white on red cloth measures 0.7, print on paper "
        "or a wall 0).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> CandidateConfig:
        if self.poster == self.banner or {self.poster, self.banner} & set(self.hosts):
            raise ValueError("poster, banner and the host classes must be different classes")
        return self


def text_candidates(
    frame: Frame,
    regions: Sequence[TextRegion],
    detections: Detections,
    taxonomy: Taxonomy,
    config: CandidateConfig | None = None,
) -> Detections:
    """Poster and banner candidates from the text ``regions`` read in ``frame``, as Detections over
    the taxonomy's class names, each box with its text (a flyer's lines joined by newlines) and
    tagged ``MODEL_TAG``.

    ``detections`` are the frame's detector boxes: text inside its host boxes is left out.
    """
    config = config or CandidateConfig()
    _check_classes(config, taxonomy)
    names = taxonomy.class_names
    if not regions:
        return Detections.from_arrays([], [], [], names, texts=(), model=())
    boxes = np.stack([r.xyxy for r in regions])
    hosts = detections.of_classes(config.hosts)
    hosted = np.any(box_coverage(boxes, hosts.xyxy) >= config.inside, axis=1)
    free = [i for i in range(len(regions)) if not hosted[i]]
    banners = [i for i in free if _is_banner(frame.image, boxes[i], config)]
    posters = [i for i in free if i not in banners]

    xyxy: list[np.ndarray] = []
    scores: list[float] = []
    classes: list[int] = []
    texts: list[str] = []
    for i in banners:
        xyxy.append(_grown(boxes[i], frame.image.shape))
        scores.append(regions[i].score)
        classes.append(names.index(config.banner))
        texts.append(regions[i].text)
    for group in _flyers(boxes[posters], config.line_gap):
        members = [posters[j] for j in group]
        xyxy.append(np.concatenate([boxes[members, :2].min(0), boxes[members, 2:].max(0)]))
        scores.append(float(np.mean([regions[m].score for m in members])))
        classes.append(names.index(config.poster))
        texts.append("\n".join(regions[m].text for m in members))
    return Detections.from_arrays(
        xyxy, scores, classes, names, texts=tuple(texts), model=[MODEL_TAG] * len(texts)
    )


def with_candidates(detections: Detections, candidates: Detections) -> Detections:
    """The detector's boxes followed by the text candidates (``Detections.merge``): the detector's
    class ids and model tags stand, its boxes carry no text and the candidates no track."""
    return Detections.merge(detections, candidates)


def _check_classes(config: CandidateConfig, taxonomy: Taxonomy) -> None:
    missing = [
        n for n in (config.poster, config.banner, *config.hosts) if n not in taxonomy.class_names
    ]
    if missing:
        raise ConfigError(f"text candidates name classes the taxonomy lacks: {', '.join(missing)}")


def _grown(box: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The strip around a line of text: grown by half the line's height, inside the image."""
    pad = (box[3] - box[1]) / 2
    h, w = shape[:2]
    return np.clip(box + np.array([-pad, -pad, pad, pad]), 0, [w, h, w, h]).astype(np.float32)


def _is_banner(image: np.ndarray, box: np.ndarray, config: CandidateConfig) -> bool:
    width, height = box[2] - box[0], box[3] - box[1]
    if height <= 0 or width / height < config.banner_aspect:
        return False
    x1, y1, x2, y2 = np.rint(box).astype(int)
    strip = image[y1:y2, x1:x2]
    if strip.size == 0:
        return False
    hsv = cv2.cvtColor(strip, cv2.COLOR_BGR2HSV)
    strong = (hsv[..., 1] >= config.banner_saturation) & (hsv[..., 2] >= config.banner_saturation)
    return float(strong.mean()) >= config.banner_ground


def _flyers(boxes: np.ndarray, gap: float) -> list[list[int]]:
    """Lines grouped into flyers: boxes that touch once grown by ``gap`` line heights, joined
    transitively; each group's lines top to bottom."""
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    heights = boxes[:, 3] - boxes[:, 1]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            pad = gap * max(heights[i], heights[j])
            apart_x = max(boxes[i, 0], boxes[j, 0]) - min(boxes[i, 2], boxes[j, 2])
            apart_y = max(boxes[i, 1], boxes[j, 1]) - min(boxes[i, 3], boxes[j, 3])
            if apart_x <= pad and apart_y <= pad:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return [sorted(g, key=lambda i: (boxes[i, 1], boxes[i, 0])) for g in groups.values()]
