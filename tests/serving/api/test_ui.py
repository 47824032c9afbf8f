"""The UI's static files, the redirect to it and the taxonomy/zone-type lookups it reads."""

from __future__ import annotations

import pytest

from detection.rules.config import ZoneType
from detection.taxonomy import default_taxonomy
from serving.db.models import UserRole
from tests.serving.helpers import Api


def test_root_redirects_to_the_ui_which_is_chinese_utf8_and_offline(api: Api) -> None:
    response = api.client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/ui/"
    page = api.client.get("/ui/")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text and '<meta charset="utf-8">' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN


@pytest.mark.parametrize(
    "path", ["/ui/app.css", "/ui/js/app.js", "/ui/js/review.js", "/ui/js/boxes.js"]
)
def test_static_assets_are_served_without_a_token(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 200
    assert "https://" not in response.text  # nothing fetched from the network


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (UserRole.REVIEWER, 200),
        (UserRole.SQUAD_OFFICER, 200),
        (UserRole.INGEST, 403),
        (None, 401),
    ],
)
@pytest.mark.parametrize("path", ["/taxonomy", "/zone-types"])
def test_lookups_are_for_staff_only(
    api: Api, role: UserRole | None, status: int, path: str
) -> None:
    squad = api.squad("east") if role is UserRole.SQUAD_OFFICER else None
    headers = api.actor(role, squad).headers if role else {}
    assert api.client.get(path, headers=headers).status_code == status


def test_taxonomy_lists_classes_in_canonical_order_and_zone_types_all_kinds(api: Api) -> None:
    taxonomy = api.ok("GET", "/taxonomy")
    assert tuple(c["name"] for c in taxonomy["classes"]) == default_taxonomy().class_names
    assert [s["id"] for s in taxonomy["standards"]] == [1, 2, 3, 4, 5, 6]
    assert api.ok("GET", "/zone-types") == [z.value for z in ZoneType]
