"""forecast warning: alert when an account's runway drops below a number of days

Revision ID: 0015_runway_warning
Revises: 0014_channel_recipients
Create Date: 2026-11-29

`accounts.runway_warning_days` is the optional warning (1 to 90 days; NULL is off). The pass keeps
`reminder_episodes.runway_floor` for accounts whose runway is below it: the balance that would
last those days at the recent rate. Both partial indexes hold only accounts with a warning, so
accounts without one cost the pass nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_runway_warning"
down_revision = "0014_channel_recipients"
branch_labels = None
depends_on = None

WARNED = "reminder_enabled AND runway_warning_days IS NOT NULL"
SHORT_RUNWAY = "runway_floor IS NOT NULL"


def upgrade() -> None:
    # Plain SQL: both databases add a column with its CHECK this way; SQLite has no ADD CONSTRAINT.
    op.execute(
        "ALTER TABLE accounts ADD COLUMN runway_warning_days INTEGER "
        "CONSTRAINT runway_warning_days_in_range CHECK (runway_warning_days BETWEEN 1 AND 90)"
    )
    op.add_column("reminder_episodes", sa.Column("runway_floor", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_accounts_runway_warning",
        "accounts",
        ["id"],
        sqlite_where=sa.text(WARNED),
        postgresql_where=sa.text(WARNED),
    )
    op.create_index(
        "ix_reminder_episodes_runway_floor",
        "reminder_episodes",
        ["account_id"],
        sqlite_where=sa.text(SHORT_RUNWAY),
        postgresql_where=sa.text(SHORT_RUNWAY),
    )


def downgrade() -> None:
    op.drop_index("ix_reminder_episodes_runway_floor", table_name="reminder_episodes")
    op.drop_index("ix_accounts_runway_warning", table_name="accounts")
    op.execute("ALTER TABLE reminder_episodes DROP COLUMN runway_floor")
    op.execute("ALTER TABLE accounts DROP COLUMN runway_warning_days")
