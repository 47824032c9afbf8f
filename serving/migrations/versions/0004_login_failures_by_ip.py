"""login failures: index by address first, for the per-IP login budget

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:30:00

The per-IP budget counts failures ``WHERE ip = ? AND at > ?`` over all usernames; the old index
(username, ip, at) cannot serve that and SQLite scanned the table. (ip, username, at) serves the
per-IP count, the per-username+IP count and the delete on a successful login.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_login_failures_key", table_name="login_failures")
    op.create_index("ix_login_failures_key", "login_failures", ["ip", "username", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_key", table_name="login_failures")
    op.create_index("ix_login_failures_key", "login_failures", ["username", "ip", "at"])
