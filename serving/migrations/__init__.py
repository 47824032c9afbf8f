"""Alembic migrations; ``upgrade(url)`` brings a database to the latest revision."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at these scripts (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
