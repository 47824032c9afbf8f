"""Alembic migrations; ``upgrade(url)`` brings a database to the latest revision."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from serving.db.session import make_engine

HERE = Path(__file__).resolve().parent
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at these scripts (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``. To the head only where it is not there already:
    the service upgrades at every start-up, and Alembic's own no-op run still loads its
    environment and every script; reading the version row is all a current database needs."""
    if revision == "head" and at_head(database_url):
        return
    command.upgrade(alembic_config(database_url), revision)


def at_head(database_url: str) -> bool:
    """Whether the database's ``alembic_version`` rows are exactly the scripts' heads (False for
    a blank database, which has no such table). A plain query of that table: a current database
    never opens Alembic at all."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(rows.scalars()) == _heads()
    finally:
        engine.dispose()


@functools.cache
def _heads() -> frozenset[str]:
    """The scripts' head revisions, read once: they do not change while the process runs."""
    return frozenset(ScriptDirectory(str(HERE)).get_heads())
