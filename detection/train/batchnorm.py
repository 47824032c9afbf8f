"""Give batch-norm layers of a BN-folded checkpoint real statistics without changing its outputs.

A checkpoint whose batch norm was folded into the convolutions (the shared ``yolov8n-coco.pt``, and
every model fine-tuned from it with a frozen backbone) keeps each BN layer as an identity: running
mean 0, variance 1. In eval mode that is harmless, but once such a layer trains it normalises by
batch statistics instead, which changes the network's function at step one: unfreezing the v1
backbone dropped validation mAP50 from 0.43 to 0.16 in the first epoch. Re-deriving each identity
layer's statistics from real images, with weight and bias adjusted so that the eval output is
unchanged, makes train-mode BN start close to what the network already computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from detection.engine.letterbox import letterbox

if TYPE_CHECKING:
    import torch


def identity_batchnorms(model: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    """BN layers whose running statistics are exactly the identity (mean 0, variance 1)."""
    import torch

    return [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
        and m.running_mean is not None
        and m.running_var is not None
        and bool(torch.all(m.running_mean == 0))
        and bool(torch.all(m.running_var == 1))
    ]


def image_batches(files: Sequence[Path], imgsz: int, batch: int = 8) -> Iterator[torch.Tensor]:
    """Letterboxed RGB batches (N×3×imgsz×imgsz, 0..1) of image files; unreadable ones skipped."""
    import torch

    for start in range(0, len(files), batch):
        arrays = []
        for file in files[start : start + batch]:
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is not None:
                padded, _ = letterbox(np.asarray(image, np.uint8), (imgsz, imgsz))
                arrays.append(padded[:, :, ::-1].transpose(2, 0, 1))
        if arrays:
            yield torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).float() / 255.0


def recalibrate_identity_batchnorms(model: torch.nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Give identity BN layers the statistics of their inputs; returns how many were changed.

    The eval-mode output is preserved exactly: with input mean μ and variance σ² the layer's weight
    becomes ``w·√(σ²+ε)/√(1+ε)`` and its bias ``b + w·μ/√(1+ε)``.
    """
    import torch

    layers = identity_batchnorms(model)
    if not layers:
        return 0
    sums: dict[int, list[Any]] = {id(m): [0.0, 0.0, 0] for m in layers}

    def collect(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _: Any) -> None:
        x = inputs[0].detach().double()
        acc = sums[id(module)]
        acc[0] = acc[0] + x.sum(dim=(0, 2, 3))
        acc[1] = acc[1] + (x * x).sum(dim=(0, 2, 3))
        acc[2] += x.numel() // x.shape[1]

    hooks = [m.register_forward_hook(collect) for m in layers]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for images in batches:
                model(images)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return sum(_apply(m, *sums[id(m)]) for m in layers)


def _apply(bn: torch.nn.BatchNorm2d, total: Any, squares: Any, count: int) -> int:
    import torch

    weight, bias, mean_buf, var_buf = bn.weight, bn.bias, bn.running_mean, bn.running_var
    if count == 0 or weight is None or bias is None or mean_buf is None or var_buf is None:
        return 0
    mean = total / count
    var = (squares / count - mean * mean).clamp(min=0.0)
    old_scale = weight.detach().double() / np.sqrt(1.0 + bn.eps)
    with torch.no_grad():
        weight.copy_(old_scale * torch.sqrt(var + bn.eps))
        bias.copy_(bias.detach().double() + old_scale * mean)
        mean_buf.copy_(mean)
        var_buf.copy_(var)
    return 1
