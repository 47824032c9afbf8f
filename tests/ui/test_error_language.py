"""Errors and status words in the user's language, in a real browser: a refused action is shown in
Chinese from its code (English with the toggle), and the ticket's status and priority are the
words of the one dictionary WeCom messages and reports use (serving/ui/labels.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serving.labels import LABELS_FILE
from tests.ui.helpers import LiveService, client_as, open_as

pytestmark = pytest.mark.slow

LABELS = json.loads(LABELS_FILE.read_text("utf-8"))


ERROR_TEXT = "async ([c, p]) => (await import('/ui/js/i18n.js')).errorText(c, p, 'detail')"
TRANSLATED = [
    (
        "invalid_transition",
        {"action": "close", "ticket_id": 3, "status": "dispatched", "statuses": ["rectified"]},
        "工单 #3 当前为“已派发”，不能执行“结案”（须为：已整改）",
    ),
    (
        "role_not_allowed",
        {"role": "reviewer", "roles": ["admin", "dispatcher"]},
        "审核员无权执行此操作（可执行的角色：管理员、调度员）",
    ),
    ("login_rate_limited", {"retry_after_s": 60}, "登录失败次数过多，请 60 秒后再试"),
    ("no_such_code", {}, "detail"),  # the English detail where a code has no text
]


def refusal_shown(page: Any, text: str) -> None:
    """Click 'send back' with no note and wait for the toast to say ``text``."""
    with page.expect_response(lambda r: r.url.endswith("/reject")) as answer:
        page.click("[data-action=reject]")
    assert answer.value.status == 422
    page.wait_for_function(
        "text => document.querySelector('#toast').textContent === text", arg=text
    )


def test_a_refused_action_is_shown_in_chinese_then_english_and_status_words_are_shared(
    browser: Any, live: LiveService, artifacts: Path
) -> None:
    with client_as(live, "dispatcher") as client:
        body = {"clause": "5a", "description": "乱拉条幅", "complaint": False}
        created = client.post("/tickets", json=body).json()
        tid = created["id"]
        dispatched = client.post(f"/tickets/{tid}/dispatch", json={"squad_id": live.squads["east"]})
        assert dispatched.status_code == 200, dispatched.text

    page = open_as(browser, live, "dispatcher", f"#/tickets/{tid}")
    badge = page.wait_for_selector("#ticket-detail [data-status=dispatched]")
    assert badge.text_content() == LABELS["ticket_status"]["dispatched"]["zh"]
    row = page.locator(f"#ticket-list tr[data-id='{tid}']")
    # The priority depends on the clock (priority hours): the ticket's own, in Chinese.
    assert LABELS["priority"][created["priority"]]["zh"] in row.text_content()

    refusal_shown(page, "“退回”需要填写备注说明原因")  # error.note_required, action.reject
    page.screenshot(path=artifacts / "error-zh.png", full_page=True)
    for code, params, text in TRANSLATED:  # parameters that are words are translated too
        assert page.evaluate(ERROR_TEXT, [code, params]) == text

    page.click("#lang")
    page.wait_for_function(
        "word => document.querySelector('#ticket-detail [data-status=dispatched]')"
        "?.textContent === word",
        arg=LABELS["ticket_status"]["dispatched"]["en"],
    )
    refusal_shown(page, "reject needs a note saying why the ticket is sent back")
    page.screenshot(path=artifacts / "error-en.png", full_page=True)
    assert page.errors == []
    page.context.close()
