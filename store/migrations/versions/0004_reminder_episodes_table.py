"""reminder episodes in a table of their own

Revision ID: 0004_reminder_episodes_table
Revises: 0003_bounded_gin_pending_lists
Create Date: 2026-11-24

The pass used to flag low accounts on `accounts` itself. Those updates locked the rows money
moves lock and, not being HOT updates, re-inserted every row into the search indexes: 85% of the
pass's UPDATE time on PostgreSQL. `reminder_episodes` holds the same state per account.
SQLite drops the columns with a native ALTER TABLE (3.35+), which keeps accounts_fts's triggers.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_reminder_episodes_table"
down_revision = "0003_bounded_gin_pending_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminder_episodes",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("low", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_index(
        "ix_reminder_episodes_low",
        "reminder_episodes",
        ["account_id"],
        sqlite_where=sa.text("low"),
        postgresql_where=sa.text("low"),
    )
    op.execute(
        "INSERT INTO reminder_episodes (account_id, number, low) "
        "SELECT id, reminder_episode, reminder_low FROM accounts WHERE reminder_episode > 0"
    )
    op.drop_index("ix_accounts_reminder_low", table_name="accounts")
    for column in ("reminder_low", "reminder_episode"):
        op.execute(f"ALTER TABLE accounts DROP COLUMN {column}")


def downgrade() -> None:
    op.add_column("accounts", sa.Column("reminder_episode", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "accounts", sa.Column("reminder_low", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.execute(
        "UPDATE accounts SET reminder_episode = e.number, reminder_low = e.low "
        "FROM reminder_episodes e WHERE e.account_id = accounts.id"
    )
    op.create_index(
        "ix_accounts_reminder_low",
        "accounts",
        ["id"],
        sqlite_where=sa.text("reminder_low"),
        postgresql_where=sa.text("reminder_low"),
    )
    op.drop_index("ix_reminder_episodes_low", table_name="reminder_episodes")
    op.drop_table("reminder_episodes")
