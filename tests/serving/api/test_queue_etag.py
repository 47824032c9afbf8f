"""The review queue's ETag: a polling reviewer gets 304 while nothing shown changed, 200 after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from serving.db.models import Incident, UserRole
from tests.serving.helpers import Api, make_record, post_record


def record(n: int) -> Any:
    return make_record(record_id=f"00000000-0000-4000-8000-{n:012d}")


def poll(api: Api, etag: str | None = None, query: str = "") -> Any:
    headers = {**api.admin.headers, **({"If-None-Match": etag} if etag else {})}
    return api.client.get(f"/incidents{query}", headers=headers)


def test_an_unchanged_queue_is_304_and_every_change_shown_is_a_new_page(api: Api) -> None:
    first, second = post_record(api, record(1)), post_record(api, record(2))
    page = poll(api)
    etag = page.headers["ETag"]
    assert page.status_code == 200 and etag.startswith('W/"')
    assert [i["id"] for i in page.json()] == [first["id"], second["id"]]
    same = poll(api, etag)
    assert same.status_code == 304 and same.content == b"" and same.headers["ETag"] == etag

    reviewer = api.actor(UserRole.REVIEWER)
    api.ok("POST", f"/incidents/{first['id']}/reviews", reviewer, json={"action": "confirm"})
    confirmed = poll(api, etag)
    assert confirmed.status_code == 200, "a decision (and its ticket) changes the page"
    assert confirmed.json()[0]["ticket_id"] is not None
    etag = confirmed.headers["ETag"]

    with api.services.sessions() as session:  # as recurrence counts a sighting: no updated_at
        session.execute(update(Incident).where(Incident.id == second["id"]).values(sightings=4))
        session.commit()
    seen = poll(api, etag)
    assert seen.status_code == 200 and seen.json()[1]["sightings"] == 4
    etag = seen.headers["ETag"]

    post_record(api, record(3))
    assert poll(api, etag).status_code == 200, "a new incident changes the page"
    pending = poll(api, query="?status=pending")
    assert pending.headers["ETag"] != poll(api).headers["ETag"], "another filter, another page"
    assert poll(api, pending.headers["ETag"], "?status=pending").status_code == 304


def test_if_none_match_takes_a_list_strong_or_weak_tags_and_a_star(api: Api) -> None:
    post_record(api, record(1))
    etag = poll(api).headers["ETag"]
    bare = etag.removeprefix("W/")
    assert poll(api, f'"other", {bare}').status_code == 304
    assert poll(api, "*").status_code == 304
    assert poll(api, '"other"').status_code == 200
    too_long = poll(api, '"x", ' * 300)
    assert too_long.status_code == 422
