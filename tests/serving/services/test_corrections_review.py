"""What the labelling UI adds to review: missed boxes, queue filters, names, the frame to label."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from detection.taxonomy import default_taxonomy
from tests.serving.helpers import Api, evidence_record, make_record, post_record, review


def test_add_box_appends_a_reviewer_box_and_keeps_the_incident_pending(api: Api) -> None:
    out = post_record(api, evidence_record(api.services.store, 1))
    result = review(api, out["id"], action="add_box", class_name="chair", xyxy=[5, 6, 50, 60])
    added = result["incident"]["boxes"][1]
    assert added["class_name"] == "chair" and added["xyxy"] == [5, 6, 50, 60]
    assert added["added"] is True and added["evidence"] == out["image"]
    assert result["incident"]["status"] == "pending"
    assert result["incident"]["classes"] == ["chair", "garbage_bag"]
    assert result["review"]["after"] == added and result["review"]["before"] is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"class_name": "unicorn", "xyxy": [1, 2, 3, 4]}, "'unicorn' is not a taxonomy class"),
        ({"class_name": "chair"}, "action 'add_box' needs xyxy"),
        ({"xyxy": [1, 2, 3, 4]}, "action 'add_box' needs class_name"),
        ({"class_name": "chair", "xyxy": [5, 2, 3, 4]}, "xyxy must have x2 > x1 and y2 > y1"),
    ],
)
def test_add_box_refuses(api: Api, body: dict[str, Any], detail: str) -> None:
    out = post_record(api, evidence_record(api.services.store, 2))
    response = api.client.post(
        f"/incidents/{out['id']}/reviews",
        json={"action": "add_box", **body},
        headers=api.admin.headers,
    )
    assert response.status_code == 422
    assert detail in response.text


def test_incident_out_names_the_standard_clause_source_and_frame_to_label(api: Api) -> None:
    out = post_record(api, evidence_record(api.services.store, 3, region=(1, 2, 30, 40)))
    clause = default_taxonomy().clause("3a")
    assert out["clause_name"] == clause.name_zh
    assert out["standard_name"] == default_taxonomy().standard(3).name_zh
    assert out["source_name"] == "测试摄像头"
    assert out["image"] == out["evidence"][0]
    assert out["image_region"] == [1, 2, 30, 40]


FILTERS = [
    ("standard=3", {"a", "c"}),
    ("standard=4", {"b"}),
    ("camera_id=cam-y", {"b", "c"}),
    ("squad_id={squad}", {"b", "c"}),
    ("min_confidence=0.85", {"c"}),
    ("since=2026-05-05T00:00:00%2B00:00", {"c"}),
    ("until=2026-05-05T00:00:00%2B00:00", {"a", "b"}),
    ("standard=3&camera_id=cam-y", {"c"}),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_review_queue_filters(api: Api, query: str, expected: set[str]) -> None:
    squad = api.squad("west", cameras=["cam-y"])
    taxonomy = default_taxonomy()
    clause_4 = taxonomy.standard(4).clauses[0].id
    class_4 = taxonomy.classes_for(clause_4)[0]
    records = {
        "a": make_record(record_id="00000000-0000-4000-8000-00000000000a", source_id="cam-x"),
        "b": make_record(
            clause_id=clause_4,
            classes=(class_4,),
            record_id="00000000-0000-4000-8000-00000000000b",
            source_id="cam-y",
        ),
        "c": make_record(
            record_id="00000000-0000-4000-8000-00000000000c",
            source_id="cam-y",
            first_seen=datetime(2026, 5, 6, 2, 0, tzinfo=UTC),
            confidence=0.9,
        ),
    }
    ids = {post_record(api, r)["id"]: name for name, r in records.items()}
    found = api.ok("GET", f"/incidents?{query.format(squad=squad)}")
    assert {ids[i["id"]] for i in found} == expected


@pytest.mark.parametrize(
    ("standard", "message"),
    [
        (0, "greater than or equal to 1"),
        (7, "no standard 7; the taxonomy has 1, 2, 3, 4, 5, 6"),  # the taxonomy's, not a bound
    ],
)
def test_review_queue_refuses_a_standard_the_taxonomy_lacks(
    api: Api, standard: int, message: str
) -> None:
    response = api.client.get(f"/incidents?standard={standard}", headers=api.admin.headers)
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["params"]) == ("request_invalid", {"fields": ["standard"]})
    assert message in body["detail"][0]["msg"]
