"""Benchmark Shirong's ONNX detection path against Ultralytics' own torch predict, in one run.

Every path does the whole job per frame: decode from the video, preprocess, infer, postprocess.
Paths take turns frame by frame, so a shared CPU's changing load hits all of them alike.
Box parity is measured against the torch run that saw the same input shape. Writes a Markdown
report (default docs/benchmarks/detect.md). Not a test: the numbers depend on machine and load.

``--set-only`` measures only the default detector set (``models/default.yaml``) against its
first model alone, in one run, on frames decoded beforehand and scaled to 1920×1080 (a camera's
main stream), and rewrites that section of the report; the full run writes it too. It sets the
detector time per frame beside the decode time per analysed frame of a 1080p25 stream at one
analysed frame/s (``docs/benchmarks/live.json``, measured by ``scripts/bench_live.py``).

    nice .venv/bin/python scripts/bench_detect.py --frames 100 --rounds 3 --threads 2
    nice .venv/bin/python scripts/bench_detect.py --set-only --frames 100 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

os.environ.setdefault("YOLO_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detection.core import Detections  # noqa: E402
from detection.engine import OnnxDetector, load_detector, model_files  # noqa: E402
from detection.engine.compare import compare_runs  # noqa: E402
from detection.train.export import quantize_int8  # noqa: E402

Image = npt.NDArray[np.uint8]
SHARED = Path(os.environ.get("SHIRONG_SHARED", REPO.parent / "shared"))
CONF, IOU = 0.25, 0.45


@dataclass
class Contender:
    """One detection path: ``process(n)`` lazily decodes and detects the first n frames."""

    name: str
    model: str
    input_desc: str
    process: Callable[[int], Iterator[Detections]]
    reference: str | None = None  # name of the torch path with the same input shape
    seconds: float = 0.0
    frames: int = 0
    outputs: list[Detections] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def read_frames(video: Path | None, image: Path, n: int) -> Iterator[Image]:
    """Decode n frames: from the video, or by re-reading one photo n times when there is none."""
    if video is None:
        for _ in range(n):
            yield cv2.imread(str(image))
        return
    capture = cv2.VideoCapture(str(video))
    try:
        for _ in range(n):
            ok, frame = capture.read()
            if not ok:
                raise SystemExit(f"{video} has fewer than {n} frames")
            yield frame
    finally:
        capture.release()


def per_frame(
    detect: Callable[[Image], Detections], video: Path | None, image: Path
) -> Callable[[int], Iterator[Detections]]:
    return lambda n: (detect(frame) for frame in read_frames(video, image, n))


def torch_paths(pt: Path, imgsz: int, video: Path | None, image: Path) -> list[Contender]:
    from ultralytics import YOLO

    def predict(rect: bool) -> Callable[[Image], Detections]:
        model = YOLO(str(pt), task="detect")  # one model per path: no shared predictor state

        def run(frame: Image) -> Detections:
            result = model.predict(frame, imgsz=imgsz, conf=CONF, iou=IOU, rect=rect, verbose=False)
            return Detections.from_ultralytics(result[0])

        return run

    paths = [
        Contender(
            "Ultralytics predict(frame)",
            pt.name,
            "rect (default)",
            per_frame(predict(True), video, image),
        ),
        Contender(
            "Ultralytics predict(frame, rect=False)",
            pt.name,
            f"{imgsz}×{imgsz}",
            per_frame(predict(False), video, image),
        ),
    ]
    if video is not None:
        stream_model = YOLO(str(pt), task="detect")

        def stream(n: int) -> Iterator[Detections]:
            results = stream_model.predict(
                str(video), stream=True, imgsz=imgsz, conf=CONF, iou=IOU, verbose=False
            )
            for _, result in zip(range(n), results, strict=False):
                yield Detections.from_ultralytics(result)

        paths.append(Contender("Ultralytics predict(video, stream=True)", pt.name, "rect", stream))
    return paths


def export_onnx(pt: Path, workdir: Path, imgsz: int, dynamic: bool) -> Path:
    """Export the torch weights to fp32 ONNX in a scratch folder (export writes beside them)."""
    from ultralytics import YOLO

    folder = workdir / ("dynamic" if dynamic else "fixed")
    folder.mkdir()
    weights = shutil.copy(pt, folder / pt.name)
    return Path(YOLO(weights).export(format="onnx", imgsz=imgsz, dynamic=dynamic, verbose=False))


def int8_kind(model: Path) -> str:
    """How an int8 model was quantised, read from its operators (for labels and the report)."""
    import onnx

    ops = {node.op_type for node in onnx.load(str(model), load_external_data=False).graph.node}
    if "ConvInteger" in ops:
        return "dynamic quant."
    return "static QDQ" if "QuantizeLinear" in ops else "not quantised"


def calibration_frames(video: Path | None, image: Path, skip: int) -> list[Image]:
    """20 frames after the benchmarked ones: calibration never sees the frames it is scored on."""
    frames = list(read_frames(video, image, skip + 200)) if video else [cv2.imread(str(image))]
    return frames[skip::10][:20]


def run_rounds(paths: list[Contender], frames: int, rounds: int) -> None:
    """Time every path frame by frame, taking turns; keep the first round's detections."""
    for path in paths:  # warm-up: first-call allocations and lazy imports stay out of the timing
        list(path.process(3))
    for round_index in range(rounds):
        streams = [path.process(frames) for path in paths]
        for _ in range(frames):
            for path, stream in zip(paths, streams, strict=True):
                start = time.perf_counter()
                detections = next(stream)
                path.seconds += time.perf_counter() - start
                path.frames += 1
                if round_index == 0:
                    path.outputs.append(detections)
        print(f"round {round_index + 1}/{rounds}: " + ", ".join(f"{p.fps:.1f}" for p in paths))


