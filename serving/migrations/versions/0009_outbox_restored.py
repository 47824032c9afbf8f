"""outbox: when a restore brought a message back undelivered

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 10:00:00

The column is only added (``ALTER TABLE ... ADD COLUMN``), never by batch copy-and-move: on
SQLite with foreign keys on, re-creating ``outbox`` would cascade-delete its delivery log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import serving.db.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("restored_at", serving.db.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("outbox", "restored_at")
