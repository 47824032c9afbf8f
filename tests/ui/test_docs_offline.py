"""The API docs in Chromium with every request to another origin refused: Swagger UI at /docs
lists the operations and ReDoc at /redoc renders them, under their policies, with no violation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.helpers import RECORD_VIOLATIONS, WAIT_MS, LiveService

pytestmark = pytest.mark.slow

# (page, what shows that it read the OpenAPI document, the violations it may have)
PAGES = [
    ("/docs", ".opblock-summary-path[data-path='/incidents']", []),
    # ReDoc's "API docs by Redocly" logo comes from Redocly's CDN: refused, it hides itself.
    (
        "/redoc",
        "[data-section-id^='tag/incidents/operation/']",
        ["img-src https://cdn.redoc.ly/redoc/logo-mini.svg"],
    ),
]


@pytest.mark.parametrize(("path", "operation", "refused"), PAGES, ids=[p[0] for p in PAGES])
def test_the_docs_work_offline_under_their_policy(
    browser: Any, live: LiveService, path: str, operation: str, refused: list[str]
) -> None:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(RECORD_VIOLATIONS)
    offline: list[str] = []

    def only_own_origin(route: Any) -> None:
        if route.request.url.startswith(f"{live.url}/"):
            route.continue_()
        else:
            offline.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_own_origin)
    page = context.new_page()
    console: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live.url}{path}")
    page.wait_for_selector(operation)
    assert "/incidents" in page.inner_text("body")
    assert page.evaluate("window.violations") == refused
    policy = [m for m in console if "Content Security Policy" in m]
    assert len(policy) == len(refused), policy  # the browser's report of each, and no other
    assert (offline, errors) == ([], [])  # the refused logo was never asked for
    context.close()
