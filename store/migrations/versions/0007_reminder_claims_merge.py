"""join the reminder-claims branch with the auto top-up and Home tab migrations

Revision ID: 0007_reminder_claims_merge
Revises: 0007_reminder_claims, 0011_home_summary_indexes
Create Date: 2026-11-29

0007_reminder_claims and 0010_auto_top_up both followed 0005 and landed the same hour; they touch
different tables, so either order gives the same schema. This revision makes one head again.
"""

revision = "0007_reminder_claims_merge"
down_revision = ("0007_reminder_claims", "0011_home_summary_indexes")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
