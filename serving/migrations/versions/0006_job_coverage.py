"""job coverage: the container's duration against what was analysed (``partial`` jobs)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00

Columns are only added (``ALTER TABLE ... ADD COLUMN``), never by batch copy-and-move (see 0003).
``partial`` is a new value of ``jobs.status``, a plain string column: nothing to migrate there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("duration_s", sa.Float(), nullable=True))
    op.add_column("jobs", sa.Column("analysed_s", sa.Float(), nullable=True))
    op.add_column("jobs", sa.Column("expected_frames", sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in ("expected_frames", "analysed_s", "duration_s"):
        op.drop_column("jobs", name)
