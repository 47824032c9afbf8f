"""Latency of two or more released detectors on the same frames, in one run (a ratio, not a time).

Every model sees every frame in turn (frame by frame, the order rotating), so the shared CPU's
changing load hits them alike; decoding is done once, outside the timing. Reports the median and
p95 ms per frame of each model, and each model's ratio to the first, taken frame by frame. Not a
test: the absolute numbers depend on machine and load.

    nice .venv/bin/python scripts/bench_models.py models/shirong-v1.1/model.onnx \
        models/shirong-v2/model.onnx --frames 200 --out docs/benchmarks/models-v2.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detection.engine import OnnxDetector  # noqa: E402

SHARED = Path(os.environ.get("SHIRONG_SHARED", REPO.parent / "shared"))


def frames(video: Path, n: int) -> list[npt.NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(video))
    out = []
    while len(out) < n:
        ok, frame = capture.read()
        if not ok:
            break
        out.append(frame)
    capture.release()
    if not out:
        raise SystemExit(f"{video}: no frames could be read")
    return out


def timings(models: list[Path], images: list[npt.NDArray[np.uint8]], threads: int) -> np.ndarray:
    """Seconds per (frame, model); each model is warmed up first."""
    detectors = [OnnxDetector(m, threads=threads) for m in models]
    for det in detectors:
        for image in images[:5]:
            det.predict([image])
    out = np.zeros((len(images), len(models)))
    for i, image in enumerate(images):
        for k in np.roll(np.arange(len(models)), i):
            start = time.perf_counter()
            detectors[k].predict([image])
            out[i, k] = time.perf_counter() - start
    return out


def report(models: list[Path], seconds: np.ndarray, video: Path, threads: int) -> str:
    ms = seconds * 1000
    lines = [
        f"# Detector latency: {', '.join(m.parent.name for m in models)}",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, ORT threads {threads}; {len(ms)} frames of `{video.name}`, "
        "each model on every frame in rotating order (pre- and post-processing included).",
        "",
        "| model | size MB | median ms | p95 ms | ratio to first (median of per-frame ratios) |",
        "|---|---|---|---|---|",
    ]
    for k, model in enumerate(models):
        ratio = np.median(ms[:, k] / ms[:, 0])
        lines.append(
            f"| {model.parent.name}/{model.name} | {model.stat().st_size / 1e6:.2f} | "
            f"{np.median(ms[:, k]):.2f} | {np.percentile(ms[:, k], 95):.2f} | {ratio:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", type=Path, nargs="+", help="model.onnx files; the first is 1.0")
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "vtest.avi")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="Markdown report (default: print only)")
    args = parser.parse_args()
    missing = [m for m in args.models if not m.is_file()]
    if missing:
        raise SystemExit(f"model file not found: {', '.join(map(str, missing))}")
    images = frames(args.video, args.frames)
    text = report(args.models, timings(args.models, images, args.threads), args.video, args.threads)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
