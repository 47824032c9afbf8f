"""Requests that carry X-Forwarded-For from a peer ``SHIRONG_TRUSTED_PROXIES`` does not name.

``shirong serve`` believes the header only from the trusted proxies. Behind a reverse proxy that
setting does not name, the header is ignored and every client has the proxy's address: one login
budget for all of them (``serving.services.auth``), one address in the logs. Nothing says so at
start-up, before a request came; so the first such request is logged, once, and ``/health``
lists the warning from then on. A client that sends the header itself, with no proxy, is noticed
the same way, which is as it should be: it is a header nobody believes.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_WHY = (
    "the header is ignored, so every client behind that proxy has its address and they share "
    "one login budget; name the proxy in SHIRONG_TRUSTED_PROXIES"
)
WARNING = (
    "requests carry X-Forwarded-For from a peer that SHIRONG_TRUSTED_PROXIES does not name "
    f"(the log names it): {_WHY}"
)


def _host(forwarded: str) -> str:
    """The address of one X-Forwarded-For entry, without a port or IPv6 brackets."""
    entry = forwarded.strip()
    if entry.startswith("["):
        return entry[1 : entry.find("]")]
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


class UntrustedForwarders:
    """Remembers whether an untrusted peer sent X-Forwarded-For (``warnings`` for /health)."""

    def __init__(self, trusted: Sequence[Network]) -> None:
        self._trusted = tuple(trusted)
        self.seen = False

    def note(self, scope: Scope) -> None:
        """Log the first request whose X-Forwarded-For came from an untrusted peer."""
        forwarded = Headers(scope=scope).getlist("x-forwarded-for")
        client = scope.get("client")
        if not forwarded or client is None:
            return
        host = client[0]
        # A trusted proxy's header was believed (uvicorn put one of its entries in the peer's
        # place), or the peer is a trusted proxy itself.
        hosts = {_host(entry) for value in forwarded for entry in value.split(",")}
        if self._trusted and (host in hosts or self._is_trusted(host)):
            return
        self.seen = True
        log.warning(
            "requests carry X-Forwarded-For from %s, which SHIRONG_TRUSTED_PROXIES does not "
            "name: %s (logged once)",
            host,
            _WHY,
        )

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    @property
    def warnings(self) -> list[str]:
        return [WARNING] if self.seen else []


class ForwardedForCheck:
    """ASGI middleware: hands each HTTP request to ``forwarders`` until it has seen one."""

    def __init__(self, app: ASGIApp, forwarders: UntrustedForwarders) -> None:
        self.app = app
        self.forwarders = forwarders

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.forwarders.seen:
            self.forwarders.note(scope)
        await self.app(scope, receive, send)


def untrusted_forwarders(request: Request) -> UntrustedForwarders:
    """The app's ``UntrustedForwarders`` (``serving.app`` keeps it in ``app.state``)."""
    forwarders: UntrustedForwarders = request.app.state.forwarders
    return forwarders
