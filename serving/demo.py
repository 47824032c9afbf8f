"""Helpers of ``scripts/demo.sh``: the demo clip and the demo camera.

``python -m serving.demo clip OUT.mp4`` builds a slideshow clip (H.264, for an RTSP publisher) from
a few street photos: ../shared's graffiti, trash-bag, facade, dog-waste and cone images when
present, else the images Ultralytics ships. ``python -m serving.demo camera URL`` registers (or
updates) the demo camera in the database named by ``SHIRONG_*``, with a zone config under which
its clauses fire within seconds instead of minutes.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select

from detection.engine import SHARED_ENV
from detection.errors import InputError
from detection.resources import REPO_ROOT
from detection.taxonomy import default_taxonomy
from serving.config import load_settings
from serving.db.models import Camera
from serving.db.session import make_engine, make_session_factory
from serving.migrations import upgrade
from serving.schemas.cameras import CameraIn
from serving.services import cameras

SHARED_FOLDERS = ("graffiti", "trashbags", "facades", "dogwaste", "cones")
FRAME = (1280, 720)
DEMO_CODE = "cam-lsw-01"  # a camera of the seeded 灵山卫 squad, so its tickets route there
DEMO_PLACE = (35.955, 120.18)


def demo_images(shared: Path, per_folder: int = 3) -> list[Path]:
    """A few photos of each ../shared data set, else Ultralytics' bundled assets."""
    found = [
        path
        for folder in SHARED_FOLDERS
        for path in sorted((shared / "data" / folder / "images").glob("*.jpg"))[:per_folder]
    ]
    if found:
        return found
    import ultralytics

    return sorted((Path(ultralytics.__file__).parent / "assets").glob("*.jpg"))


def letterbox(image: np.ndarray, size: tuple[int, int] = FRAME) -> np.ndarray:
    """Fit into ``size`` (width, height) on black, keeping the aspect ratio."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = round(image.shape[1] * scale), round(image.shape[0] * scale)
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def build_clip(images: Sequence[Path], out: Path, seconds_each: float = 4.0, fps: int = 10) -> Path:
    """An H.264 slideshow (key frame every second, so a viewer joining late starts fast)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise InputError("ffmpeg is not installed (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        written = 0
        for path in images:
            image = cv2.imread(str(path))
            if image is None:
                continue
            cv2.imwrite(f"{tmp}/{written:03d}.png", letterbox(image))
            written += 1
        if not written:
            raise InputError(f"none of the {len(images)} demo images could be read")
        command = [ffmpeg, "-nostdin", "-loglevel", "error", "-y"]
        command += ["-framerate", f"1/{seconds_each:g}", "-i", f"{tmp}/%03d.png"]
        command += ["-vf", f"fps={fps},format=yuv420p", "-c:v", "libx264", "-preset", "veryfast"]
        command += ["-tune", "stillimage", "-g", str(fps), str(out)]
        subprocess.run(command, check=True, timeout=600)
    return out


def demo_config(frame: tuple[int, int] = FRAME) -> dict[str, object]:
    """One pavement zone over the whole frame; clauses need 2 s of dwell instead of minutes."""
    width, height = frame
    clauses = [c.id for s in default_taxonomy().standards for c in s.clauses]
    return {
        "name": "演示摄像头 (slideshow)",
        "frame_size": [width, height],
        "zones": [
            {
                "id": "pavement",
                "name": "人行道",
                "type": "pavement",
                "polygon": [[0, 0], [width, 0], [width, height], [0, height]],
            }
        ],
        "rules": {clause: {"dwell_s": 2, "min_frames": 3} for clause in clauses},
        "cooldown_s": 30,
    }


def register_camera(url: str, transport: str = "udp") -> int:
    """Create or update the demo camera in the configured database; returns its id."""
    settings = load_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            existing = session.scalar(select(Camera).where(Camera.code == DEMO_CODE))
            if existing is not None:
                cameras.delete(session, existing.id)
            data = CameraIn(
                code=DEMO_CODE,
                name="长江西路 demo",
                stream_url=url,
                rtsp_transport="udp" if transport == "udp" else "tcp",
                lat=DEMO_PLACE[0],
                lon=DEMO_PLACE[1],
                road="长江西路",
                config=demo_config(),
            )
            return cameras.create(session, default_taxonomy(), data).id
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    clip = sub.add_parser("clip", help="build the demo clip")
    clip.add_argument("out", type=Path)
    camera = sub.add_parser("camera", help="register the demo camera")
    camera.add_argument("url")
    args = parser.parse_args(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "clip":
        images = demo_images(Path(os.environ.get(SHARED_ENV, REPO_ROOT.parent / "shared")))
        build_clip(images, args.out)
        print(f"demo clip: {len(images)} images → {args.out}")
    else:
        print(f"demo camera {DEMO_CODE} registered (id {register_camera(args.url)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
