"""Every object's own box through the API, whether a confirmation gives training data, and the
review queue loading in a constant number of queries."""

from __future__ import annotations

from typing import Any

import pytest

from detection.rules.incident import Incident as IncidentRecord
from serving.db.models import UserRole
from serving.services.incidents import boxes_of
from tests.serving.helpers import Api, counted, make_record, post_record

BOXES = [[10.0, 20.0, 40.0, 60.0], [50.0, 30.0, 80.0, 70.0], [90.0, 40.0, 110.0, 220.0]]
CLASSES = ("garbage_bag", "cardboard_box", "garbage_bag")


def boxed_record(n: int = 1, classes: tuple[str, ...] = CLASSES, **fields: Any) -> IncidentRecord:
    """A multi-object record as the rules engine now writes it: each object's box on the best
    frame (the opened frame saw only the first object)."""
    record = make_record(record_id=f"00000000-0000-4000-8000-{n:012d}", classes=classes, **fields)
    data = record.model_dump(mode="json")

    def box(i: int) -> dict[str, Any]:
        return {"track_key": i + 1, "class_name": classes[i], "confidence": 0.7, "xyxy": BOXES[i]}

    data["evidence"]["best"]["boxes"] = [box(i) for i in range(len(classes))]
    data["evidence"]["opened"]["boxes"] = [box(0)]
    return IncidentRecord.model_validate(data)


def test_each_object_comes_back_with_its_own_box(api: Api) -> None:
    out = post_record(api, boxed_record())
    assert [b["xyxy"] for b in out["boxes"]] == BOXES
    assert [(b["track_key"], b["class_name"]) for b in out["boxes"]] == [
        (1, "garbage_bag"),
        (2, "cardboard_box"),
        (3, "garbage_bag"),
    ]
    assert {b["evidence"] for b in out["boxes"]} == {out["image"]}
    shown = api.ok("GET", f"/incidents/{out['id']}")
    assert [b["xyxy"] for b in shown["boxes"]] == BOXES
    assert (shown["trainable"], shown["untrainable"]) == (True, None)
    [listed] = api.ok("GET", "/incidents")
    assert [b["xyxy"] for b in listed["boxes"]] == BOXES


def test_an_object_missing_from_the_best_frame_has_no_box() -> None:
    """An object that joined after the best frame was taken has no box on it."""
    data = boxed_record().model_dump(mode="json")
    data["evidence"]["best"]["boxes"] = data["evidence"]["best"]["boxes"][:2]
    boxes = boxes_of(IncidentRecord.model_validate(data))
    assert [b["xyxy"] for b in boxes] == [BOXES[0], BOXES[1], None]


def test_an_old_multi_object_record_says_why_confirming_it_gives_no_training_data(
    api: Api,
) -> None:
    old = make_record(classes=("garbage_bag", "cardboard_box"))  # no per-object boxes
    out = post_record(api, old)
    assert out["trainable"] is False
    assert out["untrainable"] == {
        "code": "unboxed_objects",
        "detail": "objects 1, 2 of this multi-object incident have no box on the evidence "
        "frame; draw each to make the confirmation training data",
        "boxes": [0, 1],
    }
    reviewer = api.actor(UserRole.REVIEWER)
    path = f"/incidents/{out['id']}/reviews"
    body = {"action": "correct_box", "box_index": 0, "xyxy": [10, 20, 40, 60]}
    still = api.ok("POST", path, reviewer, json=body)["incident"]
    assert (still["trainable"], still["untrainable"]["boxes"]) == (False, [1])
    body = {"action": "correct_box", "box_index": 1, "xyxy": [50, 30, 80, 70]}
    fixed = api.ok("POST", path, reviewer, json=body)["incident"]
    assert (fixed["trainable"], fixed["untrainable"]) == (True, None)


@pytest.mark.parametrize(
    ("record", "trainable", "code"),
    [
        (make_record(), True, None),  # one object: the evidence region is its box
        (make_record(evidence=None), False, "no_evidence_image"),
    ],
    ids=["old-single-object", "no-evidence"],
)
def test_trainable_for_single_objects_and_records_without_evidence(
    api: Api, record: IncidentRecord, trainable: bool, code: str | None
) -> None:
    out = post_record(api, record)
    assert out["trainable"] is trainable
    assert (out["untrainable"] or {}).get("code") == code


def test_the_review_queue_loads_in_a_constant_number_of_queries(api: Api) -> None:
    """Before: one ticket query per row (501 statements for 500 rows); now the page, its tickets
    and the caller's token, whatever the page size."""
    ids = [post_record(api, boxed_record(n, source_id=f"cam-{n}"))["id"] for n in range(1, 51)]
    reviewer = api.actor(UserRole.REVIEWER)
    for incident_id in ids[::5]:
        api.ok("POST", f"/incidents/{incident_id}/reviews", reviewer, json={"action": "confirm"})
    sizes = {}
    for limit in (5, 50):
        with counted(api) as counts:
            rows = api.ok("GET", f"/incidents?limit={limit}", reviewer)
        assert len(rows) == limit
        sizes[limit] = counts["statements"]
    assert sizes[50] == sizes[5] <= 6, sizes
    tickets = {r["id"]: r["ticket_id"] for r in rows}
    assert sum(t is not None for t in tickets.values()) == 10
    for incident_id in ids[::5]:
        assert tickets[incident_id] == api.ok("GET", f"/incidents/{incident_id}")["ticket_id"]
