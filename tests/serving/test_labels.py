"""One dictionary of words (serving/ui/labels.json): WeCom messages, the daily report and the UI
say a ticket's status, its priority and the report's columns alike."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from serving.db.models import (
    IncidentStatus,
    OutboxMessage,
    Priority,
    TicketEvent,
    TicketStatus,
    UserRole,
)
from serving.labels import LABELS_FILE
from serving.services.outbox import wecom_markdown
from serving.services.tickets import priority_for
from tests.serving.helpers import Api, Tables

LABELS: dict[str, dict[str, dict[str, str]]] = json.loads(LABELS_FILE.read_text("utf-8"))
I18N = LABELS_FILE.parent / "js" / "i18n.js"


def zh(group: str, key: str) -> str:
    return LABELS[group][key]["zh"]


@pytest.mark.parametrize(
    ("group", "values"),
    [
        ("ticket_status", list(TicketStatus)),
        ("status", list(IncidentStatus)),
        ("priority", list(Priority)),
        ("role", list(UserRole)),
    ],
)
def test_every_value_has_a_chinese_and_an_english_word(group: str, values: list[str]) -> None:
    assert set(LABELS[group]) == set(values)
    for value in values:
        assert LABELS[group][value]["zh"] and LABELS[group][value]["en"], (group, value)


def _ticket(status: TicketStatus, priority: Priority) -> dict[str, Any]:
    return {
        "id": 7,
        "status": status.value,
        "priority": priority.value,
        "road": "长江西路",
        "lat": None,
        "standard_name": "无“乱拉乱挂”",
        "clause": "5a",
        "clause_name": "乱拉条幅",
        "description": "x",
        "due_at": None,
    }


@pytest.mark.parametrize("status", list(TicketStatus))
@pytest.mark.parametrize("priority", list(Priority))
def test_wecom_messages_use_the_dictionarys_words(status: TicketStatus, priority: Priority) -> None:
    event = TicketEvent(action="dispatch", note="", at=datetime(2026, 5, 4, tzinfo=UTC))
    markdown: Any = wecom_markdown(_ticket(status, priority), event, None, [])["markdown"]
    first = markdown["content"].splitlines()[0]
    assert first == f"**【{zh('priority', priority)}】工单 #7 {zh('ticket_status', status)}**"


def test_a_sent_message_and_the_report_page_use_them_too(api: Api) -> None:
    hook = {"name": "w", "url": "http://127.0.0.1:9/hook", "format": "wecom"}
    api.ok("POST", "/webhooks", json={**hook, "events": ["ticket.dispatch"]})
    ticket = {"clause": "5a", "description": "乱拉条幅", "complaint": False}
    created = api.ok("POST", "/tickets", json=ticket)
    tid = created["id"]
    api.ok("POST", f"/tickets/{tid}/dispatch", json={"squad_id": api.squad("west")})
    with api.services.sessions() as session:
        [payload] = [m.payload for m in session.scalars(select(OutboxMessage))]
    first = payload["markdown"]["content"].splitlines()[0]
    # The priority depends on the clock (priority hours), so take it from the ticket.
    priority, status = zh("priority", created["priority"]), zh("ticket_status", "dispatched")
    assert first == f"**【{priority}】工单 #{tid} {status}**"

    page = Tables()
    page.feed(api.client.get("/reports/daily?format=html", headers=api.admin.headers).text)
    columns = [zh("report", m) for m in ("new", "dispatched", "rectified", "closed", "overdue")]
    head = page.sections["thead"]
    assert head[1] == columns * (len(head[0]) - 2)  # each standard and the total
    assert zh("report", "total") in head[0] and page.sections["tfoot"][0][0] == zh(
        "report", "total"
    )
    assert page.sections["tbody"][-1][0] == zh("report", "unassigned")


def test_every_priority_reason_has_words_and_daytime_says_what_it_means(api: Api) -> None:
    """A ticket stores and a webhook sends each reason's code; the dictionary gives its words.
    ``daytime`` keeps its first name, so the dictionary also says what it means."""
    road = {"road": "香江路", "model_road": True, "key_road": True}
    api.squad("east", roads=[road])
    with api.services.sessions() as session:
        _, reasons = priority_for(session, "香江路", in_hours=True, complaint=True)
    assert set(LABELS["priority_reason"]) == set(reasons)
    for reason in reasons:
        assert LABELS["priority_reason"][reason]["zh"] and LABELS["priority_reason"][reason]["en"]
    assert "priority period" in LABELS["priority_reason"]["daytime"]["note"]


def test_the_ui_takes_these_words_from_the_dictionary_not_its_own_table() -> None:
    """The UI fetches labels.json (a browser test checks the words it shows: tests/ui)."""
    script = I18N.read_text("utf-8")
    assert 'fetch(new URL("../labels.json", import.meta.url))' in script
    groups = "status|ticket_status|priority|priority_reason|report|role|error"
    own = re.findall(rf'"((?:{groups})\.\w+)":', script)
    shared = {f"{g}.{k}" for g, words in LABELS.items() for k in words}
    assert not set(own) & shared, "words of labels.json are repeated in i18n.js"
    board = (I18N.parent / "tickets.js").read_text("utf-8")
    assert "t(`priority_reason.${r}`)" in board  # a ticket's priority reasons
