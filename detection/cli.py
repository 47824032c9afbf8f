"""The ``shirong`` command's detection half: detect, data, train, eval, export, watch.

Each area registers its own subcommands (``register(subparsers)``). ``detection`` never imports
``serving``, so the installed ``shirong`` is ``serving.cli.main``, which adds the service's
commands (serve, seed-demo, retention); ``python -m detection.cli`` has only the ones here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from detection import detect, watch
from detection.data import cli as data_cli
from detection.errors import ShirongError
from detection.train import cli as train_cli

DESCRIPTION = "Street-disorder detection for the six city-appearance standards, camera to ticket."

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

REGISTRARS: tuple[Register, ...] = (
    detect.register,
    data_cli.register,
    train_cli.register,
    watch.register,
)


def build_parser(registrars: Sequence[Register] = REGISTRARS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shirong", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in registrars:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None, registrars: Sequence[Register] = REGISTRARS) -> int:
    """Run a subcommand; user errors print one clear line and exit 2 instead of a traceback."""
    args = build_parser(registrars).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except ShirongError as exc:
        print(f"shirong {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
