"""each alert keeps how it ended: the balance, the level and why, as they were then

Revision ID: 0044_alert_ended_as
Revises: 0043_alert_message_snoozes
Create Date: 2026-12-03

A resolved copy whose edit was retried later was drawn from the account as it was by then: after a
new dip it read "Resolved: Acme Marketing has 40 credits, above its reminder level of 500". What a
copy says about the end of its alert is now what was true when the alert ended.
"""

import sqlalchemy as sa
from alembic import op

revision = "0044_alert_ended_as"
down_revision = "0043_alert_message_snoozes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("ended_balance", sa.BigInteger(), nullable=True))
    op.add_column("alerts", sa.Column("ended_level", sa.BigInteger(), nullable=True))
    op.add_column("alerts", sa.Column("ended_why", sa.String(10), nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "ended_why")
    op.drop_column("alerts", "ended_level")
    op.drop_column("alerts", "ended_balance")
