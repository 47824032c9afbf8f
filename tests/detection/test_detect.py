"""``shirong detect`` end to end: real model, real files, the JSONL and annotated outputs."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.cli import main
from tests.conftest import COCO_INT8, VTEST


def _lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "detections.jsonl").read_text("utf-8").splitlines()]


@pytest.mark.shared_data
def test_folder_of_images(tmp_path: Path, bus_jpg: Path, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(bus_jpg, folder / "bus.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    assert main(["detect", str(folder), "--model", str(COCO_INT8), "--out", str(out)]) == 0
    [frame] = _lines(out)
    assert frame["image"].endswith("bus.jpg") and frame["frame_index"] == 1  # broken.jpg is 0
    assert {"source", "timestamp", "width", "height"} <= frame.keys()
    names = [d["class_name"] for d in frame["detections"]]
    assert names.count("person") >= 3 and "bus" in names
    assert all(d["confidence"] >= 0.25 and len(d["xyxy"]) == 4 for d in frame["detections"])
    drawn = cv2.imread(str(out / "annotated" / "bus.jpg"))
    assert drawn is not None and not np.array_equal(drawn, cv2.imread(str(bus_jpg)))
    assert "1 frames" in capsys.readouterr().out


@pytest.mark.shared_data
@pytest.mark.slow
def test_video_is_sampled_tracked_and_written(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    cap = cv2.VideoCapture(str(VTEST))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 10, (768, 576))
    for _ in range(30):
        ok, frame = cap.read()
        assert ok
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    args = ["detect", str(clip), "--model", str(COCO_INT8), "--out", str(out), "--fps", "5"]
    assert main([*args, "--conf", "0.4"]) == 0
    frames = _lines(out)
    assert [f["frame_index"] for f in frames] == list(range(0, 30, 2))
    tracked = [d for f in frames for d in f["detections"]]
    assert tracked and all(d["confidence"] >= 0.4 and "track_id" in d for d in tracked)
    ids = {d["track_id"] for d in tracked if d["class_name"] == "person" and d["track_id"] > 0}
    assert 0 < len(ids) < 20
    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/photo.jpg"], "/no/such/photo.jpg"),
        (["{tmp}/empty"], "no images in folder"),
        (["{tmp}/red.png", "--model", "{tmp}/model.onnx"], "model.onnx"),
        (["{tmp}/fake.mp4"], "fake.mp4"),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path: Path, capsys, args, message) -> None:
    (tmp_path / "empty").mkdir()
    cv2.imwrite(str(tmp_path / "red.png"), np.full((32, 32, 3), (0, 0, 255), np.uint8))
    (tmp_path / "model.onnx").write_bytes(b"\x00garbage")
    (tmp_path / "fake.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    argv = ["detect", *[a.format(tmp=tmp_path) for a in args], "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("shirong detect: error:") and message.format(tmp=tmp_path) in err
