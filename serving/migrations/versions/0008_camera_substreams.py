"""camera sub-streams: a detection URL beside the main stream; decoding and warnings reported

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("detect_url", sa.String(length=1000), nullable=True))
    with op.batch_alter_table("camera_runtime") as batch:
        batch.add_column(sa.Column("analysing", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("decode", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("warning", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera_runtime") as batch:
        batch.drop_column("warning")
        batch.drop_column("decode")
        batch.drop_column("analysing")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("detect_url")
