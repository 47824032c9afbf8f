"""Identity BN layers get real statistics while the network's eval output stays the same."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.train.batchnorm import (
    identity_batchnorms,
    image_batches,
    recalibrate_identity_batchnorms,
)
from detection.train.evaluate import split_images

torch = pytest.importorskip("torch")


def folded_net(seed: int = 0) -> torch.nn.Sequential:
    """conv → identity BN → conv → BN with real statistics, like a BN-folded YOLO fine-tune."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.SiLU(),
        torch.nn.Conv2d(8, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
    )
    with torch.no_grad():
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.2, 0.2)
        net[4].running_mean.fill_(0.3)
        net[4].running_var.fill_(2.0)
    return net.eval()


def batches(n: int = 3) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.rand(4, 3, 16, 16, generator=generator) * 2 + 1 for _ in range(n)]


def test_only_identity_layers_are_found_and_changed() -> None:
    net = folded_net()
    assert identity_batchnorms(net) == [net[1]]
    untouched = net[4].state_dict()

    assert recalibrate_identity_batchnorms(net, batches()) == 1

    assert identity_batchnorms(net) == []
    for key, value in untouched.items():
        assert torch.equal(net[4].state_dict()[key], value), key


def test_eval_output_is_preserved_and_stats_are_the_inputs() -> None:
    net, data = folded_net(), batches()
    with torch.no_grad():
        before = [net(x) for x in data]
        features = torch.cat([net[0](x) for x in data])
    recalibrate_identity_batchnorms(net, data)
    with torch.no_grad():
        after = [net(x) for x in data]
    for old, new in zip(before, after, strict=True):
        assert torch.allclose(old, new, atol=1e-5)
    assert torch.allclose(net[1].running_mean, features.mean(dim=(0, 2, 3)), atol=1e-5)
    var = features.var(dim=(0, 2, 3), unbiased=False)
    assert torch.allclose(net[1].running_var, var, atol=1e-5)


def test_train_mode_starts_near_the_eval_function() -> None:
    """Uncalibrated, train-mode BN undoes an identity layer; calibrated, it barely moves."""
    data = torch.cat(batches())

    def train_mode_error(net: torch.nn.Sequential) -> float:
        with torch.no_grad():
            reference = net.eval()(data)
            net[1].train()
            return float((net(data) - reference).abs().mean())

    plain = train_mode_error(folded_net())
    calibrated = folded_net()
    recalibrate_identity_batchnorms(calibrated, [data])
    assert train_mode_error(calibrated) < 0.01 * plain


def test_no_identity_layers_means_no_forward_pass() -> None:
    net = folded_net()
    recalibrate_identity_batchnorms(net, batches())
    assert recalibrate_identity_batchnorms(net, iter(["not a tensor"])) == 0  # type: ignore[list-item]


def test_split_images_and_batches_skip_unreadable_files(tmp_path: Path) -> None:
    folder = tmp_path / "images" / "train"
    folder.mkdir(parents=True)
    for name in ("b.jpg", "a.png"):
        cv2.imwrite(str(folder / name), np.full((30, 60, 3), 200, np.uint8))
    (folder / "c.jpg").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("x")
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")

    _, files = split_images(tmp_path / "data.yaml", "train")

    assert [f.name for f in files] == ["a.png", "b.jpg", "c.jpg"]
    out = list(image_batches(files, imgsz=32, batch=2))
    assert [tuple(b.shape) for b in out] == [(2, 3, 32, 32)]
    assert float(out[0].max()) == pytest.approx(200 / 255) and float(out[0].min()) >= 0.0
