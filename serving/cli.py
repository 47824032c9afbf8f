"""The ``shirong`` command: detection's commands plus ``serve``, ``seed-demo``, ``retention``,
``backup`` and ``restore``.

It lives here, not in ``detection.cli``, because only ``serving`` may know both halves. The web
stack is imported inside the handlers, so the command works without the ``serve`` extra installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from detection import cli as detection_cli
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
    retention = sub.add_parser(
        "retention",
        help="remove stored files the retention policy lets go (--dry-run: only list them)",
        description="Apply the SHIRONG_RETENTION_* policy once, as the service does on its "
        "schedule: stale temp files, videos of long-finished jobs, evidence of long-closed "
        "tickets (not held) and rejected incidents. Prints each file, its size and why it goes.",
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="list what would go, and why; change nothing"
    )
    retention.set_defaults(func=_retention)
    backup = sub.add_parser(
        "backup",
        help="copy the database, then the evidence it refers to, with a manifest (online)",
        description="Take a consistent copy while the service runs: the database first (SQLite's "
        "online backup API, or pg_dump), then the evidence files the copy refers to, then "
        "manifest.json (hashes and sizes), written last: a folder without it is no backup.",
    )
    backup.add_argument("dest", type=Path, help="a new or empty folder (one per backup)")
    backup.set_defaults(func=_backup)
    restore = sub.add_parser(
        "restore",
        help="restore a backup into SHIRONG_DATABASE_URL and SHIRONG_EVIDENCE_ROOT",
        description="Verify every file against the manifest (a copy that does not verify is "
        "refused, naming the files), then restore the evidence, then the database, and migrate "
        "it. Stop the service first. Pending webhook messages are marked restored and keep "
        "their Idempotency-Key.",
    )
    restore.add_argument("src", type=Path, help="a folder `shirong backup` wrote")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a target that already holds data (its evidence files are kept)",
    )
    restore.set_defaults(func=_restore)


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
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, which lets any local
    # client pick its address (and dodge the login lockout); only the configured proxies may.
    proxies = [str(network) for network in settings.trusted_proxies]
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="info",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
    )
    return 0


def _seed(args: argparse.Namespace) -> int:
    require("sqlalchemy", "serve")
    from serving.config import load_settings
    from serving.seed import seed_demo

    for login in seed_demo(load_settings()):
        print(login)
    return 0


def _retention(args: argparse.Namespace) -> int:
    require("sqlalchemy", "serve")
    from serving.config import load_settings
    from serving.services.retention import format_report, run_standalone

    print(format_report(run_standalone(load_settings(), dry_run=args.dry_run)))
    return 0


def _backup(args: argparse.Namespace) -> int:
    require("sqlalchemy", "serve")
    from serving.config import load_settings
    from serving.services.backup import backup, format_backup

    print(format_backup(backup(load_settings(), args.dest)))
    return 0


def _restore(args: argparse.Namespace) -> int:
    require("sqlalchemy", "serve")
    from serving.config import load_settings
    from serving.services.backup import format_restore, restore

    done = restore(load_settings(), args.src, force=args.force)
    for warning in done.warnings:
        print(f"shirong restore: warning: {warning}", file=sys.stderr)
    print(format_restore(done))
    return 0


REGISTRARS: tuple[detection_cli.Register, ...] = (*detection_cli.REGISTRARS, register)


def build_parser() -> argparse.ArgumentParser:
    return detection_cli.build_parser(REGISTRARS)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``shirong`` console entry point (``[project.scripts]``)."""
    return detection_cli.main(argv, REGISTRARS)


if __name__ == "__main__":
    sys.exit(main())
