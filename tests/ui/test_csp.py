"""The UI under its Content-Security-Policy in Chromium: review, tickets and cameras work with no
violation reported; a page of another origin cannot frame it; the docs run no CDN script."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.serving.helpers import PASSWORD
from tests.ui.helpers import RECORD_VIOLATIONS, WAIT_MS, LiveService, act, confirm, ingest

pytestmark = pytest.mark.slow


class Watched:
    """A logged-in page whose CSP violations, CSP console messages and page errors are kept."""

    def __init__(self, browser: Any, live: LiveService, username: str, hash_: str) -> None:
        self.context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.set_default_timeout(WAIT_MS)
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(f"{live.url}/{hash_}")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("#login button[type=submit]")
        self.page.wait_for_selector("#nav:not([hidden])")

    def problems(self) -> list[str]:
        """Violations on the page now, and every CSP message and error since it opened."""
        violations: list[str] = self.page.evaluate("window.violations")
        policy = [m for m in self.console if "Content Security Policy" in m]
        return violations + policy + self.errors


def test_review_tickets_and_cameras_work_under_the_policy(browser: Any, live: LiveService) -> None:
    first = ingest(live, 21, "cam-east")
    second = ingest(live, 22, "cam-east")
    reviewer = Watched(browser, live, "reviewer", f"#/review/{first}")
    page = reviewer.page
    page.wait_for_selector(f"#queue tr[data-id='{first}'].current")
    page.wait_for_selector("#detail img[src^='blob:']")  # evidence fetched with the token
    page.wait_for_function("() => document.querySelector('#overlay rect.frame') !== null")
    with page.expect_response(lambda r: "/reviews" in r.url and r.request.method == "POST"):
        page.keyboard.press("a")
    page.wait_for_selector(f"#queue tr[data-id='{first}'] [data-status=confirmed]")
    # Style attributes the DOM helper sets (the boxes' layout) took effect.
    assert (
        page.locator("#detail div[style*='flex']").first.evaluate(
            "el => getComputedStyle(el).display"
        )
        == "flex"
    )
    assert reviewer.problems() == []
    reviewer.context.close()

    ticket = confirm(live, second)
    dispatcher = Watched(browser, live, "dispatcher", f"#/tickets/{ticket}")
    page = dispatcher.page
    page.wait_for_selector(f"#ticket-list tr[data-id='{ticket}'].current")
    page.wait_for_selector("#ticket-detail .thumbs img[src^='blob:']")
    act(page, "dispatch", "dispatched")
    assert dispatcher.problems() == []

    with httpx.Client(base_url=live.url) as client:
        token = client.post("/auth/login", data={"username": "dispatcher", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        body = {"code": "cam-csp", "name": "延安路口", "stream_url": "rtsp://127.0.0.1:9/x"}
        created = client.post("/cameras", json={**body, "enabled": False}, headers=headers)
        assert created.status_code == 201, created.text
    page.goto(f"{live.url}/ui/#/cameras/{created.json()['id']}")
    page.wait_for_selector("#zone-overlay[viewBox]")
    page.wait_for_selector("img[src^='data:image/svg+xml']")  # the blank frame: no snapshot yet
    assert dispatcher.problems() == []
    dispatcher.context.close()


@pytest.fixture
def other_origin(live: LiveService) -> Iterator[str]:
    """A page on another loopback port, so of another origin, that frames the UI."""
    page = f'<!DOCTYPE html><title>frame</title><iframe src="{live.url}/ui/"></iframe>'.encode()

    class Framing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Framing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()


def test_a_page_of_another_origin_cannot_frame_the_ui(
    browser: Any, live: LiveService, other_origin: str
) -> None:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    refused = "violates the following Content Security Policy directive: \"frame-ancestors 'none'\""
    with page.expect_console_message(lambda m: refused in m.text):
        page.goto(other_origin)
    [framed] = [frame for frame in page.frames if frame != page.main_frame]
    assert not framed.url.startswith(live.url)  # the browser shows its error page instead
    assert framed.query_selector("#login") is None
    context.close()


def test_the_docs_run_no_script_from_another_origin(browser: Any, live: LiveService) -> None:
    """/docs runs Swagger UI from the origin's own copy (serving/ui/vendor): every request the
    page makes goes to the service, and its inline start-up script runs under the policy's hash."""
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{live.url}/docs")
    page.wait_for_selector(".opblock")  # the start-up script ran and read /openapi.json
    assert [url for url in requested if not url.startswith(f"{live.url}/")] == []
    assert f"{live.url}/ui/vendor/swagger-ui-dist/swagger-ui-bundle.js" in requested
    assert page.evaluate("window.violations") == []
    context.close()
