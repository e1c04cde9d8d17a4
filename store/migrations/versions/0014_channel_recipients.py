"""channel recipients: who added each recipient, and the posting problem an alert copy reported

Revision ID: 0014_channel_recipients
Revises: 0012_search_words
Create Date: 2026-11-29

A reminder can name a Slack channel. When the bot may not post there (not invited, archived),
whoever added the channel is told once: `reminder_recipients.added_by` names them and
`alert_messages.problem_reported` remembers which problem they were told about.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_channel_recipients"
down_revision = "0012_search_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reminder_recipients", sa.Column("added_by", sa.String(40), nullable=True))
    op.add_column("alert_messages", sa.Column("problem_reported", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_column("alert_messages", "problem_reported")
    op.drop_column("reminder_recipients", "added_by")