def session_sweep(models: dict[str, Path], imgsz: int, runs: int) -> list[tuple[str, str, float]]:
    """Inference-only latency of ORT session settings (taking turns), to justify the defaults."""
    import onnxruntime as ort

    blob = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    sessions = {}
    for label, model in models.items():
        for threads in (1, 2):
            for spinning in ("1", "0"):
                options = ort.SessionOptions()
                options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
                options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
                setting = f"threads={threads}, spinning={'on' if spinning == '1' else 'off'}"
                session = ort.InferenceSession(str(model), options, ["CPUExecutionProvider"])
                sessions[(label, setting)] = (session, session.get_inputs()[0].name)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in sessions}
    for i in range(runs + 2):
        for key, (session, name) in sessions.items():
            start = time.perf_counter()
            session.run(None, {name: blob})
            if i >= 2:  # the first runs warm up
                times[key].append(time.perf_counter() - start)
    return [(label, setting, 1000 * float(np.median(t))) for (label, setting), t in times.items()]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def parity_cells(outputs: list[Detections], reference: list[Detections]) -> str:
    cells = []
    for min_iou in (0.98, 0.9):
        agreement = compare_runs(outputs, reference, min_conf=0.5, min_iou=min_iou)
        pct = 100 * agreement.matched / agreement.confident if agreement.confident else 100.0
        cells.append(f"{agreement.matched}/{agreement.confident} ({pct:.1f}%)")
    return " | ".join(cells) + f" | {agreement.worst_iou:.3f}"


