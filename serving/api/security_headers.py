"""Browser security headers on every response: no sniffing, no referrer to other sites, no framing,
and a Content-Security-Policy that lets no script run but the origin's own files.

The UI keeps its bearer token in localStorage, so any script that runs on this origin can read
it. Its pages (``/ui/``) get ``PAGE_POLICY``: scripts, styles, fetches and images from the origin
only, no inline script. What the UI really needs beyond that: ``style`` attributes (its DOM helper
sets them; ``style-src-attr``, never ``<style>`` elements), ``data:`` images (the placeholder of a
camera with no frame) and ``blob:`` images (evidence, snapshots and charts fetched with the token).
``/docs`` and ``/redoc`` serve Swagger UI and ReDoc from the origin's own copies and send this
policy with what each page needs added (``with_sources``; see ``serving.api.docs``).

Everything else (JSON, CSV, the HTML daily report, the 404s) gets ``API_POLICY``: no
script and no fetch at all, with the inline styles and ``data:`` chart the report carries. A route
that sets its own policy (evidence files: ``sandbox``) keeps it, with ``frame-ancestors 'none'``
added when it lacks one. A pure ASGI middleware, so streamed and file responses pass untouched.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
API_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
PAGES = frozenset({"ui"})  # first path segments that are the origin's pages (docs: their own)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers that ignore frame-ancestors
}


def with_sources(policy: str, directive: str, *sources: str) -> str:
    """``policy`` with ``sources`` added to its ``directive``, or the directive added with them
    where it has none (so it no longer falls back to ``default-src`` or ``script-src``)."""
    directives = policy.split("; ")
    names = [d.split(" ", 1)[0] for d in directives]
    if directive not in names:
        return "; ".join([*directives, " ".join([directive, *sources])])
    at = names.index(directive)
    directives[at] = " ".join([directives[at], *sources])
    return "; ".join(directives)


def policy_for(path: str) -> str:
    """The Content-Security-Policy a response to ``path`` gets unless its route sets one."""
    return PAGE_POLICY if path.lstrip("/").split("/", 1)[0] in PAGES else API_POLICY


class SecurityHeaders:
    """ASGI middleware: adds ``HEADERS`` and a Content-Security-Policy to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                own = headers.get("Content-Security-Policy")
                if own is None:
                    headers["Content-Security-Policy"] = policy
                elif "frame-ancestors" not in own:
                    headers["Content-Security-Policy"] = f"{own}; frame-ancestors 'none'"
            await send(message)

        await self.app(scope, receive, send_with_headers)
