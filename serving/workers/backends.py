"""Where analysis runs: worker processes on this machine (the default) or a Ray cluster.

Both start the same entry points (``serving.workers.procs``) with the settings and a row id, and
workers report through the database, so the supervisor, the job dispatcher and the routes do not
care which. Local processes cost one model's memory each; Ray adds its own daemons (both
measured: docs/benchmarks/workers.md) and is worth it for more than one machine.
"""

from __future__ import annotations

from serving.config import Settings
from serving.workers.handles import Backend
from serving.workers.local import LocalBackend


def open_backend(settings: Settings) -> Backend:
    """Ray when ``SHIRONG_RAY_ADDRESS`` is set, else worker processes on this machine."""
    if settings.ray_address:
        from serving.workers.ray_cluster import RayBackend

        return RayBackend(settings)
    return LocalBackend(settings)
