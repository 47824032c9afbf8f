"""Routing table: camera, then location (premises radius, then area polygon), then road name."""

from __future__ import annotations

import pytest

from serving.db.models import UserRole
from serving.services.geo import point_in_polygon
from tests.serving.helpers import Api, error_message

WEST = [[36.00, 120.00], [36.00, 120.10], [36.10, 120.10], [36.10, 120.00]]
EAST = [[36.00, 120.10], [36.00, 120.20], [36.10, 120.20], [36.10, 120.10]]
KTV = (36.05, 120.05)  # inside WEST


@pytest.fixture
def squads(api: Api) -> dict[str, int]:
    west = api.squad("west", areas=[{"name": "西区", "polygon": WEST}], cameras=["cam-w"])
    east = api.squad("east", areas=[{"name": "东区", "polygon": EAST}], cameras=["cam-e"])
    officer = api.actor(UserRole.SQUAD_OFFICER, squad_id=east)
    api.ok(
        "PUT",
        f"/squads/{east}",
        json={
            "code": "east",
            "name": "东区中队",
            "kind": "area",
            "areas": [{"name": "东区", "polygon": EAST}],
            "cameras": ["cam-e"],
            "roads": [{"road": "香江路", "officer_id": officer.id, "model_road": True}],
        },
    )
    ktv = api.squad(
        "ktv",
        kind="specialised",
        business_types=["ktv"],
        premises=[
            {
                "name": "星光KTV",
                "business_type": "ktv",
                "lat": KTV[0],
                "lon": KTV[1],
                "radius_m": 100,
            }
        ],
    )
    return {"west": west, "east": east, "ktv": ktv, "officer": officer.id}


# (query, squad, via, officer named for the road?)
ROUTES: list[tuple[dict[str, object], str | None, str | None, bool]] = [
    ({"camera_id": "cam-e", "lat": 36.05, "lon": 120.02}, "east", "camera", False),
    ({"camera_id": "cam-w", "lat": KTV[0], "lon": KTV[1]}, "west", "camera", False),
    ({"lat": KTV[0], "lon": KTV[1] + 0.0005}, "ktv", "premises", False),  # ~45 m away
    ({"lat": KTV[0], "lon": KTV[1] + 0.002}, "west", "area", False),  # ~180 m away
    ({"camera_id": "unknown", "lat": 36.05, "lon": 120.15}, "east", "area", False),
    ({"lat": 36.05, "lon": 120.15, "road": "香江路"}, "east", "area", True),
    ({"lat": 40.0, "lon": 116.0, "road": "香江路"}, "east", "road", True),
    ({"road": "香江路"}, "east", "road", True),
    ({"lat": 40.0, "lon": 116.0, "road": "无名路"}, None, None, False),
    ({}, None, None, False),
]


def test_routing_table(api: Api, squads: dict[str, int]) -> None:
    for query, squad, via, officer in ROUTES:
        assert api.ok("GET", "/routing", params=query) == {
            "squad_id": squads[squad] if squad else None,
            "via": via,
            "officer_id": squads["officer"] if officer else None,
        }, query


def test_a_camera_belongs_to_one_squad(api: Api, squads: dict[str, int]) -> None:
    response = api.client.post(
        "/squads",
        headers=api.admin.headers,
        json={"code": "north", "name": "北区中队", "kind": "area", "cameras": ["cam-w"]},
    )
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"cameras already belong to another squad: 'cam-w' (squad {squads['west']})"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "kind": "area",
                "premises": [
                    {"name": "x", "business_type": "ktv", "lat": 1, "lon": 1, "radius_m": 5}
                ],
            },
            "premises and business_types belong to specialised squads",
        ),
        ({"kind": "area", "roads": [{"road": "a"}, {"road": "a"}]}, "a road is listed twice"),
        (
            {"kind": "area", "areas": [{"name": "x", "polygon": [[1, 1], [2, 2]]}]},
            "at least 3 items",
        ),
        (
            {"kind": "area", "areas": [{"name": "x", "polygon": [[91, 1], [2, 2], [3, 3]]}]},
            "less than or equal to 90",
        ),
    ],
)
def test_invalid_squads_are_422(api: Api, body: dict[str, object], message: str) -> None:
    response = api.client.post(
        "/squads", headers=api.admin.headers, json={"code": "bad", "name": "坏", **body}
    )
    assert response.status_code == 422
    assert message in response.text


def test_road_officer_must_belong_to_the_squad(api: Api, squads: dict[str, int]) -> None:
    body = {
        "code": "west",
        "name": "西区",
        "kind": "area",
        "roads": [{"road": "长江路", "officer_id": squads["officer"]}],
    }
    response = api.client.put(f"/squads/{squads['west']}", headers=api.admin.headers, json=body)
    assert response.status_code == 422
    assert error_message(response).endswith("belongs to another squad")


def test_squad_roundtrip(api: Api, squads: dict[str, int]) -> None:
    squad = api.ok("GET", f"/squads/{squads['ktv']}")
    assert squad["kind"] == "specialised" and squad["business_types"] == ["ktv"]
    assert squad["premises"] == [
        {"name": "星光KTV", "business_type": "ktv", "lat": KTV[0], "lon": KTV[1], "radius_m": 100.0}
    ]
    assert [s["code"] for s in api.ok("GET", "/squads")] == ["west", "east", "ktv"]


SQUARE = [[0, 0], [0, 10], [10, 10], [10, 0]]
ELL = [[0, 0], [0, 10], [5, 10], [5, 5], [10, 5], [10, 0]]  # concave: top-right notch cut out


@pytest.mark.parametrize(
    ("polygon", "point", "inside"),
    [
        (SQUARE, (5, 5), True),
        (SQUARE, (15, 5), False),
        (SQUARE, (0, 5), True),  # on an edge
        (SQUARE, (10, 10), True),  # on a vertex
        (ELL, (2, 8), True),
        (ELL, (8, 8), False),  # in the notch
        (ELL, (8, 2), True),
    ],
)
def test_point_in_polygon(
    polygon: list[list[float]], point: tuple[float, float], inside: bool
) -> None:
    assert point_in_polygon(*point, polygon) is inside
