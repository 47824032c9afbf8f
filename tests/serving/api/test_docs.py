"""The API docs: each page links the origin's own copies of its assets, which are served, and
carries its own policy; Swagger UI's start-up script is allowed by its hash and nothing else."""

from __future__ import annotations

import re

import pytest

from serving.api.docs import (
    FAVICON,
    REDOC_JS,
    REDOC_POLICY,
    SWAGGER_CSS,
    SWAGGER_JS,
    script_hashes,
)
from serving.api.security_headers import PAGE_POLICY, with_sources
from tests.serving.helpers import Api

# (page, the assets it links, with their content types)
PAGES = [
    (
        "/docs",
        {SWAGGER_JS: "text/javascript", SWAGGER_CSS: "text/css", FAVICON: "image/png"},
    ),
    ("/redoc", {REDOC_JS: "text/javascript", FAVICON: "image/png"}),
]


@pytest.mark.parametrize(("path", "assets"), PAGES, ids=[p for p, _ in PAGES])
def test_a_docs_page_links_only_the_origins_own_assets(
    api: Api, path: str, assets: dict[str, str]
) -> None:
    page = api.client.get(path)
    assert page.status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    linked = set(re.findall(r'(?:src|href)="([^"]+)"', page.text))
    assert linked == set(assets)
    for url, content_type in assets.items():
        asset = api.client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(content_type), url


def test_script_hashes_hashes_the_inline_scripts_text_only() -> None:
    page = "<script src='/a.js'></script><script>boot()</script>"
    boot = "'sha256-MeZS89WlF0u+o0hCvHTBt4q1WHU+U+sJKgbdRUc36mY='"  # base64(sha256(b"boot()"))
    assert script_hashes(page) == [boot]


def test_the_docs_pages_carry_their_own_policies(api: Api) -> None:
    swagger = api.client.get("/docs")
    [start_up] = script_hashes(swagger.text)  # Swagger UI's one inline script
    assert swagger.headers.get_list("content-security-policy") == [
        with_sources(PAGE_POLICY, "script-src", start_up)
    ]
    redoc = api.client.get("/redoc")
    assert script_hashes(redoc.text) == []
    assert redoc.headers.get_list("content-security-policy") == [REDOC_POLICY]
