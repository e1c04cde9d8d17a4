"""join the two heads main gained at once: reminder claims (0007) and top-up + Home indexes (0010, 0011)

Revision ID: 0011_join_heads
Revises: 0007_reminder_claims, 0011_home_summary_indexes
Create Date: 2026-11-29

0007 and 0010 were both written on top of 0005 and landed together, leaving `alembic upgrade
head` with two heads to choose from. The two branches touch different tables, so joining them
needs no schema change.
"""

revision = "0011_join_heads"
down_revision = ("0007_reminder_claims", "0011_home_summary_indexes")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
