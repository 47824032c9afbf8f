"""``shirong train``, ``shirong eval`` and ``shirong export`` subcommands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="fine-tune a detector from a training config")
    p.add_argument("config", type=Path, help="training config, e.g. models/configs/v1.yaml")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="score a model (.onnx or .pt) on a dataset split")
    p.add_argument("--model", type=Path, required=True, help="model.onnx or best.pt")
    p.add_argument("--data", type=Path, required=True, help="data.yaml of a built dataset")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--conf", type=float, default=0.25, help="operating confidence for P and R")
    p.add_argument("--imgsz", type=int, help="input size for .pt models (ONNX: its own)")
    p.add_argument("--out", type=Path, help="output folder (default runs/eval/<model>-<split>)")
    p.set_defaults(func=_eval)

    p = sub.add_parser("export", help="export best.pt to ONNX fp32 + int8 with a parity check")
    p.add_argument("weights", type=Path, help="RUN/weights/best.pt")
    p.add_argument("--out", type=Path, required=True, help="release folder, e.g. models/shirong-v1")
    p.add_argument(
        "--data", type=Path, default=Path("data/v1/data.yaml"), help="dataset (calibration, parity)"
    )
    p.add_argument("--imgsz", type=int, default=416, help="export input size")
    p.set_defaults(func=_export)


def _train(args: argparse.Namespace) -> int:
    from detection.train.config import load_train_config
    from detection.train.trainer import train

    run = train(load_train_config(args.config))
    print(f"run folder: {run}\nbest weights: {run / 'weights' / 'best.pt'}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from detection.train.evaluate import evaluate_model, format_table, write_outputs

    run = evaluate_model(args.model, args.data, args.split, args.conf, args.imgsz)
    out = args.out or Path("runs/eval") / f"{args.model.parent.name}-{args.model.stem}-{args.split}"
    files = write_outputs(run, out)
    print(format_table(run.doc))
    print("\n".join(f"{k}: {v}" for k, v in files.items()))
    return 0


def _export(args: argparse.Namespace) -> int:
    from detection.train.export import export_release

    doc = export_release(args.weights, args.out, args.data, args.imgsz)
    print(json.dumps(doc, indent=1))
    return 0
