"""``shirong serve`` and ``shirong seed-demo``. The web stack is imported inside the handlers, so
``detection`` (and the ``shirong`` command) work without the ``serve`` extra installed."""

from __future__ import annotations

import argparse
import logging

from detection.errors import ConfigError
from detection.extras import require

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the ticket service (HTTP API)",
        description="Run the ticket service. Settings come from SHIRONG_* variables "
        "(SHIRONG_DATABASE_URL, SHIRONG_SECRET_KEY, SHIRONG_EVIDENCE_ROOT, ...).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--seed-demo", action="store_true", help="first add demo squads and users (development)"
    )
    serve.set_defaults(func=_serve)
    seed = sub.add_parser(
        "seed-demo",
        help="add demo squads and users and print their logins (SHIRONG_ENV=development only)",
    )
    seed.set_defaults(func=_seed)


def _serve(args: argparse.Namespace) -> int:
    uvicorn = require("uvicorn", "serve")
    require("fastapi", "serve")
    from serving.app import create_app
    from serving.config import load_settings

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1-65535, not {args.port}")
    settings = load_settings()
    if args.seed_demo:
        _seed(args)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def _seed(args: argparse.Namespace) -> int:
    require("sqlalchemy", "serve")
    from serving.config import load_settings
    from serving.seed import seed_demo

    for login in seed_demo(load_settings()):
        print(login)
    return 0
