"""usage records (one per API/import key) and statement runs (one per scheduled slot)

Revision ID: 0008_usage_records
Revises: 0006_money_bigint
Create Date: 2026-11-29

`usage_records.key` is unique, so a usage item is applied at most once however many replicas
or retries see it. `statement_runs.slot` is the primary key, so one replica claims each
scheduled statement.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_usage_records"
down_revision = "0006_money_bigint"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["ledger_entry_id"], ["ledger_entries.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("ledger_entry_id"),
    )
    op.create_table(
        "statement_runs",
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("slot"),
    )


def downgrade() -> None:
    op.drop_table("statement_runs")
    op.drop_table("usage_records")
