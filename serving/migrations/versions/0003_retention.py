"""retention: removal marks and the legal hold

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00

Columns are only added (``ALTER TABLE ... ADD COLUMN``), never by batch copy-and-move: on SQLite
with foreign keys on, re-creating ``tickets`` would cascade-delete its audit trail. For the same
reason ``legal_hold_by`` has no ``ON DELETE`` action: SQLite's reflection cannot read one declared
inline, and users are deactivated, never deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import serving.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_REMOVED_AT = {
    "blobs": "removed_at",
    "incidents": "evidence_removed_at",
    "tickets": "evidence_removed_at",
    "jobs": "video_removed_at",
}


def upgrade() -> None:
    for table, column in _REMOVED_AT.items():
        op.add_column(
            table, sa.Column(column, serving.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.add_column(
        "tickets",
        sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    hold_by = sa.Column(
        "legal_hold_by",
        sa.Integer(),
        sa.ForeignKey("users.id", name=op.f("fk_tickets_legal_hold_by_users")),
        nullable=True,
    )
    # SQLite cannot ALTER a constraint in, but takes an inline REFERENCES (unnamed there);
    # PostgreSQL gets the named constraint of the naming convention.
    op.add_column("tickets", hold_by, inline_references=op.get_context().dialect.name == "sqlite")
    op.add_column("tickets", sa.Column("legal_hold_reason", sa.Text(), nullable=True))
    op.add_column(
        "tickets",
        sa.Column("legal_hold_at", serving.db.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for column in ("legal_hold_at", "legal_hold_reason", "legal_hold_by", "legal_hold"):
        op.drop_column("tickets", column)
    for table, column in _REMOVED_AT.items():
        op.drop_column(table, column)
