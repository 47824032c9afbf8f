"""The UI in a real browser against the real service: review, export, ticket board, languages."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from detection.taxonomy import default_taxonomy
from serving.db.models import Ticket
from tests.serving.helpers import HEIGHT, PASSWORD, WIDTH, street_png
from tests.ui.helpers import LiveService, act, confirm, incident, ingest, open_as, review_response

pytestmark = pytest.mark.slow


def ticket_of(live: LiveService, incident_id: int) -> Ticket:
    with live.services.sessions() as session:
        row = session.scalar(select(Ticket).where(Ticket.incident_id == incident_id))
        assert row is not None
        session.expunge(row)
        return row


def image_to_screen(page: Any, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#overlay").bounding_box()
    return box["x"] + x * box["width"] / WIDTH, box["y"] + y * box["height"] / HEIGHT


def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, 6):
        t = step / 5
        page.mouse.move(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
    page.mouse.up()


def test_reviewer_decides_relabels_fixes_and_draws_boxes_and_the_export_has_them(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    taxonomy = default_taxonomy()
    ids = [ingest(live, n, "cam-east") for n in range(1, 4)] + [ingest(live, 4, "cam-west")]
    accept_id, reject_id, edit_id, bulk_id = ids
    page = open_as(browser, live, "reviewer")
    page.wait_for_selector(f"#queue tr[data-id='{accept_id}'].current")
    page.wait_for_function("() => document.querySelector('#overlay rect.frame') !== null")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "垃圾袋" in page.locator("#overlay").text_content()
    page.screenshot(path=artifacts / "review.png", full_page=True)

    with review_response(page):
        page.keyboard.press("a")
    page.wait_for_selector(f"#queue tr[data-id='{accept_id}'] [data-status=confirmed]")
    assert incident(live, accept_id).status == "confirmed"
    assert ticket_of(live, accept_id).status == "new"

    page.wait_for_selector(f"#queue tr[data-id='{reject_id}'].current")
    page.select_option("#reject-reason", "false_positive")  # the select gives focus back
    with review_response(page):
        page.keyboard.press("r")
    page.wait_for_selector(f"#queue tr[data-id='{reject_id}'] [data-status=rejected]")
    assert incident(live, reject_id).status == "rejected"

    page.wait_for_selector(f"#queue tr[data-id='{edit_id}'].current")
    relabel_to, drawn_class = "cardboard_box", "chair"
    with review_response(page):
        page.select_option("#detail [data-box='0'] select", relabel_to)
    page.wait_for_function(
        f"() => document.querySelector('#overlay').textContent.includes("
        f"'{taxonomy.cls(relabel_to).name_zh}')"
    )
    assert incident(live, edit_id).boxes[0]["class_name"] == relabel_to

    body = page.locator("#overlay g[data-index='0'] rect.frame").bounding_box()
    start = (body["x"] + body["width"] / 2, body["y"] + body["height"] / 2)
    shift = image_to_screen(page, 30, 20)
    origin = image_to_screen(page, 0, 0)
    with review_response(page):
        drag(page, start, (start[0] + shift[0] - origin[0], start[1] + shift[1] - origin[1]))
    moved = incident(live, edit_id).boxes[0]["xyxy"]
    assert moved == pytest.approx([90, 140, 170, 230], abs=2)  # region (60,120,140,210) + (30,20)
    page.wait_for_selector("#detail [data-box='0'] td:has-text('90,140,170,230')")
    corner = page.locator("#overlay g[data-index='0'] rect[data-part=br]").bounding_box()
    grab = (corner["x"] + corner["width"] / 2, corner["y"] + corner["height"] / 2)
    with review_response(page):
        drag(page, grab, (grab[0] - shift[0] + origin[0], grab[1]))
    resized = incident(live, edit_id).boxes[0]["xyxy"]
    assert resized == pytest.approx([90, 140, 140, 230], abs=2)  # right edge pulled in by 30

    page.wait_for_selector("#draw:not([disabled])")
    page.click("#draw")
    page.select_option("#new-class", drawn_class)
    with review_response(page):
        drag(page, image_to_screen(page, 250, 60), image_to_screen(page, 330, 150))
    added = incident(live, edit_id).boxes[1]
    assert added["class_name"] == drawn_class and added["added"] is True
    assert added["xyxy"] == pytest.approx([250, 60, 330, 150], abs=2)
    page.wait_for_function("() => document.querySelectorAll('#overlay g.box').length === 2")
    page.screenshot(path=artifacts / "review-edited.png")
    with review_response(page):
        page.click("#accept")
    page.wait_for_selector(f"#queue tr[data-id='{edit_id}'] [data-status=confirmed]")

    page.check(f"#queue tr[data-id='{bulk_id}'] input[type=checkbox]")
    with review_response(page):
        page.click("#bulk-accept")
    page.wait_for_selector(f"#queue tr[data-id='{bulk_id}'] [data-status=confirmed]")
    assert incident(live, bulk_id).status == "confirmed"

    page.goto(f"{live.url}/ui/#/review/{edit_id}")
    page.reload()
    page.wait_for_selector(f"#queue tr[data-id='{edit_id}'].current [data-status=confirmed]")
    page.wait_for_function("() => document.querySelectorAll('#overlay g.box').length === 2")

    page.select_option("#filters select[name=squad_id]", str(live.squads["west"]))
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#queue tr[data-id]').length === 1")
    assert page.locator("#queue tr[data-id]").get_attribute("data-id") == str(bulk_id)

    with page.expect_download() as download:
        page.click("[data-export=yolo]")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    labels = {
        Path(name).stem: archive.read(name).decode()
        for name in archive.namelist()
        if name.startswith("labels/")
    }
    image = {i: incident(live, i).evidence[0] for i in ids}
    assert labels[image[reject_id]] == ""  # a false positive: negative image
    names = taxonomy.class_names
    edited = sorted(line.split()[0] for line in labels[image[edit_id]].splitlines())
    assert edited == sorted([str(names.index(relabel_to)), str(names.index(drawn_class))])
    [fixed] = [
        [float(v) for v in line.split()[1:]]
        for line in labels[image[edit_id]].splitlines()
        if line.split()[0] == str(names.index(relabel_to))
    ]
    x1, y1, x2, y2 = resized
    centre_wh = [
        (x1 + x2) / 2 / WIDTH,
        (y1 + y2) / 2 / HEIGHT,
        (x2 - x1) / WIDTH,
        (y2 - y1) / HEIGHT,
    ]
    assert fixed == pytest.approx(centre_wh, abs=1e-5)
    assert len(labels) == 4

    page.click("#lang")
    page.wait_for_selector("#accept:has-text('Accept')")
    assert page.locator("html").get_attribute("lang") == "en"
    page.screenshot(path=artifacts / "review-en.png")
    page.click("#lang")
    page.wait_for_selector("#accept:has-text('确认')")
    assert page.errors == []
    page.context.close()


def test_ticket_board_officer_sees_own_squad_and_the_lifecycle_runs_to_closed(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    east = confirm(live, ingest(live, 11, "cam-east", location=(36.0512, 120.0234)))
    west = confirm(live, ingest(live, 12, "cam-west"))

    dispatcher = open_as(browser, live, "dispatcher", f"#/tickets/{east}")
    dispatcher.wait_for_selector(f"#ticket-list tr[data-id='{east}'].current")
    dispatcher.wait_for_selector("#ticket-detail .thumbs img[src^='blob:']")
    act(dispatcher, "dispatch", "dispatched")

    officer = open_as(browser, live, "officer_east")
    officer.wait_for_selector("#ticket-list tr[data-id]")
    shown = {
        int(x)
        for x in officer.locator("#ticket-list tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    }
    with live.services.sessions() as session:
        owned = set(
            session.scalars(select(Ticket.id).where(Ticket.squad_id == live.squads["east"]))
        )
    assert east in shown and west not in shown
    assert shown == owned
    officer.click(f"#ticket-list tr[data-id='{east}']")
    act(officer, "accept", "accepted")
    officer.set_input_files(
        "#after-photo", {"name": "after.png", "mimeType": "image/png", "buffer": street_png(99)}
    )
    act(officer, "rectify", "rectified")
    officer.wait_for_selector("#ticket-detail .thumbs img[src^='blob:'] >> nth=1")
    officer.screenshot(path=artifacts / "tickets-officer.png", full_page=True)
    assert ticket_of(live, incident_id=incident_of(live, east)).after_photo is not None
    assert officer.locator("[data-action=close]").count() == 0  # closing is the dispatcher's

    dispatcher.reload()
    dispatcher.wait_for_selector("#ticket-detail [data-status=rectified]")
    act(dispatcher, "close", "closed")
    events = dispatcher.locator("#ticket-detail ol.events li")
    assert events.count() == 5  # created, dispatch, accept, rectify, close
    assert "结案" in events.nth(4).text_content()
    assert dispatcher.locator("#ticket-detail svg.geo").count() == 1
    dispatcher.screenshot(path=artifacts / "tickets-dispatcher.png", full_page=True)
    assert ticket_of(live, incident_of(live, east)).status == "closed"
    assert dispatcher.errors == [] and officer.errors == []
    dispatcher.context.close()
    officer.context.close()


def incident_of(live: LiveService, ticket_id: int) -> int:
    with live.services.sessions() as session:
        row = session.get(Ticket, ticket_id)
        assert row is not None and row.incident_id is not None
        return row.incident_id


def test_zone_editor_draws_a_polygon_and_saves_it_to_the_camera(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    with httpx.Client(base_url=live.url) as client:
        token = client.post("/auth/login", data={"username": "dispatcher", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        body = {"code": "cam-zones", "name": "长江西路口", "stream_url": "rtsp://127.0.0.1:9/x"}
        created = client.post("/cameras", json={**body, "enabled": False}, headers=headers)
        assert created.status_code == 201, created.text
        camera_id = created.json()["id"]
    page = open_as(browser, live, "dispatcher", f"#/cameras/{camera_id}")
    page.wait_for_selector(f"#camera-list tr[data-id='{camera_id}'].current")
    page.wait_for_selector("#zone-overlay[viewBox]")
    overlay = page.locator("#zone-overlay").bounding_box()
    width, height = 1280, 720  # the blank frame of a camera with no snapshot yet
    corners = [(100, 400), (900, 400), (1200, 700), (50, 700)]
    for x, y in corners:
        page.mouse.click(
            overlay["x"] + x * overlay["width"] / width,
            overlay["y"] + y * overlay["height"] / height,
        )
    page.fill("#zone-id", "pavement_1")
    page.select_option("#zone-type", "pavement")
    page.click("#zone-finish")
    with page.expect_response(lambda r: r.url.endswith("/zones") and r.status == 200):
        page.click("#zone-save")
    with httpx.Client(base_url=live.url) as client:
        saved = client.get(f"/cameras/{camera_id}", headers=headers).json()["config"]
    assert saved["frame_size"] == [width, height]
    [zone] = saved["zones"]
    assert zone["id"] == "pavement_1" and zone["type"] == "pavement"
    assert [list(p) for p in zone["polygon"]] == [pytest.approx(c, abs=3) for c in corners]
    page.reload()
    page.wait_for_selector("#zone-overlay polygon[data-zone=pavement_1]")
    page.screenshot(path=artifacts / "cameras.png", full_page=True)
    assert page.errors == []
    page.context.close()
