"""Letterbox preprocessing as Ultralytics' predictor does it, so ONNX and torch see the same pixels.

An image is resized keeping its aspect ratio, centred, and padded with grey (114) to the network
input shape. ``Letterbox`` records the scale and padding so boxes can be mapped back exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from detection.core import FloatArray

PAD_VALUE = 114
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Letterbox:
    """Where an ``orig_hw`` image sits, resized to ``resized_hw``, inside an ``input_hw`` input.

    ``scale_x``/``scale_y`` are resized size over original size per axis (equal up to the rounding
    of the resized side); ``pad_x``/``pad_y`` are the left/top padding in input pixels.
    """

    orig_hw: tuple[int, int]
    input_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int

    def to_original(self, xyxy: npt.ArrayLike) -> FloatArray:
        """Map xyxy boxes from network-input to original-image pixels, clipped to the image."""
        boxes = np.asarray(xyxy, np.float32).reshape(-1, 4).copy()
        boxes[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / self.scale_x
        boxes[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / self.scale_y
        h, w = self.orig_hw
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        return boxes

    def to_input(self, xyxy: npt.ArrayLike) -> FloatArray:
        """Map xyxy boxes from original-image to network-input pixels (inverse of to_original)."""
        boxes = np.asarray(xyxy, np.float32).reshape(-1, 4).copy()
        boxes[:, 0::2] = boxes[:, 0::2] * self.scale_x + self.pad_x
        boxes[:, 1::2] = boxes[:, 1::2] * self.scale_y + self.pad_y
        return boxes


def _resized_hw(orig_hw: tuple[int, int], ratio: float) -> tuple[int, int]:
    # Ultralytics rounds each side and keeps thin images at least one pixel.
    return max(round(orig_hw[0] * ratio), 1), max(round(orig_hw[1] * ratio), 1)


def plan_letterbox(orig_hw: tuple[int, int], input_hw: tuple[int, int]) -> Letterbox:
    """Compute scale and centred padding for an ``orig_hw`` image in an ``input_hw`` input."""
    if min(orig_hw) <= 0 or min(input_hw) <= 0:
        raise ValueError(f"letterbox shapes must be positive, got {orig_hw} into {input_hw}")
    ratio = min(input_hw[0] / orig_hw[0], input_hw[1] / orig_hw[1])
    new_h, new_w = _resized_hw(orig_hw, ratio)
    pad_h, pad_w = (input_hw[0] - new_h) / 2, (input_hw[1] - new_w) / 2
    return Letterbox(
        orig_hw=orig_hw,
        input_hw=input_hw,
        resized_hw=(new_h, new_w),
        scale_x=new_w / orig_hw[1],
        scale_y=new_h / orig_hw[0],
        pad_x=round(pad_w - 0.1),
        pad_y=round(pad_h - 0.1),
    )


def letterbox(image: ImageArray, input_hw: tuple[int, int]) -> tuple[ImageArray, Letterbox]:
    """Resize ``image`` (H×W×3) into ``input_hw`` keeping aspect ratio; pad with grey 114."""
    box = plan_letterbox((image.shape[0], image.shape[1]), input_hw)
    new_h, new_w = box.resized_hw
    resized: npt.NDArray[Any] = image
    if (new_h, new_w) != box.orig_hw:
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = box.pad_y, box.pad_x
    bottom, right = input_hw[0] - new_h - top, input_hw[1] - new_w - left
    padded = cv2.copyMakeBorder(
        resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    return np.asarray(padded, np.uint8), box


def stride_aligned_hw(
    orig_hws: Sequence[tuple[int, int]], imgsz: tuple[int, int], stride: int
) -> tuple[int, int]:
    """Smallest stride-multiple input that fits every image scaled to fit ``imgsz``.

    This is Ultralytics' rectangular ("auto") inference for dynamic-shape models: a 4:3 frame at
    imgsz 640 runs at 480×640 instead of 640×640, a quarter less compute, same scale.
    """
    best_h = best_w = stride
    for orig_hw in orig_hws:
        ratio = min(imgsz[0] / orig_hw[0], imgsz[1] / orig_hw[1])
        new_h, new_w = _resized_hw(orig_hw, ratio)
        best_h = max(best_h, math.ceil(new_h / stride) * stride)
        best_w = max(best_w, math.ceil(new_w / stride) * stride)
    return best_h, best_w


def preprocess(
    images: Sequence[ImageArray], input_hw: tuple[int, int]
) -> tuple[FloatArray, list[Letterbox]]:
    """Letterbox BGR uint8 images into one float32 N×3×H×W RGB blob scaled to 0..1."""
    blob = np.empty((len(images), 3, *input_hw), np.float32)
    boxes = []
    for i, image in enumerate(images):
        padded, box = letterbox(image, input_hw)
        blob[i] = padded[..., ::-1].transpose(2, 0, 1)
        boxes.append(box)
    blob /= 255.0
    return blob, boxes
