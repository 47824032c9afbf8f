"""The API docs, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), from the origin's own copies of
their scripts (``serving/ui/vendor/``, see its README), so they work offline and run no third
party's script on the origin whose localStorage holds the token.

FastAPI's recipe for self-hosted docs: the app is made with ``docs_url=None, redoc_url=None`` and
these routes write FastAPI's own pages pointing at the vendored files. Each page is written once,
when the app is made, and sent with its own Content-Security-Policy, the UI's ``PAGE_POLICY``
plus what that page needs:

- Swagger UI is started by an inline script that FastAPI writes (its settings are serialised into
  it, and ``get_swagger_ui_html`` has no way to leave it out). Its ``sha256`` hash, computed from
  the very page served, lets exactly that script run. Serving it as a file of our own would need
  our own copy of FastAPI's page.
- ReDoc styles itself with ``<style>`` elements it writes at run time (styled-components), which no
  hash can cover, so ``/redoc`` allows inline styles (styles run no script), and it builds its
  search index in a worker made from a ``blob:`` of its own script, so it allows ``blob:``
  workers (only a script already running can make one). Its "API docs by Redocly" logo, from
  Redocly's CDN, is refused and hides itself. Its Google fonts are left out (system fonts).

No OAuth2 redirect page is served: the docs authorise with a pasted bearer token (``HTTPBearer``),
which needs none.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from serving.api.security_headers import PAGE_POLICY, with_sources

VENDOR = "/ui/vendor"  # serving/ui/vendor, under the UI's static mount
SWAGGER_JS = f"{VENDOR}/swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui-dist/swagger-ui.css"
FAVICON = f"{VENDOR}/swagger-ui-dist/favicon-32x32.png"
REDOC_JS = f"{VENDOR}/redoc/redoc.standalone.js"
REDOC_POLICY = with_sources(
    with_sources(PAGE_POLICY, "style-src", "'unsafe-inline'"), "worker-src", "blob:"
)
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(page: str) -> list[str]:
    """CSP sources (``'sha256-…'``) for each inline script of ``page``, hashed as the browser
    hashes them: the exact text between the tags."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in INLINE_SCRIPT.findall(page)
    ]


def mount(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` for ``app``'s OpenAPI document (none if it has none)."""
    if app.openapi_url is None:
        return
    swagger = bytes(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
        ).body
    ).decode()
    swagger_policy = with_sources(PAGE_POLICY, "script-src", *script_hashes(swagger))
    redoc = bytes(
        get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        ).body
    ).decode()

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger, headers={"Content-Security-Policy": swagger_policy})

    @app.get("/redoc", include_in_schema=False)
    def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc, headers={"Content-Security-Policy": REDOC_POLICY})
