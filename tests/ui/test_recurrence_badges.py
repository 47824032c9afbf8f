"""The review queue shows how often a situation was seen again and marks a recurrence (复发)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from serving.db.models import Incident
from tests.ui.helpers import LiveService, ingest, open_as

pytestmark = pytest.mark.slow


def test_the_queue_shows_sightings_and_recurrences(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    earlier, again = ingest(live, 41, "cam-east"), ingest(live, 42, "cam-east")
    with live.services.sessions() as session:  # as recurrence.py leaves them after a camera loop
        session.execute(update(Incident).where(Incident.id == earlier).values(sightings=5))
        session.execute(
            update(Incident)
            .where(Incident.id == again)
            .values(sightings=3, suppressed=0, recurrence_of_id=earlier)
        )
        session.commit()
    page = open_as(browser, live, "reviewer", f"#/review/{again}")
    row = page.locator(f"#queue tr[data-id='{again}']")
    row.wait_for()
    assert "出现 3 次" in row.inner_text() and "复发" in row.inner_text()
    badge = row.locator("span.recurrence")
    assert badge.get_attribute("title") == f"#{earlier} 结案后再次出现"
    other = page.locator(f"#queue tr[data-id='{earlier}']").inner_text()
    assert "出现 5 次" in other and "复发" not in other
    assert "出现次数" in page.locator("#detail dl.facts").inner_text()
    page.screenshot(path=artifacts / "review-recurrence.png")
    page.click("#lang")
    row.get_by_text("recurrence").wait_for()
    assert "seen 3×" in row.inner_text()
    assert page.errors == []
    page.context.close()
