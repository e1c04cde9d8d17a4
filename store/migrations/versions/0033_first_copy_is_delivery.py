"""a recipient's first copy of an alert is also its delivery record; reminder_deliveries goes

Revision ID: 0033_first_copy_is_delivery
Revises: 0031_name_order_covers_search
Create Date: 2026-11-30

Each low-credit DM wrote two rows for one recipient and episode: a delivery (claimed with a lease,
then marked sent) and its first copy's message row (where it was posted, what it shows). Both are
keyed by (account, episode, address), and each was checked against its parent by a foreign key.
Now the first copy (`alert_messages.number` 1) is claimed with the lease columns the message row
already has, and `sent_at` and `slack_user_id` move onto it: one row, one key check and one index
set per DM instead of two.

Every delivery is carried over. Its episode's alert is opened first where it has none (deliveries
older than live alerts, migration 0010), since on PostgreSQL a message references its alert.
A first copy already posted (`ts` set) counts as sent, which the pass already took it to mean.
"""

import sqlalchemy as sa
from alembic import op

revision = "0033_first_copy_is_delivery"
down_revision = "0031_name_order_covers_search"
branch_labels = None
depends_on = None

SAME_KEY = (
    "d.account_id = alert_messages.account_id AND d.episode = alert_messages.episode "
    "AND d.address = alert_messages.address"
)


def _from_delivery(column: str) -> str:
    return f"(SELECT d.{column} FROM reminder_deliveries d WHERE {SAME_KEY})"


def upgrade() -> None:
    op.add_column("alert_messages", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alert_messages", sa.Column("slack_user_id", sa.String(length=20), nullable=True))
    # An alert for every delivered episode: resolved unless it is the account's episode under way.
    op.execute(
        "INSERT INTO alerts (account_id, episode, revision, seen_entry_id, resolved) "
        "SELECT DISTINCT d.account_id, d.episode, 1, 0, NOT EXISTS (SELECT 1 FROM reminder_episodes e "
        "WHERE e.account_id = d.account_id AND e.number = d.episode AND e.low) "
        "FROM reminder_deliveries d WHERE NOT EXISTS (SELECT 1 FROM alerts a "
        "WHERE a.account_id = d.account_id AND a.episode = d.episode)"
    )
    # First copies with a delivery take its record; an unposted one takes its claim too.
    op.execute(
        f"UPDATE alert_messages SET sent_at = {_from_delivery('sent_at')}, "
        f"slack_user_id = {_from_delivery('slack_user_id')}, "
        f"claimed_by = CASE WHEN ts IS NULL THEN {_from_delivery('claimed_by')} ELSE claimed_by END, "
        f"lease_until = CASE WHEN ts IS NULL THEN {_from_delivery('lease_until')} ELSE lease_until END "
        f"WHERE number = 1 AND EXISTS (SELECT 1 FROM reminder_deliveries d WHERE {SAME_KEY})"
    )
    # Deliveries without a first copy become one, not yet posted anywhere.
    op.execute(
        "INSERT INTO alert_messages (account_id, episode, address, number, channel, ts, shown_revision, "
        "replied_entry_id, stale, claimed_by, lease_until, sent_at, slack_user_id) "
        "SELECT d.account_id, d.episode, d.address, 1, '', NULL, 0, 0, false, d.claimed_by, "
        "d.lease_until, d.sent_at, d.slack_user_id FROM reminder_deliveries d WHERE NOT EXISTS "
        "(SELECT 1 FROM alert_messages m WHERE m.account_id = d.account_id AND m.episode = d.episode "
        "AND m.address = d.address AND m.number = 1) ORDER BY d.id"
    )
    # A posted first copy whose delivery record was lost was delivered.
    op.execute(
        "UPDATE alert_messages SET sent_at = CURRENT_TIMESTAMP "
        "WHERE number = 1 AND ts IS NOT NULL AND sent_at IS NULL"
    )
    op.drop_index("ix_reminder_deliveries_unsent", table_name="reminder_deliveries")
    op.drop_table("reminder_deliveries")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # As migration 0022 left it: on PostgreSQL a delivery references its account's episode row.
    parent = (
        sa.ForeignKeyConstraint(["account_id"], ["reminder_episodes.account_id"], ondelete="CASCADE")
        if postgresql
        else sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE")
    )
    op.create_table(
        "reminder_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("slack_user_id", sa.String(length=20), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        parent,
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "episode", "address"),
    )
    op.create_index(
        "ix_reminder_deliveries_unsent",
        "reminder_deliveries",
        ["claimed_by"],
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    # Sent first copies, and unposted ones under a claim; the claim goes back off the message row.
    op.execute(
        "INSERT INTO reminder_deliveries (account_id, episode, address, slack_user_id, sent_at, "
        "claimed_by, lease_until) SELECT account_id, episode, address, slack_user_id, sent_at, "
        "CASE WHEN ts IS NULL THEN claimed_by END, CASE WHEN ts IS NULL THEN lease_until END "
        "FROM alert_messages WHERE number = 1 "
        "AND (sent_at IS NOT NULL OR (ts IS NULL AND claimed_by IS NOT NULL)) ORDER BY id"
    )
    # First copies that were only a delivery's record go; the rest keep no claim.
    op.execute(
        "DELETE FROM alert_messages WHERE number = 1 AND ts IS NULL AND channel = '' "
        "AND pending_post IS NULL AND problem_reported IS NULL"
    )
    op.execute(
        "UPDATE alert_messages SET claimed_by = NULL, lease_until = NULL WHERE number = 1 AND ts IS NULL"
    )
    op.drop_column("alert_messages", "slack_user_id")
    op.drop_column("alert_messages", "sent_at")
