"""Evidence of incidents: original, annotated copy and crop, stored by SHA-256."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rules_helpers import H, W, config, on_ground, simulate

from detection.evidence import EvidenceStore, sha256_file
from detection.rules import evidence
from detection.rules.evidence import crop_box


def street_image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)


def test_evidence_files_hash_to_their_recorded_sha256(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    bag = on_ground("garbage_bag", 100, 180, tid=1)
    image = street_image()
    timeline = [(s, [bag]) for s in range(13)]
    (inc,) = simulate(config(), timeline, store=store, image=image)
    assert inc.evidence is not None
    frame = inc.evidence.opened
    for f in (frame.original, frame.annotated, frame.crop):
        path = tmp_path / f.path
        assert sha256_file(path) == f.sha256
        assert path.stat().st_size == f.bytes
    original = cv2.imread(str(tmp_path / frame.original.path), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(original, image)  # lossless, full resolution
    annotated = cv2.imread(str(tmp_path / frame.annotated.path))
    assert annotated.shape == image.shape
    crop = cv2.imread(str(tmp_path / frame.crop.path), cv2.IMREAD_UNCHANGED)
    x1, y1, x2, y2 = crop_box(frame.region_xyxy, 0.25, W, H)
    assert np.array_equal(crop, image[y1:y2, x1:x2])
    assert (frame.original.media_type, frame.annotated.media_type) == ("image/png", "image/jpeg")


def test_best_evidence_is_the_most_confident_frame(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    confs = [0.5] * 11 + [0.52, 0.9, 0.7]  # fires at 10 s with 0.5; 0.52 gains < 0.05
    timeline = [
        (s, [on_ground("garbage_bag", 100, 180, conf=c, tid=1)]) for s, c in enumerate(confs)
    ]
    (inc,) = simulate(config(), timeline, store=store, image=street_image())
    assert inc.evidence is not None
    assert (inc.evidence.opened.frame_index, inc.evidence.opened.confidence) == (10, 0.5)
    assert (inc.evidence.best.frame_index, inc.evidence.best.confidence) == (12, 0.9)
    assert inc.confidence == 0.9


def test_every_object_of_a_multi_object_incident_has_its_box_in_the_evidence_frames(
    tmp_path: Path,
) -> None:
    """Three touching bags are one incident; each evidence frame records each bag's own box
    (not only the first hit's object), and a better frame is recaptured with all three."""
    xs = (100, 130, 160)
    confs = [[0.6, 0.6, 0.6]] * 12 + [[0.6, 0.9, 0.6]]  # fires at 10 s; bag 2 gains at 12 s
    timeline = [
        (s, [on_ground("garbage_bag", x, 180, conf=c[i], tid=i + 1) for i, x in enumerate(xs)])
        for s, c in enumerate(confs)
    ]
    (inc,) = simulate(config(), timeline, store=EvidenceStore(tmp_path), image=street_image())
    assert inc.evidence is not None
    keys = [t.key for t in inc.tracks]
    assert len(keys) == 3
    expected = [(float(x - 20), 140.0, float(x + 20), 180.0) for x in xs]
    opened, best = inc.evidence.opened, inc.evidence.best
    assert (opened.frame_index, best.frame_index) == (10, 12)
    for frame, box_confs in ((opened, [0.6, 0.6, 0.6]), (best, [0.6, 0.9, 0.6])):
        assert [b.track_key for b in frame.boxes] == keys
        assert [b.xyxy for b in frame.boxes] == expected
        assert [b.confidence for b in frame.boxes] == box_confs
        assert {b.class_name for b in frame.boxes} == {"garbage_bag"}
    assert best.region_xyxy == (80.0, 140.0, 180.0, 180.0)


def test_incidents_opened_by_one_frame_share_its_encoded_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two bags far apart are two incidents opened on the same frame: one PNG of that frame."""
    originals: list[tuple[int, ...]] = []
    real = evidence.encode

    def counted(image: np.ndarray, ext: str, jpeg_quality: int = 90) -> bytes:
        if ext == "png" and image.shape == (H, W, 3):
            originals.append(image.shape)
        return real(image, ext, jpeg_quality)

    monkeypatch.setattr(evidence, "encode", counted)
    bags = [on_ground("garbage_bag", 60, 180, tid=1), on_ground("garbage_bag", 300, 180, tid=2)]
    incidents = simulate(config(), [(s, bags) for s in range(11)], store=EvidenceStore(tmp_path))
    assert len(incidents) == 2
    opened = [inc.evidence.opened for inc in incidents if inc.evidence]
    assert opened[0].frame_index == opened[1].frame_index
    assert opened[0].original == opened[1].original
    assert len(originals) == 1


def test_a_main_stream_frame_is_the_evidence_with_boxes_scaled_to_it(tmp_path: Path) -> None:
    """Analysed on a half-size sub-stream, evidence is cut from the full-size main stream."""
    full = cv2.resize(street_image(), (2 * W, 2 * H), interpolation=cv2.INTER_NEAREST)
    small = cv2.resize(full, (W, H), interpolation=cv2.INTER_AREA)
    timeline = [(s, [on_ground("garbage_bag", 100, 180, tid=1)]) for s in range(13)]
    (inc,) = simulate(config(), timeline, store=EvidenceStore(tmp_path), image=small, full=full)
    assert inc.evidence is not None
    frame = inc.evidence.opened
    original = cv2.imread(str(tmp_path / frame.original.path), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(original, full)
    assert [b.xyxy for b in frame.boxes] == [(160.0, 280.0, 240.0, 360.0)]  # (80,140,120,180)×2
    assert frame.region_xyxy == (160.0, 280.0, 240.0, 360.0)
    crop = cv2.imread(str(tmp_path / frame.crop.path), cv2.IMREAD_UNCHANGED)
    x1, y1, x2, y2 = crop_box(frame.region_xyxy, 0.25, 2 * W, 2 * H)
    assert np.array_equal(crop, full[y1:y2, x1:x2])
    assert cv2.imread(str(tmp_path / frame.annotated.path)).shape == full.shape


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ((100, 100, 140, 180), (90, 80, 150, 200)),
        ((0, 0, 40, 40), (0, 0, 50, 50)),
        ((620, 460, 640, 480), (615, 455, 640, 480)),
    ],
    ids=["inside", "top-left-corner", "bottom-right-corner"],
)
def test_crop_box_grows_and_clips(
    region: tuple[float, float, float, float], expected: tuple[int, int, int, int]
) -> None:
    assert crop_box(region, 0.25, W, H) == expected
