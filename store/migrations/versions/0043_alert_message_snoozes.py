"""each alert copy counts its snoozes, so a redraw drawn before the last one is behind

Revision ID: 0043_alert_message_snoozes
Revises: 0042_references_by_code_point
Create Date: 2026-12-03

A snooze made while another click's redraw held the copy was saved, then that redraw, drawn from
the copy as it was before, recorded it as up to date: the copy never showed the snooze. A count
compares the same on both databases, where a time bound on SQLite's driver would not.
"""

import sqlalchemy as sa
from alembic import op

revision = "0043_alert_message_snoozes"
down_revision = "0042_references_by_code_point"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_messages", sa.Column("snoozes", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("alert_messages", "snoozes")
