"""reminder deliveries are claimed with a lease before they are sent

Revision ID: 0007_reminder_claims
Revises: 0005_name_order_index
Create Date: 2026-11-29

A pass used to hold one transaction (and an advisory lock) while it sent every DM, so a dropped
connection or idle-in-transaction timeout let another replica send the same alerts again, and a
hung holder stopped all reminders. Now a delivery row is written first as a claim (`claimed_by`,
`lease_until`, no `sent_at`) in a short transaction, and `sent_at` is set once the DM went out;
a claim whose lease ran out is free for any replica to take over.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0007_reminder_claims"
down_revision = "0005_name_order_index"
branch_labels = None
depends_on = None


@contextmanager
def _rebuilding() -> Iterator[BatchOperations]:
    """Alter reminder_deliveries; SQLite copies it into a new table to change a column's NULL rule."""
    with warnings.catch_warnings():
        # Reflecting `accounts` (the foreign key's target) skips its expression index, which the
        # copy does not need: only reminder_deliveries is rebuilt.
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        with op.batch_alter_table("reminder_deliveries") as batch:
            yield batch


def upgrade() -> None:
    with _rebuilding() as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=True)
    op.create_index(
        "ix_reminder_deliveries_unsent",
        "reminder_deliveries",
        ["claimed_by"],
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_reminder_deliveries_unsent", table_name="reminder_deliveries")
    op.execute("DELETE FROM reminder_deliveries WHERE sent_at IS NULL")  # claims not yet sent
    with _rebuilding() as batch:
        batch.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
