"""64-bit money columns, and one head again after the reminder-claims and home-summary branches

Revision ID: 0006_money_bigint
Revises: 0007_reminder_claims, 0011_home_summary_indexes
Create Date: 2026-11-29

A balance past 2,147,483,647 credits (reachable by moving between large accounts) failed on
PostgreSQL with "integer out of range". SQLite's INTEGER is already 64-bit, so only PostgreSQL
changes; the store also refuses a balance past MAX_BALANCE, which fits either.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_money_bigint"
down_revision = ("0007_reminder_claims", "0011_home_summary_indexes")
branch_labels = None
depends_on = None

MONEY_COLUMNS = (
    ("accounts", "balance"),
    ("accounts", "reminder_level"),
    ("ledger_entries", "credits"),
    ("ledger_entries", "balance_after"),
    ("invoices", "credits"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
