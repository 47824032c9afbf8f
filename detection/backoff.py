"""Exponential backoff: how long to wait before trying again after failures in a row.

One formula for every retry loop, in the vision core and in the service: a live stream
reconnecting, a webhook sent again, a crashed camera worker restarted.
"""

from __future__ import annotations

_MAX_EXPONENT = 64  # factor**step stays finite after a very long outage; the cap applies first


def backoff_s(first_s: float, step: int, cap_s: float, factor: float = 2.0) -> float:
    """``first_s * factor**step`` seconds, at most ``cap_s``; step 0 (or less) waits ``first_s``."""
    return min(cap_s, first_s * factor ** min(max(step, 0), _MAX_EXPONENT))
