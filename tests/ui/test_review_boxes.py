"""The review page in a real browser: each object of a multi-object incident in its own box, and
a visible notice when a confirmation cannot become training data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serving.services import incidents
from serving.services.recurrence import Recurrence
from tests.serving.helpers import evidence_record
from tests.ui.helpers import LiveService, incident, open_as, review_response

pytestmark = pytest.mark.slow

BOXES = {
    "garbage_bag": (60.0, 120.0, 100.0, 210.0),
    "cardboard_box": (100.0, 150.0, 140.0, 210.0),
    "chair": (250.0, 60.0, 330.0, 150.0),
}
REGION = (60.0, 60.0, 330.0, 210.0)


def ingest(live: LiveService, n: int, camera: str, boxed: bool) -> int:
    """A three-object incident, with each object's box (as the engine writes it) or without."""
    record = evidence_record(
        live.services.store,
        n,
        tuple(BOXES),
        region=REGION,
        boxes=list(BOXES.values()) if boxed else (),
        source_id=camera,
    )
    with live.services.sessions() as session:
        policy = Recurrence.of(live.services.settings)
        row, _ = incidents.ingest(session, live.services.taxonomy, record, policy)
        return row.id


def frames(page: Any) -> list[tuple[float, ...]]:
    """Each drawn box's rectangle in image pixels (the overlay's viewBox is the image)."""
    return page.eval_on_selector_all(
        "#overlay g.box rect.frame",
        "rects => rects.map(r => ['x', 'y', 'width', 'height'].map(k => +r.getAttribute(k)))",
    )


def test_each_object_is_drawn_in_its_own_box_and_untrainable_confirmations_say_so(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    boxed, old = ingest(live, 31, "cam-east", boxed=True), ingest(live, 32, "cam-west", boxed=False)
    page = open_as(browser, live, "reviewer", f"#/review/{boxed}")
    page.wait_for_selector(f"#queue tr[data-id='{boxed}'].current")
    page.wait_for_function("() => document.querySelectorAll('#overlay g.box').length === 3")
    expected = sorted([x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in BOXES.values())
    assert sorted(frames(page)) == expected
    assert page.locator("#overlay rect.region").count() == 0  # no stacked region
    assert page.locator("#untrainable").count() == 0
    text = page.locator("#overlay").text_content()
    assert all(name in text for name in ("垃圾袋", "纸箱杂物", "椅子"))
    page.screenshot(path=artifacts / "review-boxes.png")

    page.click(f"#queue tr[data-id='{old}']")
    page.wait_for_selector(f"#queue tr[data-id='{old}'].current")
    notice = page.locator("#untrainable")
    notice.wait_for()
    assert notice.is_visible()
    assert "确认后不会生成训练数据" in notice.text_content()
    assert "目标 1、2、3 在证据帧上没有自己的框" in notice.text_content()
    assert "请先拖动或补画这些框" in notice.text_content()
    assert page.locator("#detail tr.unboxed").count() == 3
    assert page.locator("#overlay rect.region").count() == 1  # the fallback the old record has
    page.screenshot(path=artifacts / "review-untrainable.png")

    page.click("#lang")
    page.wait_for_selector("#untrainable:has-text('Confirming this gives no training data')")
    assert "object(s) 1, 2, 3 have no box" in page.locator("#untrainable").text_content()
    page.click("#lang")
    page.wait_for_selector("#untrainable:has-text('确认后不会生成训练数据')")

    with review_response(page):
        page.click("#accept")
    page.wait_for_selector(f"#queue tr[data-id='{old}'] [data-status=confirmed]")
    confirmed = page.locator("#train-notice")
    confirmed.wait_for()
    assert f"#{old} 已确认，但不会生成训练数据：目标 1、2、3" in confirmed.text_content()
    assert "请先" not in confirmed.text_content()  # too late to draw them
    assert incident(live, old).status == "confirmed"
    page.screenshot(path=artifacts / "review-confirmed-untrainable.png")
    assert not page.errors
