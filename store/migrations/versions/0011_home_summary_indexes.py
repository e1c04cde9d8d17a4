"""indexes that let the Home tab summarise and list accounts needing attention at any size

Revision ID: 0011_home_summary_indexes
Revises: 0010_auto_top_up
Create Date: 2026-11-29

The Home tab counts active accounts, totals their credits, counts reminders without recipients
and lists accounts whose reminder is off or has no recipients, on every visit. Without these,
each visit read every account and probed reminder_recipients once per account with a reminder.
`recipient_count` is kept by store.reminders.configure, the only writer of recipients.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_home_summary_indexes"
down_revision = "0010_auto_top_up"
branch_labels = None
depends_on = None

UNADDRESSED = "active AND reminder_enabled AND recipient_count = 0"
UNHEARD = "active AND (NOT reminder_enabled OR recipient_count = 0)"


def upgrade() -> None:
    op.add_column("accounts", sa.Column("recipient_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE accounts SET recipient_count = "
        "(SELECT count(*) FROM reminder_recipients r WHERE r.account_id = accounts.id)"
    )
    op.create_index("ix_accounts_active_balance", "accounts", ["active", "balance"])
    op.create_index(
        "ix_accounts_reminder_unaddressed",
        "accounts",
        ["id"],
        sqlite_where=sa.text(UNADDRESSED),
        postgresql_where=sa.text(UNADDRESSED),
    )
    op.create_index(
        "ix_accounts_unheard_name_order",
        "accounts",
        [sa.text("lower(name)"), "id"],
        sqlite_where=sa.text(UNHEARD),
        postgresql_where=sa.text(UNHEARD),
    )
    op.create_index("ix_invoices_ledger_entry_id", "invoices", ["ledger_entry_id"])


def downgrade() -> None:
    op.drop_index("ix_invoices_ledger_entry_id", table_name="invoices")
    for name in (
        "ix_accounts_unheard_name_order",
        "ix_accounts_reminder_unaddressed",
        "ix_accounts_active_balance",
    ):
        op.drop_index(name, table_name="accounts")
    op.execute("ALTER TABLE accounts DROP COLUMN recipient_count")
