"""The text reader's cost per image, in one run: text detection only (``TextReader.locate``) and a
full read (detection, angle classification and recognition: ``TextReader.read``), with each image
scaled so that its longer side is 640 and 1024 px.

Images: shop fronts (../shared/data/facades, signs full of text) and graffiti walls
(../shared/data/graffiti), the first ``--images`` of each. Sizes and images take turns, so a
shared CPU's changing load hits all of them alike; medians over all images and rounds. Writes a
Markdown report (default docs/benchmarks/ocr.md) with the budget the figures set. Not a test: the
numbers depend on machine and load.

    nice .venv/bin/python scripts/bench_ocr.py --images 5 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detection.text import ReaderConfig, TextReader  # noqa: E402

SHARED = Path(os.environ.get("SHIRONG_SHARED", REPO.parent / "shared"))
SETS = ("facades", "graffiti")
SIZES = (640, 1024)

BUDGET = """\
## Budget

A full read costs many detector frames, so each source kind reads only what it can afford (issue
21); the detector never waits for the reader:

- **Photos**: every photo is read, at 1024 px (small print on a flyer needs it): a photo job
  takes the full-read figure above longer per photo.
- **Dashcam**: a frame every few seconds of the route (e.g. one per 5 s of video): at 2 analysed
  frames/s that is one frame in ten, and a flyer or banner stays in view for several seconds at
  street speed.
- **Cameras**: only a settled scene that differs from the last one read, and never more than once
  per `ocr_interval_s` (e.g. 300 s) per camera, on a worker thread beside detection. Text
  detection alone (the cheaper figure) can tell whether a changed scene has text worth reading.
"""


def scaled(image: npt.NDArray[np.uint8], side: int) -> npt.NDArray[np.uint8]:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (round(w * scale), round(h * scale))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5, help="images per set (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the images (default 2)")
    parser.add_argument("--out", type=Path, default=REPO / "docs/benchmarks/ocr.md")
    args = parser.parse_args()

    images: list[tuple[str, npt.NDArray[np.uint8]]] = []
    for name in SETS:
        paths = sorted((SHARED / "data" / name / "images").glob("*.jpg"))[: args.images]
        images += [(name, cv2.imread(str(p))) for p in paths]
    if not images:
        sys.exit(f"no images under {SHARED / 'data'}: this benchmark needs ../shared")

    started = time.perf_counter()
    readers = {side: TextReader(ReaderConfig(max_side=side)) for side in SIZES}
    load_s = (time.perf_counter() - started) / len(SIZES)
    for side, reader in readers.items():  # warm-up: first runs allocate the sessions' buffers
        reader.read(scaled(images[0][1], side))

    keys = [(name, side) for name in SETS for side in SIZES]
    locate: dict[tuple[str, int], list[float]] = {k: [] for k in keys}
    read: dict[tuple[str, int], list[float]] = {k: [] for k in keys}
    lines: dict[tuple[str, int], list[int]] = {k: [] for k in keys}
    for _ in range(args.rounds):
        for name, image in images:
            for side, reader in readers.items():
                small = scaled(image, side)
                t = time.perf_counter()
                reader.locate(small)
                locate[name, side].append(time.perf_counter() - t)
                t = time.perf_counter()
                lines[name, side].append(len(reader.read(small)))
                read[name, side].append(time.perf_counter() - t)

    rows = [
        f"| {k[0]} | {k[1]} | {statistics.median(locate[k]):.2f} "
        f"| {statistics.median(read[k]):.2f} | {max(read[k]):.2f} "
        f"| {statistics.median(lines[k]):g} |"
        for k in keys
        if locate[k]
    ]
    load = os.getloadavg()[0]
    when = f"{datetime.now(UTC):%Y-%m-%d}"
    report = f"""# Text reader (OCR) cost

`scripts/bench_ocr.py --images {args.images} --rounds {args.rounds}`, run on {when}.
RapidOCR 1.4.4: PP-OCRv4 mobile detection and recognition and the angle classifier, on
onnxruntime's CPU provider; {os.cpu_count()} cores ({platform.machine()}), shared: the load
average was {load:.1f} when it ran, so a quiet machine is faster. Images: the first {args.images}
shop fronts of `facades` (signs full of text) and walls of `graffiti` (little legible text),
each scaled so its longer side is the size; {args.rounds} rounds; seconds per image, medians.
Loading a reader (three ONNX sessions) took {load_s:.1f} s.

| images | longer side (px) | detection only (s) | full read (s) | slowest read (s) | lines |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Detection grows with the image's size; a full read also with the lines of text in it (each is
recognised), so text-rich scenes cost most.

{BUDGET}"""
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
