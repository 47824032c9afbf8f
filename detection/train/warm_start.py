"""Recover a trainable checkpoint from a released ONNX export, to fine-tune a release further.

Training runs are not kept between machines, but releases are: ``models/<release>/model.onnx`` holds
every convolution of the network (int8 weights with their scales, fp32 biases; batch norm folded
in), named after the PyTorch modules. Dequantised into the architecture of a BN-folded base (the
shared ``yolov8n-coco.pt``), they give a checkpoint that computes what the release computes, up to
int8 rounding, with the release's classes; training on a dataset with more classes (appended to the
taxonomy since) lets Ultralytics remap the classification rows by class name, so old classes keep
what they learnt and new ones start from its prior.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detection.errors import ConfigError
from detection.extras import require

log = logging.getLogger(__name__)


def onnx_conv_weights(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """Every Conv weight and bias of an export, dequantised, keyed by PyTorch parameter name."""
    onnx = require("onnx", "train")
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    dequant = {n.output[0]: n for n in graph.node if n.op_type == "DequantizeLinear"}
    out: dict[str, npt.NDArray[np.float32]] = {}
    for node in (n for n in graph.node if n.op_type == "Conv"):
        for tensor in node.input[1:]:
            name = tensor.removesuffix("_DequantizeLinear_Output")
            out[name] = _value(tensor, inits, dequant)
    if not out:
        raise ConfigError(f"{path}: no convolution weights found; is it a YOLO detect export?")
    return out


def _value(tensor: str, inits: dict[str, Any], dequant: dict[str, Any]) -> npt.NDArray[np.float32]:
    if tensor in inits:
        return np.asarray(inits[tensor], np.float32)
    node = dequant[tensor]
    q, scale, zero = (inits[i] for i in node.input)
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    shape = [1] * q.ndim
    if np.ndim(scale):
        shape[axis] = -1
    deq = (q.astype(np.float32) - np.reshape(zero, shape)) * np.reshape(scale, shape)
    return np.asarray(deq, np.float32)


def warm_start(release: Path, base: Path, out: Path) -> Path:
    """Write a checkpoint with ``base``'s architecture and ``release``'s weights and classes."""
    torch = require("torch", "train")
    from ultralytics.nn.modules import Conv

    from detection.engine import OnnxDetector

    weights = onnx_conv_weights(release)
    names = OnnxDetector(release).names
    ckpt = torch.load(base, map_location="cpu", weights_only=False)
    model = _model_like(ckpt.get("ema") or ckpt["model"], weights, len(names))
    used: set[str] = set()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, Conv):
                _load(module.conv, f"{name}.conv", weights, used, release, module.bn)
            elif isinstance(module, torch.nn.Conv2d) and module.bias is not None:
                _load(module, name, weights, used, release)
    missing = sorted(set(weights) - used - {"model.22.dfl.conv.weight"})
    if missing:
        raise ConfigError(f"{release}: weights with no place in {base.name}: {missing[:5]}")
    model.names = dict(enumerate(names))
    ckpt = {k: v for k, v in ckpt.items() if k != "ema"}
    ckpt["model"] = model.half()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(out)
    log.info(
        "warm start: %d tensors from %s → %s (%d classes)", len(used), release, out, len(names)
    )
    return out


def _model_like(template: Any, weights: dict[str, Any], nc: int) -> Any:
    """The base architecture with the release's head widths: Ultralytics keeps the width (c3) of
    the classification branch a model was fine-tuned from, so it need not follow ``nc``."""
    from torch import nn
    from ultralytics.nn.tasks import DetectionModel

    c3 = int(weights["model.22.cv3.0.0.conv.weight"].shape[0])
    cfg = copy.deepcopy(template.yaml)
    model: Any = DetectionModel(cfg=cfg, nc=c3 if c3 > 64 else nc, verbose=False).float()
    head = model.model[-1]
    for branch in head.cv3:
        branch[-1] = nn.Conv2d(branch[-1].in_channels, nc, 1)
    head.nc, head.no = nc, nc + head.reg_max * 4
    model.yaml["nc"] = nc
    return model


def _load(
    conv: Any, name: str, weights: dict[str, Any], used: set[str], release: Path, bn: Any = None
) -> None:
    """One convolution; with an (identity) BN after it, the fused bias becomes the BN's shift."""
    import torch

    w = _take(weights, f"{name}.weight", tuple(conv.weight.shape), release)
    b = _take(weights, f"{name}.bias", (conv.out_channels,), release)
    conv.weight.copy_(torch.from_numpy(w))
    if bn is None:
        conv.bias.copy_(torch.from_numpy(b))
    else:
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        bn.weight.fill_(math.sqrt(1.0 + bn.eps))
        bn.bias.copy_(torch.from_numpy(b))
    used.update({f"{name}.weight", f"{name}.bias"})


def _take(weights: dict[str, Any], key: str, shape: tuple[int, ...], release: Path) -> Any:
    if key not in weights:
        raise ConfigError(f"{release}: no tensor '{key}'; the export is another architecture")
    value = weights[key]
    if tuple(value.shape) != shape:
        raise ConfigError(f"{release}: '{key}' has shape {value.shape}, the model wants {shape}")
    return value
