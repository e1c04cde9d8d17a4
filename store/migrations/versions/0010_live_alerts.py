"""live alerts: each episode's alert state, every message it was posted as, and a recovery time

Revision ID: 0010_live_alerts
Revises: 0008_usage_records
Create Date: 2026-11-29

`alerts` holds what every copy of an episode's alert shows (its revision, who is handling it,
whether it is resolved); `alert_messages` holds where each copy was posted and which revision and
thread replies it shows, so a pass can bring stale copies up to date with chat.update.
`reminder_episodes.recovered_at` lets a dip soon after recovering reopen the episode (the cooldown).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_live_alerts"
down_revision = "0008_usage_records"
branch_labels = None
depends_on = None

CREDITS_IN = "kind IN ('purchase', 'transfer_in')"


def upgrade() -> None:
    op.add_column("reminder_episodes", sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "alerts",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("seen_entry_id", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("handler", sa.String(length=20), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "episode"),
    )
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["account_id"],
        sqlite_where=sa.text("NOT resolved"),
        postgresql_where=sa.text("NOT resolved"),
    )
    op.create_table(
        "alert_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("shown_revision", sa.Integer(), nullable=False),
        sa.Column("replied_entry_id", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("pending_post", sa.String(length=40), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_link", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "episode", "address", "number"),
    )
    op.create_index(
        "ix_alert_messages_stale",
        "alert_messages",
        ["id"],
        sqlite_where=sa.text("stale"),
        postgresql_where=sa.text("stale"),
    )
    op.create_index(
        "ix_ledger_entries_credits_in",
        "ledger_entries",
        ["account_id", "id"],
        sqlite_where=sa.text(CREDITS_IN),
        postgresql_where=sa.text(CREDITS_IN),
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_credits_in", table_name="ledger_entries")
    op.drop_index("ix_alert_messages_stale", table_name="alert_messages")
    op.drop_table("alert_messages")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_table("alerts")
    op.drop_column("reminder_episodes", "recovered_at")
