"""recurrence: sightings of known situations, links between incidents

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00

Columns are only added (``ALTER TABLE ... ADD COLUMN``), never by batch copy-and-move: on SQLite
with foreign keys on, re-creating ``incidents`` would cascade-delete its reviews (see 0003).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import serving.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _reference(name: str, target: str) -> sa.Column[int]:
    """A nullable reference; SQLite takes it inline, PostgreSQL as a named constraint.

    No ``ON DELETE``: SQLite's reflection cannot read one declared inline (as in 0003).
    """
    constraint = op.f(f"fk_incidents_{name}_{target}")
    return sa.Column(
        name,
        sa.Integer(),
        sa.ForeignKey(f"{target}.id", name=constraint),
        nullable=True,
    )


def upgrade() -> None:
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("first_seen", serving.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", serving.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("created_at", serving.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_sightings_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sightings_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.UniqueConstraint("record_id", name=op.f("uq_sightings_record_id")),
    )
    op.create_index(op.f("ix_sightings_incident_id"), "sightings", ["incident_id"])
    op.create_index(op.f("ix_sightings_ticket_id"), "sightings", ["ticket_id"])

    inline = op.get_context().dialect.name == "sqlite"
    op.add_column(
        "incidents", sa.Column("sightings", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "incidents", sa.Column("suppressed", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "incidents",
        sa.Column(
            "suppression_lifted_at", serving.db.base.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column(
        "incidents", _reference("suppression_lifted_by", "users"), inline_references=inline
    )
    op.add_column(
        "incidents", _reference("recurrence_of_id", "incidents"), inline_references=inline
    )
    op.add_column(
        "incidents", sa.Column("recurrences", sa.JSON(), server_default="[]", nullable=False)
    )
    op.create_index(op.f("ix_incidents_recurrence_of_id"), "incidents", ["recurrence_of_id"])
    op.create_index("ix_incidents_place", "incidents", ["source_id", "clause", "last_seen"])


def downgrade() -> None:
    op.drop_index("ix_incidents_place", table_name="incidents")
    op.drop_index(op.f("ix_incidents_recurrence_of_id"), table_name="incidents")
    for column in (
        "recurrences",
        "recurrence_of_id",
        "suppression_lifted_by",
        "suppression_lifted_at",
        "suppressed",
        "sightings",
    ):
        op.drop_column("incidents", column)
    op.drop_index(op.f("ix_sightings_ticket_id"), table_name="sightings")
    op.drop_index(op.f("ix_sightings_incident_id"), table_name="sightings")
    op.drop_table("sightings")
