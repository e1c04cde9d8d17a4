"""each invoice download form's copies are sent once: its view id is recorded before sending

Revision ID: 0039_copy_requests
Revises: 0038_name_order_covers_pg
Create Date: 2026-11-30

A replayed or duplicated submission of one download form sent every PDF again (found by a
hostile-input run: 2-3 copies each). Slack never submits a form twice once it is replaced, so the
view id names one request for copies, as it names one purchase.
"""

import sqlalchemy as sa
from alembic import op

revision = "0039_copy_requests"
down_revision = "0038_name_order_covers_pg"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "copy_requests",
        sa.Column("view_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("view_id"),
    )


def downgrade() -> None:
    op.drop_table("copy_requests")
