"""auto top-up rules and their once-per-episode attempts; indexes for forecasts and suggested moves

Revision ID: 0010_auto_top_up
Revises: 0005_name_order_index
Create Date: 2026-11-29

`ix_ledger_entries_usage` lets a forecast read one account's recent usage without its other
entries; `ix_accounts_spare_credits` makes "the account with the most spare credits" one index
entry instead of a scan of every account.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_auto_top_up"
down_revision = "0005_name_order_index"
branch_labels = None
depends_on = None

SPARE = "(CASE WHEN reminder_enabled THEN balance - reminder_level ELSE balance END)"


def upgrade() -> None:
    op.create_table(
        "auto_top_ups",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("monthly_limit", sa.Integer(), nullable=False),
        sa.Column("limit_unit", sa.String(length=10), nullable=False),
        sa.Column("set_by", sa.String(length=20), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("credits > 0", name="auto_top_up_credits_positive"),
        sa.CheckConstraint("monthly_limit > 0", name="auto_top_up_limit_positive"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "auto_top_up_attempts",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("account_id", "episode"),
    )
    usage = sa.text("kind = 'usage'")
    op.create_index(
        "ix_ledger_entries_usage",
        "ledger_entries",
        ["account_id", "created_at"],
        sqlite_where=usage,
        postgresql_where=usage,
    )
    op.create_index(
        "ix_accounts_spare_credits",
        "accounts",
        [sa.text(SPARE), "id"],
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("ix_accounts_spare_credits", table_name="accounts")
    op.drop_index("ix_ledger_entries_usage", table_name="ledger_entries")
    op.drop_table("auto_top_up_attempts")
    op.drop_table("auto_top_ups")