def render(
    args: argparse.Namespace,
    paths: list[Contender],
    sweep: list[tuple[str, str, float]],
    load: tuple[str, str],
    source: str,
) -> str:
    import onnxruntime
    import torch
    import ultralytics

    by_name = {p.name: p for p in paths}
    torch_fps = max(p.fps for p in paths if p.reference is None and "stream" not in p.name)
    at_parity = [
        p
        for p in paths
        if p.reference is not None
        and compare_runs(p.outputs, by_name[p.reference].outputs, 0.5, 0.98).all_matched
    ]
    fastest = max((p for p in paths if p.reference is not None), key=lambda p: p.fps)
    best = max(at_parity, key=lambda p: p.fps) if at_parity else None
    square = f"{args.imgsz}×{args.imgsz}"
    lines = [
        "# Detection benchmark: ONNX Runtime path vs Ultralytics (torch, CPU)",
        "",
        f"Generated by `scripts/bench_detect.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "Each path decodes the frames itself and does preprocess, inference and postprocess;",
        "paths take turns frame by frame. fps = frames / summed wall time over all rounds.",
        "",
        "| setting | value |",
        "|---|---|",
        f"| machine | {cpu_name()}, {os.cpu_count()} logical CPUs, shared (load avg "
        f"{load[0]} at start, {load[1]} at end) |",
        f"| threads | {args.threads} (ORT intra-op and torch) |",
        f"| imgsz | {args.imgsz} (conf {CONF}, iou {IOU}) |",
        f"| frames | {source}, {args.frames} frames × {args.rounds} rounds |",
        f"| versions | onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, "
        f"ultralytics {ultralytics.__version__}, opencv {cv2.__version__} |",
        "",
        f"Models: the --int8 model `{args.int8}` ({int8_kind(args.int8)}); fp32 ONNX exports",
        f"of the same .pt made in a temp folder (fixed {square} and dynamic-shape,",
        "which runs the stride-aligned rectangle as Ultralytics' own predict does); a static QDQ",
        "int8 copy of the dynamic export made with `detection.train.export.quantize_int8`",
        "(per-channel, calibrated on 20 frames after the benchmarked ones, Detect-head decoding",
        "kept fp32), the quantiser `shirong export` uses.",
        "",
        "Parity: confident boxes (conf ≥ 0.5, both directions) matched by a same-class box with",
        "IoU ≥ 0.98 (and ≥ 0.9) in the torch run that saw the same input shape (column vs);",
        "worst IoU: the lowest best-match IoU among them.",
        "",
        "| path | model | input | fps | × torch | IoU ≥ 0.98 | IoU ≥ 0.9 | worst IoU | vs |",
        "|---|---|---|---:|---:|---|---|---:|---|",
    ]
    for p in paths:
        if p.reference is None:
            cells = "– | – | – | –"
        else:
            cells = f"{parity_cells(p.outputs, by_name[p.reference].outputs)} | {p.reference}"
        lines.append(
            f"| {p.name} | {p.model} | {p.input_desc} | {p.fps:.1f} | "
            f"{p.fps / torch_fps:.2f} | {cells} |"
        )
    verdict = (
        f"{'met' if best.fps >= 2 * torch_fps else 'NOT met'}: fastest ONNX path at full parity "
        f"is `{best.name}`, {best.fps / torch_fps:.2f}×"
        if best
        else "NOT met: no ONNX path reached full parity"
    )
    lines += [
        "",
        f"× torch = fps / {torch_fps:.1f}, the fastest per-frame Ultralytics predict above.",
        f"Target ≥ 2× at box parity (every confident box at IoU ≥ 0.98): {verdict}. "
        f"Fastest ONNX path overall: `{fastest.name}`, {fastest.fps / torch_fps:.2f}×.",
    ]
    if sweep:
        lines += [
            "",
            "## ONNX Runtime session settings (inference only, median ms per image, taking turns)",
            "",
            "| model | setting | ms |",
            "|---|---|---:|",
            *(f"| {model} | {setting} | {ms:.1f} |" for model, setting, ms in sweep),
            "",
            "The engine disables intra-op spinning: on a shared CPU, idle ORT threads that spin",
            "take the cores the working ones need. Graph optimisation stays at ORT_ENABLE_ALL.",
        ]
    return "\n".join(lines) + "\n"


SET_BEGIN, SET_END = "<!-- detector-set -->", "<!-- /detector-set -->"
CAMERA_HW = (1080, 1920)
DECODE_WAY = "decode every frame, convert 1 in 25 (OpenCV grab/retrieve)"


def set_section(set_file: Path, video: Path | None, image: Path, args: argparse.Namespace) -> str:
    """The set against its first model alone, taking turns frame by frame on the same frames."""
    frames = [cv2.resize(f, CAMERA_HW[::-1]) for f in read_frames(video, image, args.frames)]
    single_path = model_files(set_file)[0]
    detectors = {
        f"{single_path.parent.name} alone": load_detector(single_path, threads=args.threads),
        f"set `{set_file.name}`": load_detector(set_file, threads=args.threads),
    }
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for detector in detectors.values():
        detector.predict(frames[:2])  # warm-up
    for _ in range(args.rounds):
        for frame in frames:
            for name, detector in detectors.items():
                start = time.perf_counter()
                detector.predict([frame])
                times[name].append(time.perf_counter() - start)
    live = json.loads((REPO / "docs" / "benchmarks" / "live.json").read_text("utf-8"))
    decode_s = next(
        row["cpu_per_video_s"]
        for row in live["decode"]
        if row["video"] == "main" and row["way"] == DECODE_WAY
    )
    single, combined = (np.asarray(t) for t in times.values())
    ratio = float(np.median(combined) / np.median(single))
    rows = [
        f"| {name} | {len(t) / sum(t):.1f} | {1000 * np.median(t):.1f} | "
        f"{1000 * np.percentile(t, 95):.1f} | {np.median(t) / np.median(single):.2f} |"
        for name, t in times.items()
    ]
    verdict = "met" if ratio <= 2.0 else "NOT met"
    decode_ms = 1000 * decode_s
    larger = "decode" if decode_ms > 1000 * np.median(combined) else "the detector"
    return "\n".join(
        [
            SET_BEGIN,
            "## The default detector set against one model",
            "",
            f"Generated by `scripts/bench_detect.py --set-only` on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cpu_name()}, ORT threads {args.threads}: "
            f"{args.frames} frames of {video.name if video else image.name} scaled to "
            f"{CAMERA_HW[1]}×{CAMERA_HW[0]}, decoded beforehand, × {args.rounds} rounds; the set "
            "and the single model take turns frame by frame. Detector time per frame includes "
            "preprocessing, every model, decoding of outputs and the set's floors and conflict "
            "rules.",
            "",
            "| detector | frames/s | median ms per frame | p95 ms | × single (median) |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Budget: at most 2× the single model's detector time per frame: **{verdict}** "
            f"({ratio:.2f}×).",
            "",
            f"At the default 1 analysed frame/s per camera, decoding the 1080p25 main stream "
            f"costs {decode_ms:.0f} ms of CPU per analysed frame ({DECODE_WAY}; "
            f"{decode_s:.4f} cores in `live.json`, measured by `scripts/bench_live.py` in its "
            f"own run), against {1000 * np.median(combined):.0f} ms for the "
            f"set's detection: {larger} is the larger part.",
            SET_END,
        ]
    )


