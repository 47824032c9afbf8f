"""``shirong detect --ocr``: text candidates, their text and phone numbers in detections.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from detection.cli import main
from tests.conftest import released_model
from tests.detection.text.conftest import brick_wall, flyer, warp_onto

pytest.importorskip("rapidocr_onnxruntime")

FLYER = warp_onto(
    brick_wall(), flyer("138 0013 8000"), [(120, 140), (470, 170), (460, 430), (110, 420)]
)


def _frames(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "detections.jsonl").read_text("utf-8").splitlines()]


def _posters(frame: dict) -> list[dict]:
    return [d for d in frame["detections"] if d["class_name"] == "poster"]


def test_photo_gets_a_poster_with_its_phone_number(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "wall.jpg"), FLYER)
    out = tmp_path / "out"
    model = str(released_model())
    assert main(["detect", str(folder), "--model", model, "--out", str(out), "--ocr"]) == 0
    [frame] = _frames(out)
    [poster] = _posters(frame)
    assert "13800138000" in poster["text"]
    assert poster["phone_numbers"] == ["13800138000"]
    assert all("text" not in d for d in frame["detections"] if d["class_name"] != "poster")
    # Without --ocr, no text is read.
    plain = tmp_path / "plain"
    assert main(["detect", str(folder), "--model", model, "--out", str(plain)]) == 0
    assert not _posters(_frames(plain)[0])


def test_video_is_read_once_per_interval(tmp_path: Path) -> None:
    clip = tmp_path / "wall.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 2, FLYER.shape[1::-1])
    for _ in range(10):  # 5 s at 2 frames/s
        writer.write(FLYER)
    writer.release()
    out = tmp_path / "out"
    args = ["detect", str(clip), "--model", str(released_model()), "--out", str(out)]
    assert main([*args, "--ocr", "--ocr-interval", "2"]) == 0
    frames = _frames(out)
    assert len(frames) == 10
    read = [f["pts"] for f in frames if _posters(f)]
    assert read == [0.0, 2.0, 4.0]
    assert all(_posters(f)[0]["phone_numbers"] == ["13800138000"] for f in frames if _posters(f))
