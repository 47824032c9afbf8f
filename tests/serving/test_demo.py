"""The demo's helpers: image choice, the slideshow clip, the camera config and registration."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from detection.rules.config import source_config
from serving import demo
from serving.db.models import Camera
from serving.db.session import make_engine, make_session_factory
from tests.conftest import SHARED


def test_without_shared_data_the_bundled_images_are_used(tmp_path: Path) -> None:
    images = demo.demo_images(tmp_path)
    assert images and all(p.suffix == ".jpg" and "ultralytics" in str(p) for p in images)


@pytest.mark.shared_data
def test_with_shared_data_a_few_of_each_set_are_used() -> None:
    images = demo.demo_images(SHARED, per_folder=2)
    expected = ["graffiti", "trashbags", "facades", "dogwaste", "cones"]
    assert [p.parts[-3] for p in images] == [name for name in expected for _ in range(2)]


@pytest.mark.parametrize(("height", "width"), [(100, 400), (400, 100), (720, 1280)])
def test_letterbox_fits_the_frame_and_keeps_the_aspect(height: int, width: int) -> None:
    out = demo.letterbox(np.full((height, width, 3), 200, np.uint8))
    assert out.shape == (720, 1280, 3)
    rows, cols = np.nonzero(out[..., 0])
    kept = (rows.max() - rows.min() + 1) / (cols.max() - cols.min() + 1)
    assert kept == pytest.approx(height / width, rel=0.02)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (scripts/setup.sh)")
def test_the_clip_shows_each_image_for_its_seconds(bus_jpg: Path, tmp_path: Path) -> None:
    unreadable = tmp_path / "broken.jpg"
    unreadable.write_bytes(b"not a jpeg")
    clip = demo.build_clip([bus_jpg, unreadable, bus_jpg], tmp_path / "c.mp4", seconds_each=1)
    cap = cv2.VideoCapture(str(clip))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    cap.release()
    assert size == demo.FRAME
    assert frames == pytest.approx(20, abs=2)  # two readable images, 1 s each at 10 fps


def test_a_clip_needs_a_readable_image(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"x")
    with pytest.raises(Exception, match="none of the 1 demo images could be read"):
        demo.build_clip([broken], tmp_path / "c.mp4")


def test_the_demo_config_is_a_valid_rules_config_over_the_whole_frame() -> None:
    config = source_config({**demo.demo_config(), "id": demo.DEMO_CODE})
    (zone,) = config.zones
    assert zone.type.value == "pavement" and config.frame_size == demo.FRAME
    assert all(config.rule(clause).dwell_s == 2 for clause in config.rules)


def test_registering_twice_keeps_one_demo_camera(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIRONG_ENV", "development")
    monkeypatch.setenv("SHIRONG_DATABASE_URL", f"sqlite:///{tmp_path}/demo.db")
    demo.register_camera("rtsp://127.0.0.1:8554/demo")
    demo.register_camera("rtsp://127.0.0.1:9554/demo")
    engine = make_engine(f"sqlite:///{tmp_path}/demo.db")
    with make_session_factory(engine)() as session:
        rows = list(session.scalars(select(Camera)))
    engine.dispose()
    assert [(c.code, c.stream_url, c.rtsp_transport) for c in rows] == [
        (demo.DEMO_CODE, "rtsp://127.0.0.1:9554/demo", "udp")
    ]
