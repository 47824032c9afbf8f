"""Corrections export: reviewed frames → YOLO / COCO / Label Studio zips the dataset tools read."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from detection.data.importers import IMPORTERS
from detection.data.samples import ImportResult
from detection.taxonomy import default_taxonomy
from serving.db.models import UserRole
from tests.serving.helpers import HEIGHT, WIDTH, Api, evidence_record, post_record, review


def unzip(data: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(into)
    return into


def labels_by_image(
    result: ImportResult,
) -> dict[str, list[tuple[str, float, float, float, float]]]:
    """Image name → sorted boxes, rounded so formats with different precision compare equal."""
    return {
        s.image.name: sorted(
            (b.label, *(round(v, 3) for v in (b.x1, b.y1, b.x2, b.y2))) for b in s.boxes
        )
        for s in result.samples
    }


def px(label: str, x1: float, y1: float, x2: float, y2: float) -> tuple[str, ...]:
    return (label, *(round(v, 3) for v in (x1 / WIDTH, y1 / HEIGHT, x2 / WIDTH, y2 / HEIGHT)))


@pytest.fixture
def reviewed(api: Api) -> dict[str, Any]:
    """Five incidents, one per kind of outcome; returns their ids and image SHA-256s."""
    store = api.services.store
    reviewer = api.actor(UserRole.REVIEWER)
    ids, shas = {}, {}
    for n, name in enumerate(("plain", "edited", "false_positive", "duplicate", "pending"), 1):
        out = post_record(api, evidence_record(store, n))
        ids[name], shas[name] = out["id"], out["image"]
    review(api, ids["plain"], action="confirm")
    edited = ids["edited"]
    api.ok(
        "POST",
        f"/incidents/{edited}/reviews",
        reviewer,
        json={"action": "relabel", "box_index": 0, "class_name": "cardboard_box"},
    )
    api.ok(
        "POST",
        f"/incidents/{edited}/reviews",
        reviewer,
        json={"action": "correct_box", "box_index": 0, "xyxy": [50, 110, 150, 220]},
    )
    api.ok(
        "POST",
        f"/incidents/{edited}/reviews",
        reviewer,
        json={"action": "add_box", "class_name": "chair", "xyxy": [250, 60, 330, 150]},
    )
    api.ok("POST", f"/incidents/{edited}/reviews", reviewer, json={"action": "confirm"})
    review(api, ids["false_positive"], action="reject", reason="false_positive")
    review(api, ids["duplicate"], action="reject", reason="duplicate")
    return {"ids": ids, "shas": shas}


EXPECTED = {
    "plain": [px("garbage_bag", 60, 120, 140, 210)],
    "edited": sorted([px("cardboard_box", 50, 110, 150, 220), px("chair", 250, 60, 330, 150)]),
    "false_positive": [],
}
ANNOTATIONS = {"yolo": ".", "coco": "annotations.json", "labelstudio": "tasks.json"}


@pytest.mark.parametrize("fmt", list(ANNOTATIONS))
def test_export_round_trips_through_the_dataset_importers(
    api: Api, reviewed: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    response = api.client.get(
        f"/corrections/export?format={fmt}", headers=api.actor(UserRole.REVIEWER).headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    root = unzip(response.content, tmp_path / fmt)
    result = IMPORTERS[fmt](root / ANNOTATIONS[fmt], fmt, None)
    assert not [str(i) for i in result.issues]
    shas = reviewed["shas"]
    assert labels_by_image(result) == {f"{shas[k]}.png": boxes for k, boxes in EXPECTED.items()}
    summary = json.loads((root / "corrections.json").read_text(encoding="utf-8"))
    assert summary["skipped"] == [
        {
            "incident": reviewed["ids"]["duplicate"],
            "reason": "rejected as duplicate: the objects may be real, so not a negative",
        }
    ]


def test_yolo_export_has_canonical_class_names_and_empty_negative_labels(
    api: Api, reviewed: dict[str, Any], tmp_path: Path
) -> None:
    root = unzip(
        api.client.get("/corrections/export?format=yolo", headers=api.admin.headers).content,
        tmp_path,
    )
    data = yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8"))
    names = default_taxonomy().class_names
    assert data["names"] == dict(enumerate(names))
    assert data["nc"] == len(names)
    negative = root / "labels" / f"{reviewed['shas']['false_positive']}.txt"
    assert negative.read_text() == ""
    assert (root / "images" / f"{reviewed['shas']['false_positive']}.png").is_file()
    assert not (root / "images" / f"{reviewed['shas']['pending']}.png").exists()


def test_multi_object_incident_needs_every_box_drawn(api: Api, tmp_path: Path) -> None:
    """A record from before per-object boxes: the evidence region covers all objects together,
    so it stands in for none of them."""
    classes = ("garbage_bag", "cardboard_box")
    out = post_record(api, evidence_record(api.services.store, 9, classes))
    review(api, out["id"], action="correct_box", box_index=0, xyxy=[60, 120, 100, 160])
    confirmed = review(api, out["id"], action="confirm")["incident"]
    assert (confirmed["trainable"], confirmed["untrainable"]["boxes"]) == (False, [1])
    zipped = api.client.get("/corrections/export?format=coco", headers=api.admin.headers)
    summary = json.loads(unzip(zipped.content, tmp_path).joinpath("corrections.json").read_text())
    reason = confirmed["untrainable"]["detail"]
    assert reason.startswith("objects 2 of this multi-object incident have no box")
    assert summary == {"frames": [], "skipped": [{"incident": out["id"], "reason": reason}]}


MULTI = {
    "garbage_bag": (60.0, 120.0, 100.0, 210.0),
    "cardboard_box": (100.0, 150.0, 140.0, 210.0),
    "chair": (250.0, 60.0, 330.0, 150.0),
}


@pytest.mark.parametrize("fmt", list(ANNOTATIONS))
def test_a_confirmed_multi_object_incident_is_exported_with_every_box(
    api: Api, tmp_path: Path, fmt: str
) -> None:
    """Three objects with their own boxes on the evidence frame (as the rules engine records
    them): all three are in every format, one of them relabelled by the reviewer."""
    store, region = api.services.store, (60.0, 60.0, 330.0, 210.0)
    record = evidence_record(store, 11, tuple(MULTI), region=region, boxes=list(MULTI.values()))
    out = post_record(api, record)
    assert out["trainable"] is True
    review(api, out["id"], action="relabel", box_index=2, class_name="dining_table")
    review(api, out["id"], action="confirm")
    response = api.client.get(f"/corrections/export?format={fmt}", headers=api.admin.headers)
    root = unzip(response.content, tmp_path / fmt)
    result = IMPORTERS[fmt](root / ANNOTATIONS[fmt], fmt, None)
    assert not [str(i) for i in result.issues]
    expected = [px(c, *b) for c, b in MULTI.items() if c != "chair"]
    expected.append(px("dining_table", *MULTI["chair"]))
    assert labels_by_image(result) == {f"{out['image']}.png": sorted(expected)}
    summary = json.loads((root / "corrections.json").read_text(encoding="utf-8"))
    assert summary["skipped"] == []
    assert summary["frames"] == [
        {"file": f"{out['image']}.png", "incidents": [out["id"]], "boxes": 3}
    ]


@pytest.mark.parametrize(
    ("role", "query", "status", "detail"),
    [
        (UserRole.DISPATCHER, "format=yolo", 403, "role 'dispatcher' may not do this"),
        (UserRole.INGEST, "format=coco", 403, "role 'ingest' may not do this"),
        (UserRole.REVIEWER, "format=voc", 422, "Input should be 'yolo', 'coco' or 'labelstudio'"),
        (UserRole.REVIEWER, "", 422, "Field required"),
    ],
)
def test_export_refuses(api: Api, role: UserRole, query: str, status: int, detail: str) -> None:
    response = api.client.get(f"/corrections/export?{query}", headers=api.actor(role).headers)
    assert response.status_code == status
    assert detail in response.text