def with_set_section(report: str, section: str) -> str:
    """``report`` with its detector-set section replaced (or appended where it has none)."""
    if SET_BEGIN in report and SET_END in report:
        head, _, rest = report.partition(SET_BEGIN)
        _, _, tail = rest.partition(SET_END)
        return f"{head}{section}{tail}"
    return f"{report.rstrip()}\n\n{section}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=100, help="frames per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=2, help="ORT and torch threads")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "vtest.avi")
    parser.add_argument("--int8", type=Path, default=SHARED / "weights" / "yolov8n-coco-int8.onnx")
    parser.add_argument("--pt", type=Path, default=SHARED / "weights" / "yolov8n-coco.pt")
    parser.add_argument("--no-sweep", action="store_true", help="skip the session-settings sweep")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "detect.md")
    parser.add_argument("--set", type=Path, default=REPO / "models" / "default.yaml")
    parser.add_argument("--set-only", action="store_true", help="only the set against one model")
    args = parser.parse_args()

    import ultralytics

    image = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    video = args.video if args.video.is_file() else None
    if args.set_only:
        old = args.out.read_text("utf-8") if args.out.is_file() else ""
        section = set_section(args.set, video, image, args)
        args.out.write_text(with_set_section(old, section), encoding="utf-8")
        print(section)
        return

    import torch

    torch.set_num_threads(args.threads)
    source = f"`{args.video.name}`" if video else "bus.jpg re-read every frame (no video found)"
    for needed in (args.pt, args.int8):
        if not needed.is_file():
            raise SystemExit(f"missing model {needed}: pass --pt/--int8 (weights are not bundled)")
    load_start = f"{os.getloadavg()[0]:.2f}"

    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        fixed = export_onnx(args.pt, Path(tmp), args.imgsz, dynamic=False)
        dynamic = export_onnx(args.pt, Path(tmp), args.imgsz, dynamic=True)
        static = quantize_int8(
            dynamic,
            calibration_frames(video, image, args.frames),
            args.imgsz,
            Path(tmp) / "static-int8.onnx",
        )
        paths = torch_paths(args.pt, args.imgsz, video, image)
        square_ref, rect_ref = paths[1].name, paths[0].name
        onnx_models = [
            (f"ONNX int8 (--int8, {int8_kind(args.int8)})", args.int8),
            ("ONNX fp32, fixed-shape export", fixed),
            ("ONNX fp32, dynamic-shape export", dynamic),
            ("ONNX int8 (static QDQ, calibrated), dynamic-shape", static),
        ]
        for name, model in onnx_models:
            detector = OnnxDetector(model, conf=CONF, iou=IOU, threads=args.threads)
            shape = "x".join(map(str, detector.imgsz))
            desc = shape if detector.is_fixed_shape else f"rect ≤ {shape}"
            ref = square_ref if detector.is_fixed_shape else rect_ref
            paths.append(Contender(name, model.name, desc, per_frame(detector, video, image), ref))
        run_rounds(paths, args.frames, args.rounds)
        sweep = (
            []
            if args.no_sweep
            else session_sweep({"int8 (shared)": args.int8, "fp32": fixed}, args.imgsz, 20)
        )
        report = render(args, paths, sweep, (load_start, f"{os.getloadavg()[0]:.2f}"), source)
    report = with_set_section(report, set_section(args.set, video, image, args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
